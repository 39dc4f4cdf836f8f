package democore

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPageShowsTenantHeaders(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Set("X-Tenant-Key", "acme")
	req.Header.Set("X-Tenant-Plan", "premium")
	req.Header.Set("X-Unrelated", "hidden")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	if !strings.Contains(body, "tenant acme") || !strings.Contains(body, "premium") {
		t.Errorf("page does not show tenant headers:\n%s", body)
	}
	if strings.Contains(body, "hidden") {
		t.Errorf("page shows an unrelated header")
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q", ct)
	}
}
