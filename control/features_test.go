package control

import (
	"testing"

	"github.com/estatecore/whitelabel"
)

func TestBranding(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("brand")
		id := idOf(e.createTenant(p, "brandy", nil))
		k := apiKey(p.key)

		g := e.must(200, "GET", tenantPath(id, "branding"), k, nil).obj(t)
		if b := g["brand_config"].(map[string]any); len(b) != 0 {
			t.Errorf("initial brand_config = %v, want {}", b)
		}
		// The reference document's branding update, verbatim.
		r := e.must(200, "PUT", tenantPath(id, "branding"), k, `{
			"colors": {"primary": "#ff6b35", "secondary": "#004e89"},
			"logo": {"primary": "https://cdn.acme.com/logo.png"},
			"typography": {"font_family_primary": "'Roboto', sans-serif"}
		}`)
		mustEqual(t, "ETag", r.header.Get("ETag"), `"2"`)
		g = e.must(200, "GET", tenantPath(id, "branding"), k, nil).obj(t)
		colors := g["brand_config"].(map[string]any)["colors"].(map[string]any)
		mustEqual(t, "colors.primary", colors["primary"], any("#ff6b35"))

		tests := []struct {
			name      string
			body      string
			want      int
			wantField string
		}{
			{"malformed", `{"colors":`, 400, ""},
			{"array", `["x"]`, 400, ""},
			{"string", `"x"`, 400, ""},
			{"null", `null`, 400, ""},
			{"unknown key", `{"colors":{},"custom_css":"body{}"}`, 400, "custom_css"},
			{"css injection in primary", `{"colors":{"primary":"red;}body{display:none"}}`, 400, "colors.primary"},
			{"control character in name", `{"name":"a\u0007b"}`, 400, "name"},
			{"all allowed keys", `{"name":"N","colors":{},"typography":{},"layout":{},"logo":{},"favicon":"https://cdn.acme.com/f.ico","email":{},"inject":true}`, 200, ""},
			{"favicon not a URL", `{"favicon":"f"}`, 400, "favicon"},
			{"inject not a boolean", `{"inject":{}}`, 400, "inject"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("PUT", tenantPath(id, "branding"), k, tc.body)
				if r.status != tc.want {
					t.Fatalf("PUT branding %s = %d, want %d\n%s", tc.body, r.status, tc.want, r.body)
				}
				if tc.want == 400 {
					if _, field := r.errCode(t); field != tc.wantField {
						t.Errorf("field = %q, want %q", field, tc.wantField)
					}
				}
			})
		}
	})
}

func TestFeatures(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("feat")
		id := idOf(e.createTenant(p, "featly", map[string]any{"feature_flags": map[string]any{"ai_analytics": true}}))
		k := apiKey(p.key)

		f := e.must(200, "GET", tenantPath(id, "features"), k, nil).obj(t)["features"].(map[string]any)
		check := func(f map[string]any, name string, value any, source string) {
			t.Helper()
			x, ok := f[name].(map[string]any)
			if !ok {
				t.Errorf("feature %s missing in %v", name, f)
				return
			}
			if x["value"] != value || x["source"] != source {
				t.Errorf("feature %s = %v/%v, want %v/%s", name, x["value"], x["source"], value, source)
			}
		}
		check(f, "ai_analytics", true, "override")
		check(f, "sso", false, "plan")
		check(f, "max_properties", float64(50), "plan")

		f = e.must(200, "PUT", tenantPath(id, "features", "max_properties"), k, `{"value": 200}`).obj(t)["features"].(map[string]any)
		check(f, "max_properties", float64(200), "override")
		f = e.must(200, "PUT", tenantPath(id, "features", "theme_variant"), k, `{"value": "dark"}`).obj(t)["features"].(map[string]any)
		check(f, "theme_variant", "dark", "override")
		f = e.must(200, "DELETE", tenantPath(id, "features", "max_properties"), k, nil).obj(t)["features"].(map[string]any)
		check(f, "max_properties", float64(50), "plan")
		e.must(404, "DELETE", tenantPath(id, "features", "max_properties"), k, nil)

		bad := []struct {
			name, path, body, field string
		}{
			{"null value", "sso", `{"value": null}`, "value"},
			{"missing value", "sso", `{}`, "value"},
			{"array value", "sso", `{"value": [true]}`, "value"},
			{"object value", "sso", `{"value": {}}`, "value"},
			{"unknown field", "sso", `{"value": true, "extra": 1}`, "extra"},
			{"bad name", "Bad-Name", `{"value": true}`, "name"},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				r := e.must(400, "PUT", tenantPath(id, "features", tc.path), k, tc.body)
				if _, field := r.errCode(t); field != tc.field {
					t.Errorf("field = %q, want %q", field, tc.field)
				}
			})
		}
		// The tenant document shows the effective value.
		tn := e.must(200, "GET", tenantPath(id), k, nil).obj(t)
		mustEqual(t, "tenant features.theme_variant", tn["features"].(map[string]any)["theme_variant"], any("dark"))
	})
}

func TestQuotas(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("quota")
		id := idOf(e.createTenant(p, "quotaco", nil))
		k := apiKey(p.key)

		q := e.must(200, "GET", tenantPath(id, "quotas"), k, nil).obj(t)["quotas"].(map[string]any)
		api := q["api_calls_monthly"].(map[string]any)
		mustEqual(t, "api_calls_monthly.limit", api["limit"], any(float64(100000)))
		mustEqual(t, "api_calls_monthly.source", api["source"], any("plan"))
		// Nothing metered yet: used 0 this month (usage.go fills it).
		if v, ok := api["used"]; !ok || v != any(float64(0)) || api["reset"] == nil {
			t.Errorf("used = %v (present %v), reset %v; want 0 and a reset time", v, ok, api["reset"])
		}

		q = e.must(200, "PUT", tenantPath(id, "quotas", "storage_gb"), k, `{"value": 100}`).obj(t)["quotas"].(map[string]any)
		sg := q["storage_gb"].(map[string]any)
		mustEqual(t, "storage_gb", sg["limit"], any(float64(100)))
		mustEqual(t, "storage_gb source", sg["source"], any("override"))
		e.must(200, "PUT", tenantPath(id, "quotas", "api_calls_monthly"), k, `{"value": 1e6}`)
		e.must(200, "PUT", tenantPath(id, "quotas", "custom_domains"), k, `{"value": 0}`)

		for _, tc := range []struct{ name, body string }{
			{"negative", `{"value": -1}`},
			{"fraction", `{"value": 1.5}`},
			{"string", `{"value": "10"}`},
			{"bool", `{"value": true}`},
			{"null", `{"value": null}`},
			{"missing", `{}`},
			{"too big", `{"value": 1e30}`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.must(400, "PUT", tenantPath(id, "quotas", "storage_gb"), k, tc.body)
				if _, field := r.errCode(t); field != "value" {
					t.Errorf("field = %q, want value", field)
				}
			})
		}
		q = e.must(200, "DELETE", tenantPath(id, "quotas", "storage_gb"), k, nil).obj(t)["quotas"].(map[string]any)
		mustEqual(t, "storage_gb after delete", q["storage_gb"].(map[string]any)["source"], any("plan"))
		e.must(404, "DELETE", tenantPath(id, "quotas", "storage_gb"), k, nil)
		tn := e.must(200, "GET", tenantPath(id), k, nil).obj(t)
		mustEqual(t, "tenant quotas.api_calls_monthly", tn["quotas"].(map[string]any)["api_calls_monthly"], any(float64(1e6)))
	})
}
