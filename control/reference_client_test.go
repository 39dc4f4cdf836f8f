package control

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/estatecore/whitelabel"
)

// pythonRequest sends what python-requests 2.31 sends for
// requests.post(url, headers={"X-API-Key": key}, json=data): its default
// headers, json.dumps spacing and Content-Length.
func pythonRequest(t *testing.T, method, url, key string, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = http.Header{
		"User-Agent":      {"python-requests/2.31.0"},
		"Accept-Encoding": {"gzip, deflate"},
		"Accept":          {"*/*"},
		"Connection":      {"keep-alive"},
		"X-Api-Key":       {key},
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// TestReferenceClient drives the API exactly as the reference document's
// EstateCorePartnerAPI does.
func TestReferenceClient(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("refclient")
		base := e.hs.URL + BasePath

		// api.create_tenant({...}) → requests.post(..., json=tenant_data)
		status, h, body := pythonRequest(t, "POST", base+"/tenants", p.key,
			`{"name": "New Client", "subdomain": "newclient", "contact_email": "admin@newclient.com"}`)
		if status != 201 {
			t.Fatalf("create_tenant = %d, want 201\n%s", status, body)
		}
		if ce := h.Get("Content-Encoding"); ce != "" {
			t.Errorf("Content-Encoding %q; the client would have to decode it", ce)
		}
		var tenant map[string]any // response.json()
		if err := json.Unmarshal(body, &tenant); err != nil {
			t.Fatalf("response.json(): %v", err)
		}
		mustEqual(t, "subdomain", tenant["subdomain"], any("newclient"))
		mustEqual(t, "name", tenant["name"], any("New Client"))
		mustEqual(t, "contact_email", tenant["contact_email"], any("admin@newclient.com"))
		mustEqual(t, "plan", tenant["plan"], any("basic"))
		if tenant["id"] == nil {
			t.Fatal("no id")
		}

		// api.get_tenant_analytics(tenant_id): not built yet; 404 with a
		// JSON body, so response.json() still works.
		status, h, body = pythonRequest(t, "GET", base+"/tenants/"+itoa(idOf(tenant))+"/analytics", p.key, "")
		if status != 404 {
			t.Errorf("get_tenant_analytics = %d, want 404", status)
		}
		if !strings.HasPrefix(h.Get("Content-Type"), "application/json") || !json.Valid(body) {
			t.Errorf("analytics 404 is not JSON: %s %s", h.Get("Content-Type"), body)
		}
	})
}

// TestReferenceClientPython runs the reference document's client, verbatim
// but for base_url, under a real Python with requests when one is
// installed.
func TestReferenceClientPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil || exec.Command(py, "-c", "import requests").Run() != nil {
		t.Skip("python3 with requests is not installed")
	}
	st := openSQLite(t)
	e := newEnv(t, st)
	p := e.createPartner("python")
	script := `
import json, sys, requests

class EstateCorePartnerAPI:
    def __init__(self, api_key):
        self.api_key = api_key
        self.base_url = sys.argv[1]

    def create_tenant(self, tenant_data):
        response = requests.post(
            f"{self.base_url}/tenants",
            headers={"X-API-Key": self.api_key},
            json=tenant_data
        )
        return response.json()

    def get_tenant_analytics(self, tenant_id):
        response = requests.get(
            f"{self.base_url}/tenants/{tenant_id}/analytics",
            headers={"X-API-Key": self.api_key}
        )
        return response.json()

api = EstateCorePartnerAPI(sys.argv[2])
tenant = api.create_tenant({
    "name": "New Client",
    "subdomain": "newclient",
    "contact_email": "admin@newclient.com"
})
analytics = api.get_tenant_analytics(tenant["id"])
print(json.dumps({"tenant": tenant, "analytics": analytics}))
`
	cmd := exec.CommandContext(t.Context(), py, "-c", script, e.hs.URL+BasePath, p.key)
	cmd.Env = append(os.Environ(), "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python client: %v\n%s", err, stderr.String())
	}
	var res struct {
		Tenant    map[string]any
		Analytics map[string]map[string]any
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("python output: %v\n%s", err, out)
	}
	mustEqual(t, "tenant.subdomain", res.Tenant["subdomain"], any("newclient"))
	mustEqual(t, "analytics.error.code", res.Analytics["error"]["code"], any("not_found"))
}
