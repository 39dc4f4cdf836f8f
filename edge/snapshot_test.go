package edge

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
)

func testBuilder() *snapshotBuilder {
	return &snapshotBuilder{plans: whitelabel.DefaultPlans(), baseDomain: "example.test"}
}

func TestSnapshotPatchCopyOnWrite(t *testing.T) {
	b := testBuilder()
	now := time.Unix(1000, 0)
	old := b.build(3, []whitelabel.TenantConfig{
		tenant(1, "acme", whitelabel.StatusActive, "props.acme.com"),
		tenant(2, "globex", whitelabel.StatusActive),
		tenant(3, "initech", whitelabel.StatusActive),
	}, now)

	// acme renames its subdomain and its custom domain moves to globex;
	// initech is deleted.
	acme := tenant(1, "acme2", whitelabel.StatusSuspended)
	acme.Tenant.TenantKey = "acme-key"
	globex := tenant(2, "globex", whitelabel.StatusActive, "props.acme.com")
	n := b.patch(old, 6, []whitelabel.TenantConfig{acme, globex}, []int64{3}, now.Add(time.Second))

	checks := []struct {
		name string
		snap *snapshot
		host string
		want int64 // 0: not found
	}{
		{"old acme", old, "acme.example.test", 1},
		{"old custom", old, "props.acme.com", 1},
		{"old initech", old, "initech.example.test", 3},
		{"new old name gone", n, "acme.example.test", 0},
		{"new renamed", n, "acme2.example.test", 1},
		{"new custom moved", n, "props.acme.com", 2},
		{"new initech gone", n, "initech.example.test", 0},
		{"new globex", n, "globex.example.test", 2},
	}
	for _, c := range checks {
		e := c.snap.lookupHost(c.host)
		var got int64
		if e != nil {
			got = e.tenant.ID
		}
		if got != c.want {
			t.Errorf("%s: lookupHost(%q) = %d, want %d", c.name, c.host, got, c.want)
		}
	}
	if n.version != 6 || n.tenants != 2 || old.version != 3 || old.tenants != 3 {
		t.Errorf("versions/tenants: new %d/%d old %d/%d", n.version, n.tenants, old.version, old.tenants)
	}
	if e := n.lookupKey("acme-key"); e == nil || e.status != whitelabel.StatusSuspended {
		t.Errorf("lookupKey(acme-key) = %+v", e)
	}
	if e := old.lookupKey("acme-key"); e == nil || e.status != whitelabel.StatusActive {
		t.Errorf("old lookupKey changed: %+v", e)
	}
	if n.lookupKey("initech-key") != nil || n.lookupID(3) != nil {
		t.Error("deleted tenant still indexed")
	}
}

func TestSnapshotSubdomainBeatsCustomDomain(t *testing.T) {
	b := testBuilder()
	s := b.build(1, []whitelabel.TenantConfig{
		tenant(1, "evil", whitelabel.StatusActive, "acme.example.test"),
		tenant(2, "acme", whitelabel.StatusActive),
	}, time.Now())
	if e := s.lookupHost("acme.example.test"); e == nil || e.tenant.ID != 2 {
		t.Fatalf("a custom domain took over a platform subdomain: %+v", e)
	}
}

func TestFeedFollowsChanges(t *testing.T) {
	src := activeSource()
	up := newUpstream(t, nil)
	e := startEdge(t, src, up.URL, nil)

	src.put(tenant(2, "globex", whitelabel.StatusActive))
	waitFor(t, "globex served", 5*time.Second, func() bool { return e.snap.Load().lookupHost("globex.example.test") != nil })
	if resp, body := e.do(t, "GET", "globex.example.test", "/", nil); resp.StatusCode != 200 {
		t.Fatalf("new tenant: %d %s", resp.StatusCode, body)
	}
	src.put(tenant(2, "globex", whitelabel.StatusSuspended))
	waitFor(t, "globex suspended", 5*time.Second, func() bool {
		return e.snap.Load().lookupHost("globex.example.test").status == whitelabel.StatusSuspended
	})
	if resp, _ := e.do(t, "GET", "globex.example.test", "/", nil); resp.StatusCode != 403 {
		t.Fatalf("suspended tenant: %d, want 403", resp.StatusCode)
	}
	src.remove(2)
	waitFor(t, "globex removed", 5*time.Second, func() bool { return e.snap.Load().lookupHost("globex.example.test") == nil })
	if got := counterValue(t, e.cfg.Registry, "whitelabel_edge_config_apply_delay_seconds", nil); got != 3 {
		t.Errorf("apply delay samples = %v, want 3", got)
	}
}

// TestFeedGapReloads: when the feed no longer holds the changes after the
// edge's version, the edge reloads everything.
func TestFeedGapReloads(t *testing.T) {
	src := activeSource()
	up := newUpstream(t, nil)
	src.setDown(true)
	dir := t.TempDir()
	// Start on a live source, then take it down so the next changes pile up.
	src.setDown(false)
	e := startEdge(t, src, up.URL, func(c *Config) { c.SnapshotPath = filepath.Join(dir, "snap.json") })
	src.setDown(true)
	src.put(tenant(2, "globex", whitelabel.StatusActive))
	src.put(tenant(3, "initech", whitelabel.StatusActive))
	src.trim(3) // the feed forgets versions 2 and 3
	src.put(tenant(4, "umbrella", whitelabel.StatusActive))
	src.setDown(false)
	waitFor(t, "full reload", 10*time.Second, func() bool { return e.snap.Load().version == 4 })
	for _, h := range []string{"globex.example.test", "initech.example.test", "umbrella.example.test"} {
		if e.snap.Load().lookupHost(h) == nil {
			t.Errorf("%s missing after the reload", h)
		}
	}
}

// TestFailStatic: with the store down the edge keeps serving; a new edge
// started while the store is down serves from the disk snapshot.
func TestFailStatic(t *testing.T) {
	src := newFakeSource(tenant(1, "acme", whitelabel.StatusActive), tenant(2, "paused", whitelabel.StatusMaintenance))
	up := newUpstream(t, nil)
	path := filepath.Join(t.TempDir(), "edge-snapshot.json")
	clock := time.Unix(1_700_000_000, 0)
	now := func() time.Time { return clock }
	e := startEdge(t, src, up.URL, func(c *Config) {
		c.SnapshotPath = path
		c.SnapshotWriteInterval = time.Millisecond
		c.PollInterval = 20 * time.Millisecond
		c.Now = now
	})
	waitFor(t, "snapshot file", 5*time.Second, func() bool { _, err := os.Stat(path); return err == nil })

	src.setDown(true)
	waitFor(t, "store error noticed", 5*time.Second, func() bool {
		return counterValue(t, e.cfg.Registry, "whitelabel_edge_store_errors_total", nil) > 0
	})
	for range 3 {
		if resp, body := e.do(t, "GET", "acme.example.test", "/", nil); resp.StatusCode != 200 {
			t.Fatalf("store down: %d %s, want 200 from the snapshot", resp.StatusCode, body)
		}
	}

	// A restart during the outage serves the disk snapshot.
	up2 := newUpstream(t, nil)
	e2 := startEdge(t, src, up2.URL, func(c *Config) {
		c.SnapshotPath = path
		c.Now = func() time.Time { return clock.Add(time.Minute) }
	})
	if resp, body := e2.do(t, "GET", "acme.example.test", "/", nil); resp.StatusCode != 200 || body != "upstream ok" {
		t.Fatalf("restart from disk: %d %s", resp.StatusCode, body)
	}
	if resp, _ := e2.do(t, "GET", "paused.example.test", "/", nil); resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("maintenance tenant from disk: %d", resp.StatusCode)
	}
	if up2.last(t).Header.Get("X-Tenant-Id") != "1" {
		t.Errorf("tenant headers from the disk snapshot: %v", up2.last(t).Header)
	}
	if age := counterValue(t, e2.cfg.Registry, "whitelabel_edge_snapshot_age_seconds", nil); age != 60 {
		t.Errorf("snapshot age = %v, want 60 (saved at the old clock, now one minute later)", age)
	}

	// Back up: both edges catch up.
	src.setDown(false)
	src.put(tenant(3, "later", whitelabel.StatusActive))
	for _, ed := range []*testEdge{e, e2} {
		waitFor(t, "catch up", 10*time.Second, func() bool { return ed.snap.Load().lookupHost("later.example.test") != nil })
	}
}

func TestNewFailsWithoutSourceOrSnapshot(t *testing.T) {
	src := activeSource()
	src.setDown(true)
	_, err := New(t.Context(), Config{Source: src, Plans: whitelabel.DefaultPlans(), Upstream: mustURL(t, "http://127.0.0.1:1"),
		SnapshotPath: filepath.Join(t.TempDir(), "missing.json")})
	if err == nil {
		t.Fatal("New with a dead source and no snapshot file succeeded")
	}
}

func TestConfigValidation(t *testing.T) {
	ok := Config{Source: activeSource(), Plans: whitelabel.DefaultPlans(), Upstream: mustURL(t, "http://127.0.0.1:1")}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"no source", func(c *Config) { c.Source = nil }},
		{"no plans", func(c *Config) { c.Plans = nil }},
		{"no upstream", func(c *Config) { c.Upstream = nil }},
		{"bad upstream scheme", func(c *Config) { c.Upstream = mustURL(t, "ftp://x") }},
		{"bad base domain", func(c *Config) { c.BaseDomain = "exa mple" }},
		{"base domain with port", func(c *Config) { c.BaseDomain = "example.com:80" }},
		{"bad route", func(c *Config) { c.Routes = []Route{{Name: "Bad Name", PathPrefix: "/"}} }},
		{"route without slash", func(c *Config) { c.Routes = []Route{{Name: "r", PathPrefix: "x"}} }},
		{"negative timeout", func(c *Config) { c.UpstreamTimeout = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			if _, err := New(t.Context(), c); err == nil {
				t.Errorf("New accepted an invalid config")
			}
		})
	}
	s, err := New(t.Context(), ok)
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.BaseDomain != "localhost" || s.cfg.APIHost != "api.localhost" || s.cfg.MetricsTenantCap != 1000 || s.cfg.UpstreamTimeout != 30*time.Second {
		t.Errorf("defaults: %+v", s.cfg)
	}
	if !s.Ready() {
		t.Error("Ready() = false after New")
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "http://x"+readyzPath, nil))
	if rec.Code != 200 {
		t.Errorf("readyz: %d", rec.Code)
	}
}

func timeNow() time.Time { return time.Now() }
