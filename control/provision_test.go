package control

import (
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
)

func TestProvisioning(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		const delay = 100 * time.Millisecond
		e := newEnv(t, st, func(c *Config) { c.ProvisionDelay = delay })
		e.runWorker()
		p := e.createPartner("prov")
		k := apiKey(p.key)

		// Manual first: any pass that activates auto has also seen manual
		// past its due time.
		manual := idOf(e.createTenant(p, "manual", map[string]any{"activate": false}))
		created := e.createTenant(p, "auto", nil)
		auto := idOf(created)
		mustEqual(t, "create status", created["status"], any("provisioning"))
		mustEqual(t, "create activation", created["activation"], any("automatic"))

		waitFor(t, "auto tenant to become active", 10*time.Second, func() bool {
			return e.must(200, "GET", tenantPath(auto), k, nil).obj(t)["status"] == "active"
		})
		mustEqual(t, "manual status", e.must(200, "GET", tenantPath(manual), k, nil).obj(t)["status"], any("provisioning"))

		// The activation is audited as the system.
		es, err := st.ListAudit(t.Context(), whitelabel.AuditFilter{TenantID: auto, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 || es[0].Actor != "system" || es[0].Action != "tenant.status" {
			t.Errorf("newest audit entry = %+v, want system tenant.status", es[0])
		}
		// A manual tenant is activated by a status change.
		e.must(200, "POST", tenantPath(manual, "status"), k, map[string]any{"status": "active"})
	})
}

// TestProvisioningSurvivesRestart creates tenants on a server whose worker
// never runs, then starts a second server on the same store: it must
// activate the automatic tenant and leave the manual one alone.
func TestProvisioningSurvivesRestart(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		first := newEnv(t, st, func(c *Config) { c.ProvisionDelay = time.Hour })
		p := first.createPartner("restart")
		manual := idOf(first.createTenant(p, "stay", map[string]any{"activate": false}))
		auto := idOf(first.createTenant(p, "go-live", nil))
		// A tenant suspended... cannot be; but a deactivated one must not
		// be resurrected by the worker.
		dead := idOf(first.createTenant(p, "dead", nil))
		first.must(200, "DELETE", tenantPath(dead), apiKey(p.key), nil)

		second := newEnv(t, st, func(c *Config) { c.ProvisionDelay = time.Hour })
		second.clock.Advance(2 * time.Hour) // the delay has passed since creation
		second.runWorker()
		k := apiKey(p.key)
		waitFor(t, "auto tenant to become active after restart", 10*time.Second, func() bool {
			return second.must(200, "GET", tenantPath(auto), k, nil).obj(t)["status"] == "active"
		})
		mustEqual(t, "manual status", second.must(200, "GET", tenantPath(manual), k, nil).obj(t)["status"], any("provisioning"))
		mustEqual(t, "deactivated status", second.must(200, "GET", tenantPath(dead), k, nil).obj(t)["status"], any("deactivated"))
	})
}

// TestProvisioningNotDue checks that the worker waits for the delay.
func TestProvisioningNotDue(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st, func(c *Config) { c.ProvisionDelay = time.Hour })
		p := e.createPartner("later")
		id := idOf(e.createTenant(p, "later", nil))
		manual := map[int64]bool{}
		if err := e.srv.provisionPass(t.Context(), manual); err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "status before delay", e.must(200, "GET", tenantPath(id), apiKey(p.key), nil).obj(t)["status"], any("provisioning"))
		e.clock.Advance(61 * time.Minute)
		if err := e.srv.provisionPass(t.Context(), manual); err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "status after delay", e.must(200, "GET", tenantPath(id), apiKey(p.key), nil).obj(t)["status"], any("active"))
	})
}
