package control

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/estatecore/whitelabel"
)

func TestTenantCRUD(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("acme")

		// The reference document's create body, verbatim.
		r := e.must(201, "POST", BasePath+"/tenants", apiKey(p.key), `{
			"name": "Acme Property Management",
			"subdomain": "acme",
			"contact_email": "admin@acme.com",
			"plan": "premium",
			"feature_flags": {"ai_analytics": true, "custom_domains": true},
			"brand_config": {"name": "Acme Properties", "colors": {"primary": "#ff6b35", "secondary": "#004e89"}}
		}`)
		tn := r.obj(t)
		id := idOf(tn)
		mustEqual(t, "Location", r.header.Get("Location"), tenantPath(id))
		mustEqual(t, "ETag", r.header.Get("ETag"), `"1"`)
		mustEqual(t, "display_name", tn["display_name"], any("Acme Property Management"))
		mustEqual(t, "name", tn["name"], any("Acme Property Management"))
		mustEqual(t, "status", tn["status"], any("provisioning"))
		mustEqual(t, "activation", tn["activation"], any("automatic"))
		mustEqual(t, "tenant_key", tn["tenant_key"], any("acme"))
		mustEqual(t, "plan", tn["plan"], any("premium"))
		mustEqual(t, "hostname", tn["hostname"], any("acme.estatecore.test"))
		mustEqual(t, "partner_id", tn["partner_id"], any(float64(p.id)))
		feats := tn["features"].(map[string]any)
		mustEqual(t, "features.ai_analytics", feats["ai_analytics"], any(true))
		mustEqual(t, "features.sso", feats["sso"], any(false))
		if tn["quotas"].(map[string]any)["requests_per_second"] != float64(50) {
			t.Errorf("quotas = %v, want premium's requests_per_second 50", tn["quotas"])
		}
		brand := tn["brand_config"].(map[string]any)
		mustEqual(t, "brand_config.name", brand["name"], any("Acme Properties"))

		// Default plan and activate:false.
		m := e.createTenant(p, "beta", map[string]any{"activate": false, "tenant_key": "beta_key", "organization_id": 777})
		mustEqual(t, "activation", m["activation"], any("manual"))
		mustEqual(t, "plan", m["plan"], any("basic"))
		mustEqual(t, "tenant_key", m["tenant_key"], any("beta_key"))
		mustEqual(t, "organization_id", m["organization_id"], any(float64(777)))

		// Get.
		g := e.must(200, "GET", tenantPath(id), apiKey(p.key), nil)
		mustEqual(t, "GET ETag", g.header.Get("ETag"), `"1"`)
		mustEqual(t, "GET subdomain", g.obj(t)["subdomain"], any("acme"))

		// List and status filter.
		l := e.must(200, "GET", BasePath+"/tenants", apiKey(p.key), nil).obj(t)
		if n := len(l["tenants"].([]any)); n != 2 {
			t.Errorf("list has %d tenants, want 2", n)
		}
		l = e.must(200, "GET", BasePath+"/tenants?status=active", apiKey(p.key), nil).obj(t)
		if n := len(l["tenants"].([]any)); n != 0 {
			t.Errorf("list ?status=active has %d tenants, want 0", n)
		}
		e.must(400, "GET", BasePath+"/tenants?status=bogus", apiKey(p.key), nil)

		// Patch.
		pr := e.must(200, "PATCH", tenantPath(id), apiKey(p.key), map[string]any{"name": "Acme PM", "contact_email": "it@acme.com", "plan": "enterprise"})
		pt := pr.obj(t)
		mustEqual(t, "patched display_name", pt["display_name"], any("Acme PM"))
		mustEqual(t, "patched contact_email", pt["contact_email"], any("it@acme.com"))
		mustEqual(t, "patched plan", pt["plan"], any("enterprise"))
		mustEqual(t, "patched ETag", pr.header.Get("ETag"), `"2"`)
		mustEqual(t, "enterprise sso", pt["features"].(map[string]any)["sso"], any(true))
		r = e.must(400, "PATCH", tenantPath(id), apiKey(p.key), map[string]any{"plan": "gold"})
		if code, field := r.errCode(t); code != "invalid_input" || field != "plan" {
			t.Errorf("unknown plan: %s/%s", code, field)
		}
		r = e.must(400, "PATCH", tenantPath(id), apiKey(p.key), map[string]any{"subdomain": "other"})
		if _, field := r.errCode(t); field != "subdomain" {
			t.Errorf("patch subdomain field = %q, want subdomain (unknown field)", field)
		}

		// Delete deactivates and returns the tenant.
		d := e.must(200, "DELETE", tenantPath(id), apiKey(p.key), nil).obj(t)
		mustEqual(t, "deleted status", d["status"], any("deactivated"))
		r = e.must(409, "DELETE", tenantPath(id), apiKey(p.key), nil)
		if code, _ := r.errCode(t); code != "invalid_transition" {
			t.Errorf("second delete code = %s", code)
		}
		e.must(409, "PATCH", tenantPath(id), apiKey(p.key), map[string]any{"name": "again"})
		e.must(200, "GET", tenantPath(id), apiKey(p.key), nil)
		e.must(404, "GET", tenantPath(999999), apiKey(p.key), nil)
		e.must(404, "GET", BasePath+"/tenants/abc", apiKey(p.key), nil)
	})
}

func TestAdminTenants(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		a, b := e.createPartner("pa"), e.createPartner("pb")
		e.createTenant(a, "alpha", nil)
		e.createTenant(b, "bravo", nil)

		r := e.must(400, "POST", BasePath+"/tenants", admin, map[string]any{"name": "X", "subdomain": "xray", "contact_email": "a@b.co"})
		if _, field := r.errCode(t); field != "partner_id" {
			t.Errorf("admin create without partner_id: field %q", field)
		}
		e.must(400, "POST", BasePath+"/tenants", admin, map[string]any{"name": "X", "subdomain": "xray", "contact_email": "a@b.co", "partner_id": 99999})
		m := e.must(201, "POST", BasePath+"/tenants", admin, map[string]any{"name": "X", "subdomain": "xray", "contact_email": "a@b.co", "partner_id": b.id}).obj(t)
		mustEqual(t, "admin-created partner_id", m["partner_id"], any(float64(b.id)))

		// A partner may not create for another partner.
		e.must(400, "POST", BasePath+"/tenants", apiKey(a.key), map[string]any{"name": "Y", "subdomain": "yankee", "contact_email": "a@b.co", "partner_id": b.id})

		all := e.must(200, "GET", BasePath+"/tenants", admin, nil).obj(t)["tenants"].([]any)
		if len(all) != 3 {
			t.Errorf("admin list has %d tenants, want 3", len(all))
		}
		onlyB := e.must(200, "GET", fmt.Sprintf("%s/tenants?partner_id=%d", BasePath, b.id), admin, nil).obj(t)["tenants"].([]any)
		if len(onlyB) != 2 {
			t.Errorf("admin list ?partner_id=b has %d tenants, want 2", len(onlyB))
		}
		// Admin acts on any tenant.
		e.must(200, "PATCH", tenantPath(idOf(m)), admin, map[string]any{"name": "X-Ray"})
	})
}

func TestPagination(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("pager")
		for i := range 5 {
			e.createTenant(p, fmt.Sprintf("page%d", i), nil)
		}
		var seen []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
			m := e.must(200, "GET", BasePath+"/tenants?limit=2&cursor="+cursor, apiKey(p.key), nil).obj(t)
			for _, x := range m["tenants"].([]any) {
				seen = append(seen, x.(map[string]any)["subdomain"].(string))
			}
			next, _ := m["next_cursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		if got := strings.Join(seen, ","); got != "page0,page1,page2,page3,page4" {
			t.Errorf("paged subdomains = %s", got)
		}
		e.must(400, "GET", BasePath+"/tenants?limit=0", apiKey(p.key), nil)
		e.must(400, "GET", BasePath+"/tenants?limit=x", apiKey(p.key), nil)
		e.must(400, "GET", BasePath+"/tenants?cursor=abc", apiKey(p.key), nil)
	})
}

func TestCrossPartnerIsolation(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		a, b := e.createPartner("aa"), e.createPartner("bb")
		ta := idOf(e.createTenant(a, "tenant-a", nil))
		tb := idOf(e.createTenant(b, "tenant-b", nil))

		var tenantRoutes []route
		for _, rt := range e.srv.routes {
			if strings.Contains(rt.Path, "{id}") && strings.HasPrefix(rt.Path, BasePath+"/tenants/") {
				tenantRoutes = append(tenantRoutes, rt)
			}
		}
		if len(tenantRoutes) < 12 {
			t.Fatalf("found only %d tenant routes", len(tenantRoutes))
		}
		bodies := map[string]any{
			"PATCH":  map[string]any{"name": "stolen"},
			"POST":   map[string]any{"status": "suspended"},
			"PUT":    map[string]any{"value": 1},
			"DELETE": nil,
		}
		for _, rt := range tenantRoutes {
			path := strings.NewReplacer("{id}", fmt.Sprint(ta), "{name}", "sso").Replace(rt.Path)
			body := bodies[rt.Method]
			if strings.HasSuffix(rt.Path, "/branding") {
				body = map[string]any{"name": "stolen"}
			}
			t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
				r := e.do(rt.Method, path, apiKey(b.key), body)
				if r.status != http.StatusNotFound {
					t.Fatalf("partner B %s %s = %d, want 404\n%s", rt.Method, path, r.status, r.body)
				}
				if code, _ := r.errCode(t); code != "not_found" {
					t.Errorf("code = %s, want not_found", code)
				}
			})
		}
		// A's tenant is untouched.
		ga := e.must(200, "GET", tenantPath(ta), apiKey(a.key), nil).obj(t)
		mustEqual(t, "A's name", ga["display_name"], any("Tenant tenant-a"))
		mustEqual(t, "A's version", ga["version"], any(float64(1)))

		for _, who := range []struct {
			name string
			p    partner
			own  int64
		}{{"a", a, ta}, {"b", b, tb}} {
			l := e.must(200, "GET", BasePath+"/tenants", apiKey(who.p.key), nil).obj(t)["tenants"].([]any)
			if len(l) != 1 || idOf(l[0].(map[string]any)) != who.own {
				t.Errorf("partner %s lists %v, want only tenant %d", who.name, l, who.own)
			}
			entries := e.must(200, "GET", BasePath+"/audit", apiKey(who.p.key), nil).obj(t)["entries"].([]any)
			for _, x := range entries {
				if tid := int64(x.(map[string]any)["tenant_id"].(float64)); tid != who.own {
					t.Errorf("partner %s sees audit entry of tenant %d", who.name, tid)
				}
			}
		}
		e.must(404, "GET", fmt.Sprintf("%s/audit?tenant_id=%d", BasePath, ta), apiKey(b.key), nil)
	})
}

func TestConcurrentCreateSameSubdomain(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("racer")
		const n = 20
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r := e.do("POST", BasePath+"/tenants", apiKey(p.key), map[string]any{
					"name": "Race", "subdomain": "contested", "contact_email": "a@b.co",
					"tenant_key": fmt.Sprintf("key-%d", i),
				})
				statuses[i] = r.status
			})
		}
		wg.Wait()
		count := map[int]int{}
		for _, s := range statuses {
			count[s]++
		}
		if count[201] != 1 || count[409] != n-1 {
			t.Errorf("statuses = %v, want one 201 and %d 409", count, n-1)
		}
	})
}

func TestLifecycle(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("life")
		// Each step runs on one tenant, in order.
		steps := []struct {
			name     string
			status   string
			want     int
			wantCode string
		}{
			{"provisioning to suspended refused", "suspended", 409, "invalid_transition"},
			{"provisioning to maintenance refused", "maintenance", 409, "invalid_transition"},
			{"provisioning to active", "active", 200, ""},
			{"active to active refused", "active", 409, "invalid_transition"},
			{"active to provisioning refused", "provisioning", 409, "invalid_transition"},
			{"active to suspended", "suspended", 200, ""},
			{"suspended to maintenance refused", "maintenance", 409, "invalid_transition"},
			{"suspended to active", "active", 200, ""},
			{"active to maintenance", "maintenance", 200, ""},
			{"maintenance to active", "active", 200, ""},
			{"unknown status", "sleeping", 400, "invalid_input"},
			{"empty status", "", 400, "invalid_input"},
			{"active to deactivated", "deactivated", 200, ""},
			{"deactivated to active refused", "active", 409, "invalid_transition"},
			{"deactivated to deactivated refused", "deactivated", 409, "invalid_transition"},
		}
		id := idOf(e.createTenant(p, "lifecycle", map[string]any{"activate": false}))
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				r := e.do("POST", tenantPath(id, "status"), apiKey(p.key), map[string]any{"status": s.status, "reason": "test"})
				if r.status != s.want {
					t.Fatalf("status %q = %d, want %d\n%s", s.status, r.status, s.want, r.body)
				}
				if s.wantCode != "" {
					if code, _ := r.errCode(t); code != s.wantCode {
						t.Errorf("code = %s, want %s", code, s.wantCode)
					}
				} else if got := r.obj(t)["status"]; got != s.status {
					t.Errorf("status = %v, want %s", got, s.status)
				}
			})
		}
		// Provisioning straight to deactivated is allowed too.
		id2 := idOf(e.createTenant(p, "shortlived", map[string]any{"activate": false}))
		e.must(200, "POST", tenantPath(id2, "status"), apiKey(p.key), map[string]any{"status": "deactivated"})
	})
}

func TestETagIfMatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("etag")
		id := idOf(e.createTenant(p, "etag", nil))
		k := apiKey(p.key)

		tests := []struct {
			name    string
			method  string
			path    string
			body    any
			ifMatch string
			want    int
		}{
			{"patch stale", "PATCH", tenantPath(id), map[string]any{"name": "n"}, `"7"`, 412},
			{"patch weak never matches", "PATCH", tenantPath(id), map[string]any{"name": "n"}, `W/"1"`, 412},
			{"patch current", "PATCH", tenantPath(id), map[string]any{"name": "n2"}, `"1"`, 200},
			{"patch old version now stale", "PATCH", tenantPath(id), map[string]any{"name": "n3"}, `"1"`, 412},
			{"patch list with current", "PATCH", tenantPath(id), map[string]any{"name": "n4"}, `"9", "2"`, 200},
			{"branding stale", "PUT", tenantPath(id, "branding"), map[string]any{"name": "B"}, `"2"`, 412},
			{"branding star", "PUT", tenantPath(id, "branding"), map[string]any{"name": "B"}, `*`, 200},
			{"feature stale", "PUT", tenantPath(id, "features", "sso"), map[string]any{"value": true}, `"1"`, 412},
			{"feature current", "PUT", tenantPath(id, "features", "sso"), map[string]any{"value": true}, `"4"`, 200},
			{"quota stale", "PUT", tenantPath(id, "quotas", "storage_gb"), map[string]any{"value": 9}, `"4"`, 412},
			{"status stale", "POST", tenantPath(id, "status"), map[string]any{"status": "active"}, `"1"`, 412},
			{"status current", "POST", tenantPath(id, "status"), map[string]any{"status": "active"}, `"5"`, 200},
			{"delete stale", "DELETE", tenantPath(id), nil, `"5"`, 412},
			{"delete current", "DELETE", tenantPath(id), nil, `"6"`, 200},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(tc.method, tc.path, k, tc.body, "If-Match", tc.ifMatch)
				if r.status != tc.want {
					t.Fatalf("%s %s If-Match %s = %d, want %d\n%s", tc.method, tc.path, tc.ifMatch, r.status, tc.want, r.body)
				}
				if tc.want == 412 {
					if code, _ := r.errCode(t); code != "precondition_failed" {
						t.Errorf("code = %s", code)
					}
				} else if r.header.Get("ETag") == "" {
					t.Error("no ETag on success")
				}
			})
		}
	})
}

// TestConcurrentUpdatesRetry sends overlapping changes without If-Match:
// each loses the compare-and-swap sometimes and must be retried, so all
// of them land.
func TestConcurrentUpdatesRetry(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("busy")
		id := idOf(e.createTenant(p, "busy", nil))
		const n = 5
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				statuses[i] = e.do("PUT", tenantPath(id, "features", fmt.Sprintf("flag_%d", i)), apiKey(p.key), `{"value": true}`).status
			})
		}
		wg.Wait()
		for i, s := range statuses {
			if s != 200 {
				t.Errorf("PUT flag_%d = %d, want 200", i, s)
			}
		}
		f := e.must(200, "GET", tenantPath(id, "features"), apiKey(p.key), nil).obj(t)["features"].(map[string]any)
		for i := range n {
			if _, ok := f[fmt.Sprintf("flag_%d", i)]; !ok {
				t.Errorf("flag_%d lost", i)
			}
		}
	})
}
