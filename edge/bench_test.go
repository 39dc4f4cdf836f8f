package edge

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
)

// benchTenants is the snapshot size for the resolution benchmarks:
// WL_BENCH_TENANTS, default one million.
func benchTenants() int {
	if n, err := strconv.Atoi(os.Getenv("WL_BENCH_TENANTS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

func benchConfigs(n int) []whitelabel.TenantConfig {
	tcs := make([]whitelabel.TenantConfig, n)
	for i := range n {
		name := fmt.Sprintf("t%07d", i)
		tc := tenant(int64(i+1), name, whitelabel.StatusActive)
		if i%10 == 0 { // one tenant in ten brings a custom domain
			tc.Domains = []whitelabel.TenantDomain{{ID: int64(i), TenantID: int64(i + 1), Domain: name + ".customer.test", Status: whitelabel.DomainActive}}
		}
		tcs[i] = tc
	}
	return tcs
}

var bigSnap = sync.OnceValue(func() *snapshot {
	return testBuilder().build(1, benchConfigs(benchTenants()), timeNow())
})

// BenchmarkResolve measures Host → tenant on a snapshot of
// benchTenants() tenants, hosts in mixed case with ports.
func BenchmarkResolve(b *testing.B) {
	snap := bigSnap()
	s := &Server{cfg: Config{APIHost: "api.example.test"}}
	n := benchTenants()
	reqs := make([]*http.Request, 4096)
	for i := range reqs {
		r := httptest.NewRequest("GET", "/", nil)
		id := (i * 7919) % n
		switch i % 4 {
		case 0:
			r.Host = fmt.Sprintf("t%07d.example.test", id)
		case 1:
			r.Host = fmt.Sprintf("T%07d.Example.Test:8443", id)
		case 2:
			r.Host = fmt.Sprintf("t%07d.customer.test", id-id%10)
		case 3:
			r.Host = "api.example.test"
			r.Header.Set("X-Tenant-Key", fmt.Sprintf("t%07d-key", id))
		}
		reqs[i] = r
	}
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if s.lookup(snap, reqs[i&4095]) == nil {
				b.Fatalf("no tenant for %s", reqs[i&4095].Host)
			}
			i++
		}
	})
	b.Run("lower-case-hit", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if s.lookup(snap, reqs[(i*4)&4095]) == nil {
				b.Fatal("miss")
			}
			i++
		}
	})
	miss := httptest.NewRequest("GET", "/", nil)
	miss.Host = "nobody.attacker.test"
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if s.lookup(snap, miss) != nil {
				b.Fatal("hit")
			}
		}
	})
}

// BenchmarkSnapshotBuild measures building a snapshot of
// benchTenants() tenants and reports the heap it holds per tenant
// (including the tenant configs themselves).
func BenchmarkSnapshotBuild(b *testing.B) {
	n := benchTenants()
	tcs := benchConfigs(n)
	bld := testBuilder()
	var before, after runtime.MemStats
	var snap *snapshot
	b.ReportAllocs()
	for b.Loop() {
		snap = nil
		runtime.GC()
		runtime.ReadMemStats(&before)
		snap = bld.build(1, tcs, timeNow())
		runtime.GC()
		runtime.ReadMemStats(&after)
	}
	runtime.KeepAlive(snap)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "heap-bytes/tenant")
	b.ReportMetric(float64(n), "tenants")
}

// BenchmarkSnapshotPatch measures applying one changed tenant to a
// snapshot of benchTenants() tenants (copy-on-write of its shards).
func BenchmarkSnapshotPatch(b *testing.B) {
	snap := bigSnap()
	bld := testBuilder()
	tc := tenant(42, "t0000041", whitelabel.StatusSuspended)
	b.ReportAllocs()
	for b.Loop() {
		bld.patch(snap, 2, []whitelabel.TenantConfig{tc}, nil, timeNow())
	}
}

// BenchmarkObserveRequest measures counting one finished request in the
// metrics: a tenant's series are found in its cache (metrics.go), not by
// label values.
func BenchmarkObserveRequest(b *testing.B) {
	s, err := New(b.Context(), Config{Source: newFakeSource(tenant(1, "acme", whitelabel.StatusActive)), Plans: whitelabel.DefaultPlans(),
		BaseDomain: "example.test", Upstream: mustURL(b, "http://127.0.0.1:1"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	st := &reqState{tenant: s.snap.Load().lookupHost("acme.example.test"), route: otherRoute, upstreamDur: time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		s.metrics.observeRequest(st, http.MethodGet, http.StatusOK, time.Millisecond)
	}
}

// BenchmarkHandler measures the whole chain, request id to proxy, with a
// tiny upstream on loopback; "refused" is a suspended tenant answered by
// the edge itself.
func BenchmarkHandler(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!doctype html><p>hello</p>")
	}))
	defer up.Close()
	src := newFakeSource(tenant(1, "acme", whitelabel.StatusActive), tenant(2, "paused", whitelabel.StatusSuspended))
	for i := range 10_000 {
		src.put(tenant(int64(i+10), fmt.Sprintf("bulk%05d", i), whitelabel.StatusActive))
	}
	s, err := New(b.Context(), Config{Source: src, Plans: whitelabel.DefaultPlans(), BaseDomain: "example.test",
		Upstream: mustURL(b, up.URL), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	for _, host := range []string{"acme.example.test", "paused.example.test"} {
		name := "proxied"
		if host == "paused.example.test" {
			name = "refused"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("GET", "/page", nil)
					req.Host = host
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 200 && rec.Code != 403 {
						b.Fatalf("status %d", rec.Code)
					}
				}
			})
		})
	}
}
