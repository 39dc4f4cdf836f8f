package control

import (
	"bytes"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/idp"
	"github.com/estatecore/whitelabel/internal/sealer"
)

func withSSO(t *testing.T) func(*Config) {
	sl, err := sealer.New("control-test-secret-key-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	return func(c *Config) {
		c.Sealer = sl
		c.Providers = idp.NewRegistry(idp.Options{AllowInsecureLoopback: true})
	}
}

func TestSSOConfigCRUD(t *testing.T) {
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st, withSSO(t))
		p, other := e.createPartner("acme"), e.createPartner("rival")
		id := idOf(e.createTenant(p, "acme", nil))
		path := tenantPath(id, "sso", "oidc")
		const secret = "super-secret-client-value-1234"
		good := map[string]any{"issuer": m.Issuer(), "client_id": m.ClientID, "client_secret": secret, "name": "Staff",
			"protected_paths": []string{"/app"}, "public_paths": []string{"/app/public"}, "allowed_email_domains": []string{"ACME.com"}}

		// Validation table.
		tests := []struct {
			name, provider string
			body           map[string]any
			field          string
		}{
			{"unknown provider", "ldap", map[string]any{}, "provider"},
			{"oidc without issuer", "oidc", map[string]any{"client_id": "x", "client_secret": "y"}, "issuer"},
			{"oidc without client_id", "oidc", map[string]any{"issuer": m.Issuer(), "client_secret": "y"}, "client_id"},
			{"oidc without secret", "oidc", map[string]any{"issuer": m.Issuer(), "client_id": "x"}, "client_secret"},
			{"oidc http issuer", "oidc", map[string]any{"issuer": "http://idp.example.com", "client_id": "x", "client_secret": "y"}, "issuer"},
			{"oidc issuer mismatch", "oidc", map[string]any{"issuer": m.Issuer() + "/", "client_id": "x", "client_secret": "y"}, "issuer"},
			{"oidc scopes without openid", "oidc", map[string]any{"issuer": m.Issuer(), "client_id": "x", "client_secret": "y", "scopes": []string{"email"}}, "scopes"},
			{"azure common", "azure_ad", map[string]any{"tenant_id": "common", "client_id": "x", "client_secret": "y"}, "tenant_id"},
			{"azure no tenant", "azure_ad", map[string]any{"client_id": "x", "client_secret": "y"}, "tenant_id"},
			{"google no domain", "google_workspace", map[string]any{"client_id": "x", "client_secret": "y"}, "hosted_domain"},
			{"okta bad domain", "okta", map[string]any{"domain": "https://x", "client_id": "x", "client_secret": "y"}, "domain"},
			{"onelogin no domain", "onelogin", map[string]any{"client_id": "x", "client_secret": "y"}, "domain"},
			{"saml no metadata", "saml", map[string]any{}, "idp_metadata_url"},
			{"saml bad metadata", "saml", map[string]any{"idp_metadata_xml": "<nope/>"}, "idp_metadata_xml"},
			{"bad path", "oidc", map[string]any{"issuer": m.Issuer(), "client_id": "x", "client_secret": "y", "protected_paths": []string{"app"}}, "protected_paths"},
			{"bad public path", "oidc", map[string]any{"issuer": m.Issuer(), "client_id": "x", "client_secret": "y", "public_paths": []string{"//x"}}, "public_paths"},
			{"bad domain", "oidc", map[string]any{"issuer": m.Issuer(), "client_id": "x", "client_secret": "y", "allowed_email_domains": []string{"a@b.com"}}, "allowed_email_domains"},
			{"idp-initiated on oidc", "oidc", map[string]any{"issuer": m.Issuer(), "client_id": "x", "client_secret": "y", "allow_idp_initiated": true}, "allow_idp_initiated"},
			{"unknown field", "oidc", map[string]any{"issuer": m.Issuer(), "bogus": 1}, "bogus"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.must(400, "PUT", tenantPath(id, "sso", tt.provider), apiKey(p.key), tt.body)
				if code, field := r.errCode(t); code != "invalid_input" || field != tt.field {
					t.Errorf("error = %s (%s), want invalid_input (%s)\n%s", code, field, tt.field, r.body)
				}
			})
		}

		// Create, read back: secret masked, never in any response.
		r := e.must(200, "PUT", path, apiKey(p.key), good)
		v := r.obj(t)
		if v["client_secret"] != "••••1234" || v["issuer"] != m.Issuer() || v["callback_url"] != "https://acme.estatecore.test/_edge/oidc/callback" {
			t.Errorf("PUT answer = %s", r.body)
		}
		for _, rr := range []*resp{r, e.must(200, "GET", path, apiKey(p.key), nil), e.must(200, "GET", tenantPath(id, "sso"), apiKey(p.key), nil),
			e.must(200, "GET", BasePath+"/audit", admin, nil)} {
			if bytes.Contains(rr.body, []byte(secret)) {
				t.Errorf("secret readable in a response: %s", rr.body)
			}
		}
		// Stored sealed: the raw row holds no plaintext.
		raw, err := st.(whitelabel.SSOConfigStore).GetSSOConfig(t.Context(), id, "oidc")
		if err != nil {
			t.Fatal(err)
		}
		if len(raw.SealedSecrets) == 0 || bytes.Contains(raw.SealedSecrets, []byte(secret)) || raw.AllowedEmailDomains[0] != "acme.com" {
			t.Errorf("stored row = %+v", raw)
		}
		// A masked secret sent back keeps the stored one.
		good["client_secret"] = "••••1234"
		good["name"] = "Renamed"
		e.must(200, "PUT", path, apiKey(p.key), good)
		test := e.must(200, "POST", path+"/test", apiKey(p.key), nil).obj(t)
		if u, _ := test["login_url"].(string); !strings.HasPrefix(u, m.AuthorizationEndpoint()) || !strings.Contains(u, "code_challenge=") {
			t.Errorf("test login_url = %v", test["login_url"])
		}
		// Isolation: another partner sees nothing.
		for _, c := range []struct{ method, path string }{{"GET", path}, {"GET", tenantPath(id, "sso")}, {"PUT", path}, {"DELETE", path}, {"POST", path + "/test"}} {
			var body any
			if c.method == "PUT" {
				body = good
			}
			e.must(404, c.method, c.path, apiKey(other.key), body)
		}
		// JWKS is public.
		if keys := e.must(200, "GET", BasePath+"/.well-known/jwks.json", noAuth, nil).obj(t)["keys"].([]any); len(keys) != 1 {
			t.Errorf("JWKS keys = %v", keys)
		}
		// Delete.
		e.must(200, "DELETE", path, apiKey(p.key), nil)
		e.must(404, "GET", path, apiKey(p.key), nil)
		e.must(404, "DELETE", path, apiKey(p.key), nil)
	})
}

func TestSSOWithoutSecretKey(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	p := e.createPartner("acme")
	id := idOf(e.createTenant(p, "acme", nil))
	r := e.must(503, "PUT", tenantPath(id, "sso", "oidc"), apiKey(p.key), map[string]any{"issuer": "https://x"})
	if !strings.Contains(string(r.body), "SECRET_KEY") {
		t.Errorf("503 body = %s, want it to name SECRET_KEY", r.body)
	}
}
