package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/internal/testenv"
	"github.com/estatecore/whitelabel/store/postgres"
	"github.com/estatecore/whitelabel/store/sqlite"
)

// openPair opens two handles on one store: one the test writes through
// (standing in for control, another process) and one the edge reads.
type openPair func(t *testing.T) (writer, reader whitelabel.Store)

func sqlitePair(t *testing.T) (whitelabel.Store, whitelabel.Store) {
	path := filepath.Join(t.TempDir(), "wl.db")
	open := func() whitelabel.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Config{Path: path, Migrate: true})
		if err != nil {
			t.Fatalf("sqlite.Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return open(), open()
}

func postgresPair(t *testing.T) (whitelabel.Store, whitelabel.Store) {
	url := testenv.PostgresURL(t)
	open := func() whitelabel.Store {
		s, err := postgres.Open(t.Context(), postgres.Config{URL: url, Migrate: true})
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return open(), open()
}

func TestPropagationSQLite(t *testing.T)   { testPropagation(t, sqlitePair) }
func TestPropagationPostgres(t *testing.T) { testPropagation(t, postgresPair) }

// testPropagation changes tenants through one store handle and measures
// how long the edge, reading through another, takes to serve each change.
func testPropagation(t *testing.T, pair openPair) {
	ctx := t.Context()
	w, r := pair(t)
	plain, key := whitelabel.NewAPIKey(0, time.Now())
	_ = plain
	p := &whitelabel.Partner{Name: "Partner", ContactEmail: "p@example.test", IsActive: true}
	if err := w.CreatePartner(ctx, p, &key, nil); err != nil {
		t.Fatalf("CreatePartner: %v", err)
	}
	acme := &whitelabel.Tenant{PartnerID: p.ID, TenantKey: "acme", DisplayName: "Acme", Subdomain: "acme",
		ContactEmail: "a@acme.test", Plan: "basic", Status: whitelabel.StatusActive, BrandConfig: json.RawMessage(`{}`)}
	if err := w.CreateTenant(ctx, acme, nil); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	up := newUpstream(t, nil)
	snapPath := filepath.Join(t.TempDir(), "snap.json")
	e := startEdge(t, r, up.URL, func(c *Config) {
		c.SnapshotPath = snapPath
		c.SnapshotWriteInterval = 10 * time.Millisecond
	})

	info := func(host string) (int, string) {
		resp, body := e.do(t, "GET", host, infoPath, nil)
		var pi publicInfo
		json.Unmarshal([]byte(body), &pi)
		return resp.StatusCode, pi.DisplayName
	}
	// served polls the edge over HTTP until cond holds and returns how long
	// after start it first did.
	served := func(what string, start time.Time, cond func() bool) time.Duration {
		t.Helper()
		deadline := start.Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("edge did not serve %s within 10s", what)
			}
			time.Sleep(500 * time.Microsecond)
		}
		return time.Since(start)
	}

	var delays []time.Duration
	// Modify: display name changes.
	for i := range 40 {
		acme.DisplayName = fmt.Sprintf("Acme %d", i)
		if err := w.UpdateTenant(ctx, acme, nil); err != nil {
			t.Fatalf("UpdateTenant: %v", err)
		}
		start := time.Now()
		want := acme.DisplayName
		delays = append(delays, served("rename "+want, start, func() bool { _, n := info("acme.example.test"); return n == want }))
	}
	// Create: new tenants become reachable.
	for i := range 5 {
		nt := &whitelabel.Tenant{PartnerID: p.ID, TenantKey: fmt.Sprintf("new%d", i), DisplayName: "New", Subdomain: fmt.Sprintf("new%d", i),
			ContactEmail: "n@new.test", Plan: "basic", Status: whitelabel.StatusActive, BrandConfig: json.RawMessage(`{}`)}
		if err := w.CreateTenant(ctx, nt, nil); err != nil {
			t.Fatalf("CreateTenant: %v", err)
		}
		start := time.Now()
		host := nt.Subdomain + ".example.test"
		delays = append(delays, served("new tenant "+host, start, func() bool { c, _ := info(host); return c == 200 }))
	}
	// Status: maintenance is enforced, then lifted.
	for i, st := range []whitelabel.TenantStatus{whitelabel.StatusMaintenance, whitelabel.StatusActive, whitelabel.StatusSuspended, whitelabel.StatusActive} {
		acme.Status = st
		if err := w.UpdateTenant(ctx, acme, nil); err != nil {
			t.Fatalf("UpdateTenant status %d: %v", i, err)
		}
		start := time.Now()
		want := map[whitelabel.TenantStatus]int{whitelabel.StatusActive: 200, whitelabel.StatusMaintenance: 503, whitelabel.StatusSuspended: 403}[st]
		delays = append(delays, served("status "+string(st), start, func() bool {
			resp, _ := e.do(t, "GET", "acme.example.test", "/", nil)
			return resp.StatusCode == want
		}))
	}
	// Domain: a verified custom domain starts serving.
	d := &whitelabel.TenantDomain{TenantID: acme.ID, Domain: "props.acme.test", Status: whitelabel.DomainActive, VerificationToken: whitelabel.RandomToken(32)}
	if err := w.CreateDomain(ctx, d, nil); err != nil {
		t.Fatalf("CreateDomain: %v", err)
	}
	start := time.Now()
	delays = append(delays, served("custom domain", start, func() bool { c, _ := info("props.acme.test"); return c == 200 }))
	if up.last(t).Header.Get("X-Tenant-Key") != "acme" {
		t.Errorf("upstream saw tenant %q, want acme", up.last(t).Header.Get("X-Tenant-Key"))
	}

	slices.Sort(delays)
	pct := func(p float64) time.Duration { return delays[min(len(delays)-1, int(p*float64(len(delays))))] }
	t.Logf("propagation over %d changes: p50 %v, p99 %v, max %v", len(delays), pct(0.50), pct(0.99), delays[len(delays)-1])
	if p99 := pct(0.99); p99 > 5*time.Second {
		t.Errorf("propagation p99 %v, want < 5s", p99)
	}

	// Fail static: the edge's store handle is closed; the edge keeps
	// serving and a fresh edge starts from the disk snapshot.
	waitFor(t, "snapshot file at the current version", 5*time.Second, func() bool {
		ed := &Server{cfg: Config{SnapshotPath: snapPath}, builder: *testBuilder()}
		snap, _, err := ed.readSnapshotFile()
		return err == nil && snap.version == e.snap.Load().version
	})
	r.Close()
	acme.DisplayName = "Acme while the edge's store is closed"
	if err := w.UpdateTenant(ctx, acme, nil); err != nil {
		t.Fatalf("UpdateTenant: %v", err)
	}
	waitFor(t, "store error noticed", 10*time.Second, func() bool {
		return counterValue(t, e.cfg.Registry, "whitelabel_edge_store_errors_total", nil) > 0
	})
	if resp, body := e.do(t, "GET", "props.acme.test", "/", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("store closed: %d %s, want 200 from the snapshot", resp.StatusCode, body)
	}
	e2 := startEdge(t, r, up.URL, func(c *Config) { c.SnapshotPath = snapPath; c.StoreTimeout = time.Second })
	if resp, body := e2.do(t, "GET", "new3.example.test", "/", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("restart from disk with the store closed: %d %s", resp.StatusCode, body)
	}
	_ = context.Background
}
