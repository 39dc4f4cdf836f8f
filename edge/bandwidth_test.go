package edge

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/edge/bandwidth"
	"github.com/estatecore/whitelabel/edge/ratelimit"
	"github.com/estatecore/whitelabel/internal/testenv"
)

// The tests give a tenant the smallest quota, 1 GB, and start its month
// 2 500 bytes short of it (a meter's count, or the fleet's key in
// Redis): the same as a tiny quota, without a test-only quota unit.
const (
	bwLimit   = bandwidth.GB
	bwHeadway = 2500
	bwBody    = 1000 // bytes of each /big response
)

// bwTenant is tenant 1, "acme", with bandwidth_gb_monthly = 1.
func bwTenant() whitelabel.TenantConfig {
	return limitedTenant(1, "acme", whitelabel.Quotas{whitelabel.QuotaBandwidthGBMonthly: 1})
}

// bwUpstream answers /big with bwBody bytes and anything else with 204.
func bwUpstream(t *testing.T) *upstream {
	big := strings.Repeat("x", bwBody)
	return newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Write([]byte(big))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// headwayMeter is a meter on clk whose tenant 1 has bwHeadway bytes left
// of bwLimit in now's month.
func headwayMeter(t *testing.T, clk *testClock, now time.Time) *bandwidth.Meter {
	t.Helper()
	clk.set(now)
	meter, err := bandwidth.New(bandwidth.Config{Now: clk.now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	meter.Add(1, now, bwLimit-bwHeadway)
	return meter
}

// testClock is an injectable clock for Config.Now.
type testClock struct{ ns atomic.Int64 }

func (c *testClock) now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

// wantBandwidthRefusal checks a 429 quota_exceeded answer resetting at
// reset.
func wantBandwidthRefusal(t *testing.T, resp *http.Response, body string, reset time.Time) {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want 429; body %s", resp.StatusCode, body)
	}
	var b errorBody
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if b.Error.Code != whitelabel.CodeQuotaExceeded || b.Error.Reset != reset.Format(time.RFC3339) {
		t.Errorf("error = %+v, want code quota_exceeded, reset %s", b.Error, reset.Format(time.RFC3339))
	}
	if !strings.Contains(b.Error.Message, "bandwidth") {
		t.Errorf("message %q does not name the bandwidth quota", b.Error.Message)
	}
	p := quota(t, resp.Header, ratelimit.PolicyBandwidth)
	if p.Remaining != 0 || p.Unit != ratelimit.UnitContentBytes || p.Quota != bwLimit {
		t.Errorf("bandwidth policy %+v, want %d content-bytes with 0 remaining", p, bwLimit)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || time.Duration(ra)*time.Second != p.ResetAfter {
		t.Errorf("Retry-After = %q, want whole seconds ≥ 1, equal to the policy's t (%s)", resp.Header.Get("Retry-After"), p.ResetAfter)
	}
}

// TestBandwidthQuotaLocal: one edge counts bodies in and out, refuses
// once the month's bytes reach the quota, says when it resets, and
// serves again when the next UTC month begins.
func TestBandwidthQuotaLocal(t *testing.T) {
	clk := &testClock{}
	may := time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)
	june := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	meter := headwayMeter(t, clk, may)
	e := startEdge(t, newFakeSource(bwTenant(), tenant(2, "other", whitelabel.StatusActive)), bwUpstream(t).URL, func(c *Config) {
		c.Bandwidth = meter
		c.Now = clk.now
		c.RateLimitPolicyAlways = true // the window and quota on allowed answers too
	})
	// 2 500 bytes left: three 1 000-byte responses pass (the third
	// overshoots by 500), the fourth request is refused.
	for i, wantRemaining := range []int64{bwHeadway, bwHeadway - bwBody, bwHeadway - 2*bwBody} {
		resp, body := e.do(t, "GET", "acme.example.test", "/big", nil)
		if resp.StatusCode != http.StatusOK || len(body) != bwBody {
			t.Fatalf("request %d: status %d, %d bytes; want 200 with %d", i+1, resp.StatusCode, len(body), bwBody)
		}
		if p := quota(t, resp.Header, ratelimit.PolicyBandwidth); p.Remaining != wantRemaining || p.Quota != bwLimit {
			t.Errorf("request %d: bandwidth policy %+v, want q=%d r=%d", i+1, p, bwLimit, wantRemaining)
		}
	}
	resp, body := e.do(t, "GET", "acme.example.test", "/big", nil)
	wantBandwidthRefusal(t, resp, body, june)
	if got, _ := meter.Used(1, may); got < bwLimit {
		t.Errorf("meter used %d, want ≥ the limit %d", got, bwLimit)
	}
	// Another tenant is not affected; the limited one stays refused.
	if resp, _ := e.do(t, "GET", "other.example.test", "/big", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("other tenant: status %d, want 200", resp.StatusCode)
	}
	resp, body = e.do(t, "GET", "acme.example.test", "/empty", nil)
	wantBandwidthRefusal(t, resp, body, june)

	// The next UTC month starts from zero.
	clk.set(june.Add(time.Second))
	resp, _ = e.do(t, "GET", "acme.example.test", "/big", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after the month rolled over: status %d, want 200", resp.StatusCode)
	}
	// June: a 30-day window, reset at 1 July.
	if p := quota(t, resp.Header, ratelimit.PolicyBandwidth); p.Window != 30*24*time.Hour || p.ResetAfter != 30*24*time.Hour-time.Second || p.Remaining != bwLimit {
		t.Errorf("June: bandwidth policy %+v, want w=30 days, t=1 July, the whole quota %d left", p, bwLimit)
	}
}

// TestBandwidthCountsRequestBodies: bytes in count as well as bytes out.
func TestBandwidthCountsRequestBodies(t *testing.T) {
	now := time.Now()
	meter, err := bandwidth.New(bandwidth.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	e := startEdge(t, newFakeSource(bwTenant()), up.URL, func(c *Config) { c.Bandwidth = meter })
	req, _ := http.NewRequest("POST", e.URL+"/upload", strings.NewReader(strings.Repeat("y", 777)))
	req.Host = "acme.example.test"
	if resp, _ := e.send(t, req); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d, want 204", resp.StatusCode)
	}
	// The count is added after the response is written: poll.
	waitFor(t, "the upload to be counted", 2*time.Second, func() bool { u, _ := meter.Used(1, now); return u == 777 })
}

// bwKey is the fleet key of tenant 1 this month under prefix.
func bwKey(prefix string, now time.Time) string {
	return prefix + "{1}:" + now.UTC().Format("2006-01")
}

// newFleetMeter is a meter on rc flushing every 20ms.
func newFleetMeter(t *testing.T, rc redis.UniversalClient, prefix string) *bandwidth.Meter {
	t.Helper()
	m, err := bandwidth.New(bandwidth.Config{
		Redis: rc, KeyPrefix: prefix, FlushInterval: 20 * time.Millisecond, Timeout: 200 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBandwidthFleetRedis: two edges on one Redis share the count, so
// edge A's traffic makes edge B refuse once A has flushed.
func TestBandwidthFleetRedis(t *testing.T) {
	addr := testenv.RedisAddr(t)
	rc := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rc.Close() })
	prefix := fmt.Sprintf("wl:bwtest:%s:%d:", t.Name(), time.Now().UnixNano())
	now := time.Now()
	if err := rc.Set(t.Context(), bwKey(prefix, now), bwLimit-bwHeadway, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	up := bwUpstream(t)
	src := newFakeSource(bwTenant())
	a := startEdge(t, src, up.URL, func(c *Config) { c.Bandwidth = newFleetMeter(t, rc, prefix) })
	b := startEdge(t, src, up.URL, func(c *Config) { c.Bandwidth = newFleetMeter(t, rc, prefix) })

	// B learns the fleet's count (its /empty requests carry no bytes).
	waitFor(t, "edge B to read the fleet count", 5*time.Second, func() bool {
		resp, _ := b.do(t, "GET", "acme.example.test", "/empty", nil)
		return quota(t, resp.Header, ratelimit.PolicyBandwidth).Remaining == bwHeadway
	})
	for i := range 3 {
		if resp, _ := a.do(t, "GET", "acme.example.test", "/big", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("edge A request %d: status %d, want 200", i+1, resp.StatusCode)
		}
	}
	// A flushes its 3 000 bytes; B's next flush reads the total.
	var resp *http.Response
	var body string
	waitFor(t, "edge B to refuse after edge A's traffic", 5*time.Second, func() bool {
		resp, body = b.do(t, "GET", "acme.example.test", "/empty", nil)
		return resp.StatusCode != http.StatusNoContent
	})
	reset := time.Date(now.UTC().Year(), now.UTC().Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, 0)
	wantBandwidthRefusal(t, resp, body, reset)
	if v, err := rc.Get(t.Context(), bwKey(prefix, now)).Int64(); err != nil || v < bwLimit {
		t.Errorf("fleet key = %d, %v; want ≥ %d", v, err, bwLimit)
	}
}

// TestBandwidthRedisDown: with the fleet's Redis gone the edge keeps
// counting locally and refusing at the quota, never answers 5xx, and
// sends its counts when Redis is back.
func TestBandwidthRedisDown(t *testing.T) {
	rs := testenv.StartRedis(t)
	rc := rs.Client(t)
	prefix := "wl:bw:"
	now := time.Now()
	if err := rc.Set(t.Context(), bwKey(prefix, now), bwLimit-bwHeadway, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	e := startEdge(t, newFakeSource(bwTenant()), bwUpstream(t).URL, func(c *Config) { c.Bandwidth = newFleetMeter(t, rc, prefix) })
	waitFor(t, "the edge to read the fleet count", 5*time.Second, func() bool {
		resp, _ := e.do(t, "GET", "acme.example.test", "/empty", nil)
		return quota(t, resp.Header, ratelimit.PolicyBandwidth).Remaining == bwHeadway
	})
	rs.Stop()
	statuses := map[int]int{}
	for range 6 {
		resp, _ := e.do(t, "GET", "acme.example.test", "/big", nil)
		statuses[resp.StatusCode]++
	}
	if statuses[http.StatusOK] != 3 || statuses[http.StatusTooManyRequests] != 3 {
		t.Errorf("with Redis down: statuses %v, want 3 × 200 then 3 × 429 (counted locally)", statuses)
	}
	// Redis comes back empty (no persistence): the edge's pending bytes
	// arrive with its next flush.
	rs.Restart()
	waitFor(t, "the edge to flush to the restarted Redis", 5*time.Second, func() bool {
		v, err := rc.Get(t.Context(), bwKey(prefix, now)).Int64()
		return err == nil && v >= 3*bwBody
	})
}
