package control

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/estatecore/whitelabel"
)

func TestCreateValidation(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("valid")
		e.createTenant(p, "taken", nil)
		ok := `"name":"N","contact_email":"a@b.co"`
		tests := []struct {
			name      string
			body      string
			extra     []string
			want      int
			wantCode  string
			wantField string
		}{
			{"subdomain too short", `{` + ok + `,"subdomain":"ab"}`, nil, 400, "invalid_input", "subdomain"},
			{"subdomain too long", `{` + ok + `,"subdomain":"` + strings.Repeat("a", 64) + `"}`, nil, 400, "invalid_input", "subdomain"},
			{"subdomain uppercase", `{` + ok + `,"subdomain":"Acme"}`, nil, 400, "invalid_input", "subdomain"},
			{"subdomain reserved www", `{` + ok + `,"subdomain":"www"}`, nil, 400, "invalid_input", "subdomain"},
			{"subdomain reserved admin", `{` + ok + `,"subdomain":"admin"}`, nil, 400, "invalid_input", "subdomain"},
			{"subdomain leading hyphen", `{` + ok + `,"subdomain":"-acme"}`, nil, 400, "invalid_input", "subdomain"},
			{"subdomain trailing hyphen", `{` + ok + `,"subdomain":"acme-"}`, nil, 400, "invalid_input", "subdomain"},
			{"subdomain dot", `{` + ok + `,"subdomain":"a.cme"}`, nil, 400, "invalid_input", "subdomain"},
			{"subdomain missing", `{` + ok + `}`, nil, 400, "invalid_input", "subdomain"},
			{"subdomain taken", `{` + ok + `,"subdomain":"taken","tenant_key":"other"}`, nil, 409, "conflict", "subdomain"},
			{"tenant key taken", `{` + ok + `,"subdomain":"fresh","tenant_key":"taken"}`, nil, 409, "conflict", "tenant_key"},
			{"bad email", `{"name":"N","subdomain":"okay","contact_email":"not-an-email"}`, nil, 400, "invalid_input", "contact_email"},
			{"email with display name", `{"name":"N","subdomain":"okay","contact_email":"Bob <b@c.de>"}`, nil, 400, "invalid_input", "contact_email"},
			{"missing name", `{"subdomain":"okay","contact_email":"a@b.co"}`, nil, 400, "invalid_input", "name"},
			{"unknown plan", `{` + ok + `,"subdomain":"okay","plan":"gold"}`, nil, 400, "invalid_input", "plan"},
			{"unknown field", `{` + ok + `,"subdomain":"okay","colour":"red"}`, nil, 400, "invalid_input", "colour"},
			{"wrong type name", `{"name":42,"subdomain":"okay","contact_email":"a@b.co"}`, nil, 400, "invalid_input", "name"},
			{"wrong type activate", `{` + ok + `,"subdomain":"okay","activate":"yes"}`, nil, 400, "invalid_input", "activate"},
			{"bad flag value", `{` + ok + `,"subdomain":"okay","feature_flags":{"sso":[1]}}`, nil, 400, "invalid_input", "feature_flags.sso"},
			{"bad flag name", `{` + ok + `,"subdomain":"okay","feature_flags":{"Bad-Name":true}}`, nil, 400, "invalid_input", "feature_flags.Bad-Name"},
			{"negative quota", `{` + ok + `,"subdomain":"okay","resource_quotas":{"storage_gb":-1}}`, nil, 400, "invalid_input", "resource_quotas.storage_gb"},
			{"brand not object", `{` + ok + `,"subdomain":"okay","brand_config":[1]}`, nil, 400, "invalid_input", "brand_config"},
			{"brand unknown key", `{` + ok + `,"subdomain":"okay","brand_config":{"custom_css":"x"}}`, nil, 400, "invalid_input", "brand_config.custom_css"},
			{"brand bad colour", `{` + ok + `,"subdomain":"okay","brand_config":{"colors":{"primary":"url(x)"}}}`, nil, 400, "invalid_input", "brand_config.colors.primary"},
			{"bad tenant key", `{` + ok + `,"subdomain":"okay","tenant_key":"UP"}`, nil, 400, "invalid_input", "tenant_key"},
			{"malformed json", `{"name":`, nil, 400, "invalid_input", ""},
			{"syntax error", `{"name" "x"}`, nil, 400, "invalid_input", ""},
			{"not an object", `[1,2]`, nil, 400, "invalid_input", ""},
			{"trailing data", `{` + ok + `,"subdomain":"okay"} {}`, nil, 400, "invalid_input", ""},
			{"empty body", ``, nil, 400, "invalid_input", ""},
			{"huge body", `{"name":"` + strings.Repeat("x", 1<<20+10) + `"}`, nil, 413, "payload_too_large", ""},
			{"text/plain", `{` + ok + `,"subdomain":"okay"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", ""},
			{"form", `a=b`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", ""},
			{"no content type", `{` + ok + `,"subdomain":"okay"}`, []string{"Content-Type", ""}, 415, "unsupported_media_type", ""},
			{"json with charset", `{` + ok + `,"subdomain":"charset"}`, []string{"Content-Type", "application/json; charset=utf-8"}, 201, "", ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("POST", BasePath+"/tenants", apiKey(p.key), tc.body, tc.extra...)
				if r.status != tc.want {
					t.Fatalf("status = %d, want %d\n%.300s", r.status, tc.want, r.body)
				}
				if tc.wantCode == "" {
					return
				}
				code, field := r.errCode(t)
				if code != tc.wantCode || field != tc.wantField {
					t.Errorf("error = %s/%q, want %s/%q\n%s", code, field, tc.wantCode, tc.wantField, r.body)
				}
			})
		}
	})
}

func TestRoutingErrors(t *testing.T) {
	e := newEnv(t, newMemStore())
	r := e.must(404, "GET", "/nope", admin, nil)
	if code, _ := r.errCode(t); code != "not_found" {
		t.Errorf("unknown route code %s", code)
	}
	e.must(404, "GET", BasePath+"/tenants/1/analytics", admin, nil)
	r = e.must(405, "PUT", BasePath+"/tenants", admin, `{}`)
	if code, _ := r.errCode(t); code != "method_not_allowed" {
		t.Errorf("405 code %s", code)
	}
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("Allow = %q", allow)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("405 Content-Type = %q", ct)
	}
	if r.header.Get("X-Request-ID") == "" {
		t.Error("no X-Request-ID on 405")
	}
	// A body on a route that takes none must still be JSON.
	e.must(415, "POST", BasePath+"/partners/1/deactivate", admin, "x", "Content-Type", "text/plain")
}

func TestHealth(t *testing.T) {
	st := newMemStore()
	e := newEnv(t, st)
	e.must(200, "GET", "/healthz", noAuth, nil)
	e.must(200, "GET", "/readyz", noAuth, nil)
	st.pingErr = errors.New("connection refused")
	if got := e.do("GET", "/readyz", noAuth, nil).obj(t)["status"]; got != "unavailable" {
		t.Errorf("readyz status = %v", got)
	}
	e.must(503, "GET", "/readyz", noAuth, nil)
	e.must(200, "GET", "/healthz", noAuth, nil)
}

// failingStore makes every tenant read fail with an internal error.
type failingStore struct{ *memStore }

func (failingStore) GetTenant(ctx contextT, id int64) (*whitelabel.Tenant, error) {
	return nil, errors.New("pq: secret connection detail")
}

func TestInternalErrorIsGeneric(t *testing.T) {
	e := newEnv(t, failingStore{newMemStore()})
	r := e.must(http.StatusInternalServerError, "GET", tenantPath(1), admin, nil, "X-Request-ID", "req-123")
	if strings.Contains(string(r.body), "secret") {
		t.Errorf("internal detail leaked: %s", r.body)
	}
	m := r.obj(t)["error"].(map[string]any)
	mustEqual(t, "code", m["code"], any("internal"))
	mustEqual(t, "request_id", m["request_id"], any("req-123"))
	mustEqual(t, "X-Request-ID", r.header.Get("X-Request-ID"), "req-123")
}
