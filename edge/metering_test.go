package edge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/edge/ratelimit"
	"github.com/estatecore/whitelabel/store/sqlite"
)

// flakyUsage fails its first writes the ways a store can: the first
// commits and then reports an error (the acknowledgement was lost), the
// second fails outright. Later writes pass through.
type flakyUsage struct {
	whitelabel.UsageWriter
	calls atomic.Int64
}

var errStoreDown = errors.New("usage store is down")

func (f *flakyUsage) WriteUsage(ctx context.Context, batch []whitelabel.UsageRecord) error {
	switch f.calls.Add(1) {
	case 1:
		if err := f.UsageWriter.WriteUsage(ctx, batch); err != nil {
			return err
		}
		return errStoreDown
	case 2:
		return errStoreDown
	}
	return f.UsageWriter.WriteUsage(ctx, batch)
}

// TestUsageTotalsExact sends known traffic for two tenants through the
// edge while the usage store fails (once after committing, once before)
// and checks that the store ends up with exactly that traffic.
func TestUsageTotalsExact(t *testing.T) {
	st, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "wl.db"), Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sink := &flakyUsage{UsageWriter: st}
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if strings.HasPrefix(r.URL.Path, "/fail") {
			w.WriteHeader(500)
		}
		io.WriteString(w, "0123456789") // 10 bytes out
	})
	src := newFakeSource(tenant(1, "acme", whitelabel.StatusActive), tenant(2, "globex", whitelabel.StatusActive))
	e := startEdge(t, src, up.URL, func(c *Config) {
		c.Usage = sink
		c.EdgeID = "edge-test"
		c.UsageFlushInterval = 50 * time.Millisecond
	})

	type want struct{ requests, errors, in, out int64 }
	var mu sync.Mutex
	wants := map[int64]*want{1: {}, 2: {}}
	var wg sync.WaitGroup
	for c := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				id := int64(1 + (c+i)%2)
				host := map[int64]string{1: "acme.example.test", 2: "globex.example.test"}[id]
				path := "/ok"
				if i%10 == 0 {
					path = "/fail"
				}
				body := strings.Repeat("x", i)
				req, _ := http.NewRequest("POST", e.URL+path, strings.NewReader(body))
				req.Host = host
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				w := wants[id]
				w.requests++
				w.in += int64(len(body))
				w.out += n
				if resp.StatusCode >= 500 {
					w.errors++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Requests for no tenant are not metered.
	e.do(t, "GET", "nobody.example.test", "/", nil)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if n := sink.calls.Load(); n < 3 {
		t.Errorf("usage store was written %d times, want at least 3 (two failures, then success)", n)
	}
	if s := e.UsageStats(); s.Dropped != 0 || s.Pending != 0 {
		t.Errorf("usage stats %+v, want nothing dropped or pending", s)
	}
	now := time.Now()
	for id, w := range wants {
		got, err := st.UsageTotal(ctx, id, now.Add(-time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if got.Requests != w.requests || got.UpstreamErrors != w.errors || got.BytesIn != w.in || got.BytesOut != w.out {
			t.Errorf("tenant %d: stored requests %d, errors %d, in %d, out %d; sent %d, %d, %d, %d",
				id, got.Requests, got.UpstreamErrors, got.BytesIn, got.BytesOut, w.requests, w.errors, w.in, w.out)
		}
		var lat int64
		for _, n := range got.Latency {
			lat += n
		}
		if lat != w.requests {
			t.Errorf("tenant %d: histogram holds %d requests, want %d", id, lat, w.requests)
		}
	}
}

// TestQuotaChangePropagates changes a tenant's quotas in the store and
// checks that the edge's limiter applies them within a second.
func TestQuotaChangePropagates(t *testing.T) {
	w, r := sqlitePair(t)
	ctx := t.Context()
	_, key := whitelabel.NewAPIKey(0, time.Now())
	p := &whitelabel.Partner{Name: "Partner", ContactEmail: "p@example.test", IsActive: true}
	if err := w.CreatePartner(ctx, p, &key, nil); err != nil {
		t.Fatal(err)
	}
	acme := &whitelabel.Tenant{PartnerID: p.ID, TenantKey: "acme", DisplayName: "Acme", Subdomain: "acme",
		ContactEmail: "a@acme.test", Plan: "basic", Status: whitelabel.StatusActive}
	if err := w.CreateTenant(ctx, acme, nil); err != nil {
		t.Fatal(err)
	}
	lim, err := ratelimit.NewLocal(ratelimit.LocalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t, nil)
	e := startEdge(t, r, up.URL, func(c *Config) { c.Limiter = lim; c.RateLimitPolicyAlways = true })
	resp, _ := e.do(t, "GET", "acme.example.test", "/", nil)
	if quota(t, resp.Header, ratelimit.PolicyMonthly).Quota != 100000 || quota(t, resp.Header, ratelimit.PolicyName).Quota != 20 {
		t.Fatalf("basic plan headers: %v", resp.Header)
	}
	acme.ResourceQuotas = whitelabel.Quotas{whitelabel.QuotaAPICallsMonthly: 50, whitelabel.QuotaRequestsPerSecond: 100_000, whitelabel.QuotaRequestsBurst: 100}
	if err := w.UpdateTenant(ctx, acme, nil); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	waitFor(t, "the new quotas at the edge", time.Second, func() bool {
		resp, _ := e.do(t, "GET", "acme.example.test", "/", nil)
		return quota(t, resp.Header, ratelimit.PolicyMonthly).Quota == 50 && quota(t, resp.Header, ratelimit.PolicyName).Quota == 100
	})
	t.Logf("quota change applied after %v", time.Since(changed).Round(time.Millisecond))
	refused := 0
	for range 200 {
		resp, body := e.do(t, "GET", "acme.example.test", "/", nil)
		if resp.StatusCode == 429 && errorCode(t, body) == "quota_exceeded" {
			refused++
		}
	}
	if refused == 0 {
		t.Errorf("no quota_exceeded after 200 requests against a monthly quota of 50")
	}
}
