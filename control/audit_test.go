package control

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/estatecore/whitelabel"
)

func TestAudit(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("auditor")
		q := e.createPartner("other")
		k := apiKey(p.key)
		cr := e.must(201, "POST", BasePath+"/tenants", k, map[string]any{
			"name": "Audited", "subdomain": "audited", "contact_email": "a@b.co", "activate": false,
		}, "X-Request-ID", "create-req-1")
		mustEqual(t, "echoed X-Request-ID", cr.header.Get("X-Request-ID"), "create-req-1")
		id := idOf(cr.obj(t))
		e.must(200, "PATCH", tenantPath(id), k, map[string]any{"name": "Audited Inc"}, "X-Request-ID", "patch-req-2")
		e.must(200, "POST", tenantPath(id, "status"), admin, map[string]any{"status": "active", "reason": "go live"})
		e.createTenant(q, "elsewhere", nil)

		// An invalid request ID is replaced, not echoed.
		r := e.must(200, "GET", BasePath+"/audit", admin, nil, "X-Request-ID", "bad id\twith tab")
		if got := r.header.Get("X-Request-ID"); got == "" || got == "bad id\twith tab" {
			t.Errorf("X-Request-ID = %q, want a generated one", got)
		}

		var all struct {
			Entries []whitelabel.AuditEntry `json:"entries"`
		}
		if err := json.Unmarshal(e.must(200, "GET", fmt.Sprintf("%s/audit?tenant_id=%d", BasePath, id), admin, nil).body, &all); err != nil {
			t.Fatal(err)
		}
		if len(all.Entries) != 3 {
			t.Fatalf("tenant has %d audit entries, want 3: %+v", len(all.Entries), all.Entries)
		}
		// Newest first: status, update, create.
		st0, up, cre := all.Entries[0], all.Entries[1], all.Entries[2]
		partnerActor := "partner:" + itoa(p.id)
		for _, c := range []struct {
			name             string
			e                whitelabel.AuditEntry
			actor, action    string
			requestID        string
			wantBefore       bool
			afterKey, afterV string
		}{
			{"create", cre, partnerActor, "tenant.create", "create-req-1", false, "activate", "false"},
			{"update", up, partnerActor, "tenant.update", "patch-req-2", true, "display_name", `"Audited Inc"`},
			{"status", st0, "admin", "tenant.status", "", true, "reason", `"go live"`},
		} {
			t.Run(c.name, func(t *testing.T) {
				mustEqual(t, "actor", c.e.Actor, c.actor)
				mustEqual(t, "action", c.e.Action, c.action)
				mustEqual(t, "target_type", c.e.TargetType, "tenant")
				mustEqual(t, "target_id", c.e.TargetID, itoa(id))
				mustEqual(t, "tenant_id", c.e.TenantID, id)
				mustEqual(t, "partner_id", c.e.PartnerID, p.id)
				mustEqual(t, "client_addr", c.e.ClientAddr, "127.0.0.1")
				if c.requestID != "" {
					mustEqual(t, "request_id", c.e.RequestID, c.requestID)
				} else if c.e.RequestID == "" {
					t.Error("no request_id")
				}
				if (len(c.e.Before) > 0) != c.wantBefore {
					t.Errorf("before = %s, want present %v", c.e.Before, c.wantBefore)
				}
				var after map[string]json.RawMessage
				if err := json.Unmarshal(c.e.After, &after); err != nil {
					t.Fatalf("after: %v", err)
				}
				mustEqual(t, "after."+c.afterKey, string(after[c.afterKey]), c.afterV)
			})
		}
		var before map[string]any
		json.Unmarshal(up.Before, &before)
		mustEqual(t, "update before.display_name", before["display_name"], any("Audited"))

		// The partner sees its own tenant's entries, not the other's, nor
		// platform-level ones; the admin sees all, including partner.create.
		pe := e.must(200, "GET", BasePath+"/audit", k, nil).obj(t)["entries"].([]any)
		if len(pe) != 3 {
			t.Errorf("partner sees %d entries, want 3", len(pe))
		}
		ae := e.must(200, "GET", BasePath+"/audit", admin, nil).obj(t)["entries"].([]any)
		actions := map[string]int{}
		for _, x := range ae {
			actions[x.(map[string]any)["action"].(string)]++
		}
		if actions["partner.create"] != 2 || actions["tenant.create"] != 2 {
			t.Errorf("admin audit actions = %v", actions)
		}

		// Cursor pagination walks all entries exactly once.
		seen := map[float64]bool{}
		cursor := ""
		for range 20 {
			m := e.must(200, "GET", BasePath+"/audit?limit=2&cursor="+cursor, admin, nil).obj(t)
			for _, x := range m["entries"].([]any) {
				id := x.(map[string]any)["id"].(float64)
				if seen[id] {
					t.Errorf("entry %v seen twice", id)
				}
				seen[id] = true
			}
			cursor, _ = m["next_cursor"].(string)
			if cursor == "" {
				break
			}
		}
		if len(seen) != len(ae) {
			t.Errorf("paged through %d entries, want %d", len(seen), len(ae))
		}
	})
}
