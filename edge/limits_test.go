package edge

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/edge/ratelimit"
	"github.com/estatecore/whitelabel/internal/testenv"
)

// limitedTenant is an active tenant with quota overrides.
func limitedTenant(id int64, name string, q whitelabel.Quotas) whitelabel.TenantConfig {
	tc := tenant(id, name, whitelabel.StatusActive)
	tc.Tenant.ResourceQuotas = q
	return tc
}

// loadResult counts the statuses of a load run.
type loadResult struct {
	mu       sync.Mutex
	statuses map[int]int
	elapsed  time.Duration
}

func (r *loadResult) count(code int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.statuses[code]
}

func (r *loadResult) fivexx() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for c, k := range r.statuses {
		if c >= 500 {
			n += k
		}
	}
	return n
}

// hammer sends GETs for host from clients goroutines, spread over urls,
// until dur has passed, and counts the statuses. elapsed runs from before
// the first request to after the last response, so a limiter that admits
// L/s with burst B admits at most L·elapsed + B.
func hammer(t *testing.T, urls []string, host string, clients int, dur time.Duration, during func(elapsed time.Duration)) *loadResult {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	res := &loadResult{statuses: map[int]int{}}
	var errs atomic.Int64
	start := time.Now()
	stop := start.Add(dur)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; time.Now().Before(stop); n++ {
				req, _ := http.NewRequest("GET", urls[(i+n)%len(urls)]+"/api/items", nil)
				req.Host = host
				resp, err := hc.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				res.mu.Lock()
				res.statuses[resp.StatusCode]++
				res.mu.Unlock()
			}
		}()
	}
	if during != nil {
		during(time.Since(start))
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	if n := errs.Load(); n > 0 {
		t.Errorf("%d requests failed at the transport", n)
	}
	return res
}

// checkAccuracy asserts allowed ∈ [0.95, 1.0] × (L·t + B).
func checkAccuracy(t *testing.T, res *loadResult, rate, burst float64) {
	t.Helper()
	allowed := res.count(200)
	want := rate*res.elapsed.Seconds() + burst
	ratio := float64(allowed) / want
	t.Logf("allowed %d, refused %d over %v: L·t+B = %.1f, ratio %.3f", allowed, res.count(429), res.elapsed.Round(time.Millisecond), want, ratio)
	if ratio < 0.95 || ratio > 1.0 {
		t.Errorf("allowed %d of L·t+B = %.1f (ratio %.3f), want ratio in [0.95, 1.0]", allowed, want, ratio)
	}
	if res.count(429) == 0 {
		t.Errorf("no request was refused: the load did not exceed the limit")
	}
	if n := res.fivexx(); n > 0 {
		t.Errorf("%d responses were 5xx", n)
	}
}

const (
	accRate  = 40
	accBurst = 20
	accDur   = 3 * time.Second
)

func accuracyTenant() whitelabel.TenantConfig {
	return limitedTenant(1, "acme", whitelabel.Quotas{
		whitelabel.QuotaRequestsPerSecond: accRate, whitelabel.QuotaRequestsBurst: accBurst, whitelabel.QuotaAPICallsMonthly: 0,
	})
}

// TestRateLimitAccuracyLocal: one edge with the local limiter admits
// L·t + B, within 5 %, under concurrent clients.
func TestRateLimitAccuracyLocal(t *testing.T) {
	lim, err := ratelimit.NewLocal(ratelimit.LocalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	e := startEdge(t, newFakeSource(accuracyTenant()), up.URL, func(c *Config) { c.Limiter = lim })
	res := hammer(t, []string{e.URL}, "acme.example.test", 8, accDur, nil)
	checkAccuracy(t, res, accRate, accBurst)
}

// TestRateLimitAccuracyRedisFleet: two edges sharing one Redis admit
// L·t + B together, not each.
func TestRateLimitAccuracyRedisFleet(t *testing.T) {
	rs := testenv.StartRedis(t)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	src := newFakeSource(accuracyTenant())
	var urls []string
	for range 2 {
		lim, err := ratelimit.NewRedis(ratelimit.RedisConfig{Client: rs.Client(t), FleetSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		e := startEdge(t, src, up.URL, func(c *Config) { c.Limiter = lim })
		urls = append(urls, e.URL)
	}
	res := hammer(t, urls, "acme.example.test", 8, accDur, nil)
	checkAccuracy(t, res, accRate, accBurst)
}

// TestRateLimitRedisOutage stops the fleet's Redis under load: no 5xx,
// the fallback decides meanwhile, and the limiter returns to Redis when
// it is back.
func TestRateLimitRedisOutage(t *testing.T) {
	rs := testenv.StartRedis(t)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	src := newFakeSource(accuracyTenant())
	var (
		urls []string
		lims []*ratelimit.Redis
	)
	for range 2 {
		lim, err := ratelimit.NewRedis(ratelimit.RedisConfig{
			Client: rs.Client(t), FleetSize: 2, Fallback: ratelimit.FallbackLocal,
			Timeout: 50 * time.Millisecond, BreakerBackoff: 100 * time.Millisecond, BreakerMaxBackoff: 200 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		lims = append(lims, lim)
		e := startEdge(t, src, up.URL, func(c *Config) { c.Limiter = lim })
		urls = append(urls, e.URL)
	}
	degraded := func() bool { return lims[0].Degraded() && lims[1].Degraded() }
	recovered := func() bool { return !lims[0].Degraded() && !lims[1].Degraded() }
	var sawDegraded, sawRecovered bool
	res := hammer(t, urls, "acme.example.test", 8, 4*time.Second, func(time.Duration) {
		time.Sleep(time.Second)
		rs.Stop()
		waitFor(t, "the fallback to engage", 2*time.Second, degraded)
		sawDegraded = true
		time.Sleep(time.Second)
		rs.Restart()
		waitFor(t, "the limiter to return to Redis", 3*time.Second, recovered)
		sawRecovered = true
	})
	t.Logf("statuses %v over %v", res.statuses, res.elapsed.Round(time.Millisecond))
	if !sawDegraded || !sawRecovered {
		t.Errorf("degraded seen %v, recovered seen %v; want both", sawDegraded, sawRecovered)
	}
	if n := res.fivexx(); n > 0 {
		t.Errorf("%d responses were 5xx during the Redis outage", n)
	}
	if res.count(200) == 0 || res.count(429) == 0 {
		t.Errorf("statuses %v: want both allowed and refused requests", res.statuses)
	}
	// Limits hold again after recovery: a fresh burst is cut at B.
	e0 := urls[0]
	refused := 0
	for range 3 * accBurst {
		req, _ := http.NewRequest("GET", e0+"/", nil)
		req.Host = "acme.example.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 429 {
			refused++
		}
	}
	if refused == 0 {
		t.Errorf("after recovery %d quick requests were all allowed; want refusals past the burst", 3*accBurst)
	}
}

// settableClock is a clock tests move by hand.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// TestMonthlyQuota: once api_calls_monthly is used up the tenant gets
// 429 quota_exceeded (JSON with the reset time, or the branded page)
// until the next UTC month, on the local and the Redis limiter.
func TestMonthlyQuota(t *testing.T) {
	for _, backend := range []string{"local", "redis"} {
		t.Run(backend, func(t *testing.T) {
			// Ten minutes before the end of this real month: Redis expires
			// the monthly counter on its own clock, an hour after the
			// month the edge's clock names.
			reset := whitelabel.MonthStart(time.Now()).AddDate(0, 1, 0)
			clock := &settableClock{t: reset.Add(-10 * time.Minute)}
			var lim ratelimit.Limiter
			var err error
			if backend == "local" {
				lim, err = ratelimit.NewLocal(ratelimit.LocalConfig{Now: clock.Now})
			} else {
				lim, err = ratelimit.NewRedis(ratelimit.RedisConfig{Client: testenv.StartRedis(t).Client(t), Now: clock.Now})
			}
			if err != nil {
				t.Fatal(err)
			}
			up := newUpstream(t, nil)
			src := newFakeSource(limitedTenant(1, "acme", whitelabel.Quotas{
				whitelabel.QuotaRequestsPerSecond: 0, whitelabel.QuotaAPICallsMonthly: 5,
			}))
			e := startEdge(t, src, up.URL, func(c *Config) { c.Limiter = lim; c.Now = clock.Now })
			for i := range 5 {
				resp, _ := e.do(t, "GET", "acme.example.test", "/", nil)
				if resp.StatusCode != 200 {
					t.Fatalf("request %d = %d, want 200", i+1, resp.StatusCode)
				}
				if got, want := quota(t, resp.Header, ratelimit.PolicyMonthly).Remaining, int64(4-i); got != want {
					t.Errorf("request %d: monthly remaining %d, want %d", i+1, got, want)
				}
			}
			for _, at := range []time.Time{clock.Now(), reset.Add(-time.Second)} {
				clock.Set(at)
				resp, body := e.do(t, "GET", "acme.example.test", "/", nil)
				if resp.StatusCode != 429 || errorCode(t, body) != "quota_exceeded" {
					t.Fatalf("at %v: %d %s, want 429 quota_exceeded", at, resp.StatusCode, body)
				}
				var b errorBody
				json.Unmarshal([]byte(body), &b)
				if b.Error.Reset != reset.Format(time.RFC3339) {
					t.Errorf("reset = %q, want %q", b.Error.Reset, reset.Format(time.RFC3339))
				}
				p := quota(t, resp.Header, ratelimit.PolicyMonthly)
				if wantT := reset.Sub(at); resp.Header.Get("Retry-After") == "" || p.Remaining != 0 || p.Quota != 5 ||
					p.ResetAfter != (wantT+time.Second-1).Truncate(time.Second) {
					t.Errorf("headers %v: want Retry-After and the monthly policy with q=5, r=0, t=%s", resp.Header, wantT)
				}
			}
			resp, body := e.do(t, "GET", "acme.example.test", "/", map[string]string{"Accept": "text/html"})
			if resp.StatusCode != 429 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "acme Brand") {
				t.Errorf("browser refusal = %d %s %.200q, want the branded 429 page", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if n := len(up.requests()); n != 5 {
				t.Errorf("upstream saw %d requests, want 5", n)
			}
			clock.Set(reset)
			resp, _ = e.do(t, "GET", "acme.example.test", "/", nil)
			if left := quota(t, resp.Header, ratelimit.PolicyMonthly).Remaining; resp.StatusCode != 200 || left != 4 {
				t.Errorf("after the reset: %d, remaining %d; want 200, 4", resp.StatusCode, left)
			}
		})
	}
}

// TestRouteCosts: configured rules charge expensive routes more, in the
// monthly count and the rate bucket alike.
func TestRouteCosts(t *testing.T) {
	lim, err := ratelimit.NewLocal(ratelimit.LocalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t, nil)
	src := newFakeSource(limitedTenant(1, "acme", whitelabel.Quotas{
		whitelabel.QuotaRequestsPerSecond: 1, whitelabel.QuotaRequestsBurst: 100, whitelabel.QuotaAPICallsMonthly: 25,
	}))
	e := startEdge(t, src, up.URL, func(c *Config) {
		c.Limiter = lim
		c.RouteCosts = []ratelimit.CostRule{{Method: "POST", PathPattern: "/api/reports/", Cost: 10}}
	})
	steps := []struct {
		method, path string
		status       int
		monthlyLeft  string
	}{
		{"POST", "/api/reports/monthly", 200, "15"},
		{"GET", "/api/reports/monthly", 200, "14"}, // GET is not the costly route
		{"POST", "/api/reports/", 200, "4"},
		{"POST", "/api/reports/again", 429, "4"}, // 10 > 4 left: refused, nothing charged
		{"POST", "/api/other", 200, "3"},
	}
	for _, s := range steps {
		resp, body := e.do(t, s.method, "acme.example.test", s.path, nil)
		if left := strconv.FormatInt(quota(t, resp.Header, ratelimit.PolicyMonthly).Remaining, 10); resp.StatusCode != s.status || left != s.monthlyLeft {
			t.Errorf("%s %s = %d, monthly remaining %s; want %d, %s (%s)", s.method, s.path, resp.StatusCode,
				left, s.status, s.monthlyLeft, body)
		}
		// Only the refusal lists the policies (RateLimit-Policy).
		wantPolicy := ""
		if s.status == 429 {
			wantPolicy = `"default";q=100;w=100`
		}
		if p, _, _ := strings.Cut(resp.Header.Get(ratelimit.HeaderPolicy), ", "); p != wantPolicy {
			t.Errorf("%s %s: RateLimit-Policy = %q, want %q first", s.method, s.path, resp.Header.Get(ratelimit.HeaderPolicy), wantPolicy)
		}
	}
	if _, err := New(t.Context(), Config{Source: src, Plans: whitelabel.DefaultPlans(), Upstream: mustURL(t, up.URL),
		RouteCosts: []ratelimit.CostRule{{PathPattern: "/api/rep*", Cost: 2}}}); err == nil {
		t.Errorf("New with an invalid cost rule succeeded")
	}
}

// TestRateLimitHeadersAndExemptions: allowed responses carry RateLimit,
// refusals RateLimit-Policy too (allowed ones as well with
// RateLimitPolicyAlways); a tenant without rate or monthly quota is not
// asked about.
func TestRateLimitHeadersAndExemptions(t *testing.T) {
	lim, err := ratelimit.NewLocal(ratelimit.LocalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t, nil)
	src := newFakeSource(
		limitedTenant(1, "acme", whitelabel.Quotas{whitelabel.QuotaRequestsPerSecond: 1, whitelabel.QuotaRequestsBurst: 2}),
		limitedTenant(2, "free", whitelabel.Quotas{whitelabel.QuotaRequestsPerSecond: 0, whitelabel.QuotaAPICallsMonthly: 0}),
	)
	e := startEdge(t, src, up.URL, func(c *Config) { c.Limiter = lim })
	resp, _ := e.do(t, "GET", "acme.example.test", "/", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get(ratelimit.HeaderRateLimit), `"default";r=1;t=1, "monthly";`) ||
		quota(t, resp.Header, ratelimit.PolicyMonthly).Remaining != 999999 || len(resp.Header.Values(ratelimit.HeaderPolicy)) != 0 {
		t.Errorf("allowed: %d %v; want RateLimit alone", resp.StatusCode, resp.Header)
	}
	e.do(t, "GET", "acme.example.test", "/", nil)
	resp, body := e.do(t, "GET", "acme.example.test", "/", nil)
	if resp.StatusCode != 429 || errorCode(t, body) != "rate_limited" || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("third request: %d %v %s; want 429 rate_limited with Retry-After 1", resp.StatusCode, resp.Header, body)
	}
	if p := quota(t, resp.Header, ratelimit.PolicyMonthly); p.Quota != 1000000 || p.Remaining != 999998 || quota(t, resp.Header, ratelimit.PolicyName).Quota != 2 {
		t.Errorf("refusal: policies %v; want default q=2, monthly q=1000000 r=999998", resp.Header.Values(ratelimit.HeaderPolicy))
	}
	always := startEdge(t, src, up.URL, func(c *Config) { c.Limiter = lim; c.RateLimitPolicyAlways = true })
	resp, _ = always.do(t, "GET", "free.example.test", "/", nil)
	if resp.StatusCode != 200 || len(resp.Header.Values(ratelimit.HeaderPolicy)) != 0 {
		t.Errorf("RateLimitPolicyAlways, unlimited tenant: %d %v; want 200 without RateLimit-Policy", resp.StatusCode, resp.Header)
	}
	for range 10 {
		resp, _ := e.do(t, "GET", "free.example.test", "/", nil)
		if resp.StatusCode != 200 || resp.Header.Get(ratelimit.HeaderRateLimit) != "" {
			t.Fatalf("unlimited tenant: %d %v; want 200 without limit headers", resp.StatusCode, resp.Header)
		}
	}
	if lim.Len() != 1 {
		t.Errorf("limiter tracks %d tenants, want 1 (the unlimited one is never asked)", lim.Len())
	}
}

// TestRateLimitedResetRoundsUp: a refusal's JSON reset and message say
// whole seconds rounded up, like Retry-After, never a time before the
// tokens are back.
func TestRateLimitedResetRoundsUp(t *testing.T) {
	clk := &testClock{}
	clk.set(time.Date(2026, 5, 20, 10, 0, 0, 500_000_000, time.UTC))
	lim, err := ratelimit.NewLocal(ratelimit.LocalConfig{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	src := newFakeSource(limitedTenant(1, "acme", whitelabel.Quotas{whitelabel.QuotaRequestsPerSecond: 1, whitelabel.QuotaRequestsBurst: 1}))
	e := startEdge(t, src, newUpstream(t, nil).URL, func(c *Config) { c.Limiter, c.Now = lim, clk.now })
	if resp, _ := e.do(t, "GET", "acme.example.test", "/", nil); resp.StatusCode != 200 {
		t.Fatalf("first request: %d, want 200", resp.StatusCode)
	}
	// 0.1 tokens at 10:00:00.6: the next one is there at 10:00:01.5, so
	// the reset reads 10:00:02 and Retry-After 1 (0.9 s rounded up).
	// Truncating would say 10:00:01, half a second too early.
	clk.set(time.Date(2026, 5, 20, 10, 0, 0, 600_000_000, time.UTC))
	resp, body := e.do(t, "GET", "acme.example.test", "/", nil)
	var b errorBody
	if err := json.Unmarshal([]byte(body), &b); err != nil || resp.StatusCode != 429 {
		t.Fatalf("second request: %d %q (%v), want a 429 JSON error", resp.StatusCode, body, err)
	}
	if b.Error.Reset != "2026-05-20T10:00:02Z" || resp.Header.Get("Retry-After") != "1" || !strings.Contains(b.Error.Message, "retry in 1s") {
		t.Errorf("reset %q, Retry-After %q, message %q; want 2026-05-20T10:00:02Z, 1, retry in 1s", b.Error.Reset, resp.Header.Get("Retry-After"), b.Error.Message)
	}
}

// failingLimiter is a Limiter whose backend always fails.
type failingLimiter struct{ calls atomic.Int64 }

func (l *failingLimiter) Allow(context.Context, ratelimit.Request) (ratelimit.Decision, error) {
	l.calls.Add(1)
	return ratelimit.Decision{}, errors.New("backend down")
}

// TestLimitsLayerListsEveryQuota: one RateLimit-Policy and one RateLimit
// line list the rate, monthly and bandwidth quotas in that order; when
// the limiter fails, the request passes with the bandwidth quota alone
// listed, and a tenant out of bytes is refused before the limiter is
// asked.
func TestLimitsLayerListsEveryQuota(t *testing.T) {
	clk := &testClock{}
	may := time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)
	meter := headwayMeter(t, clk, may)
	quotas := whitelabel.Quotas{whitelabel.QuotaBandwidthGBMonthly: 1, whitelabel.QuotaRequestsPerSecond: 100,
		whitelabel.QuotaRequestsBurst: 50, whitelabel.QuotaAPICallsMonthly: 1000}
	src := newFakeSource(limitedTenant(1, "acme", quotas))
	local, err := ratelimit.NewLocal(ratelimit.LocalConfig{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	e := startEdge(t, src, bwUpstream(t).URL, func(c *Config) {
		c.Bandwidth, c.Limiter, c.Now = meter, local, clk.now
	})
	resp, _ := e.do(t, "GET", "acme.example.test", "/big", nil)
	ps, err := ratelimit.ReadHeaders(resp.Header)
	if err != nil || resp.StatusCode != http.StatusOK || len(resp.Header.Values(ratelimit.HeaderRateLimit)) != 1 {
		t.Fatalf("status %d, %v, %v; want 200 with one RateLimit line", resp.StatusCode, resp.Header, err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); got != "default,monthly,bandwidth" || ps[0].Remaining != 49 || ps[1].Remaining != 999 || ps[2].Remaining != bwHeadway {
		t.Errorf("policies %+v, want default r=49, monthly r=999, bandwidth r=%d", ps, bwHeadway)
	}

	failing := &failingLimiter{}
	e = startEdge(t, src, bwUpstream(t).URL, func(c *Config) {
		c.Bandwidth, c.Limiter, c.Now = meter, failing, clk.now
	})
	resp, _ = e.do(t, "GET", "acme.example.test", "/big", nil)
	if ps, err := ratelimit.ReadHeaders(resp.Header); err != nil || resp.StatusCode != http.StatusOK ||
		len(ps) != 1 || ps[0].Name != ratelimit.PolicyBandwidth || ps[0].Remaining != bwHeadway-bwBody {
		t.Errorf("limiter failing: status %d, policies %+v (%v); want 200 listing the bandwidth quota alone, r=%d", resp.StatusCode, ps, err, bwHeadway-bwBody)
	}
	meter.Add(1, may, bwHeadway)
	before := failing.calls.Load()
	resp, body := e.do(t, "GET", "acme.example.test", "/big", nil)
	wantBandwidthRefusal(t, resp, body, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	if n := failing.calls.Load() - before; n != 0 {
		t.Errorf("the limiter was asked %d times for a tenant out of bytes, want 0", n)
	}
}

// TestUpstreamRateLimitFieldsReplaced: when the edge lists a tenant's
// quotas, the core app's own RateLimit-Policy and RateLimit fields are
// dropped, not combined with the edge's into one list with two
// "default" policies; a tenant without quotas at the edge gets the core
// app's fields as sent.
func TestUpstreamRateLimitFieldsReplaced(t *testing.T) {
	lim, err := ratelimit.NewLocal(ratelimit.LocalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(ratelimit.HeaderRateLimit, `"default";r=5;t=10`)
		w.Header().Set(ratelimit.HeaderPolicy, `"default";q=10;w=10`)
		io.WriteString(w, "ok")
	})
	src := newFakeSource(
		limitedTenant(1, "acme", whitelabel.Quotas{whitelabel.QuotaRequestsPerSecond: 100, whitelabel.QuotaRequestsBurst: 100}),
		limitedTenant(2, "free", whitelabel.Quotas{whitelabel.QuotaRequestsPerSecond: 0, whitelabel.QuotaAPICallsMonthly: 0}),
	)
	e := startEdge(t, src, up.URL, func(c *Config) { c.Limiter = lim })
	resp, _ := e.do(t, "GET", "acme.example.test", "/", nil)
	rl, pol := resp.Header.Values(ratelimit.HeaderRateLimit), resp.Header.Values(ratelimit.HeaderPolicy)
	// The edge's RateLimit alone: the app's RateLimit-Policy would
	// describe policies the edge's field does not report.
	if len(rl) != 1 || len(pol) != 0 || !strings.HasPrefix(rl[0], `"default";r=99;`) {
		t.Errorf("limited tenant: RateLimit %q, RateLimit-Policy %q; want the edge's RateLimit alone", rl, pol)
	}
	always := startEdge(t, src, up.URL, func(c *Config) { c.Limiter = lim; c.RateLimitPolicyAlways = true })
	resp, _ = always.do(t, "GET", "acme.example.test", "/", nil)
	rl, pol = resp.Header.Values(ratelimit.HeaderRateLimit), resp.Header.Values(ratelimit.HeaderPolicy)
	if len(rl) != 1 || len(pol) != 1 || !strings.HasPrefix(rl[0], `"default";r=98;`) || !strings.HasPrefix(pol[0], `"default";q=100;`) {
		t.Errorf("RateLimitPolicyAlways, limited tenant: RateLimit %q, RateLimit-Policy %q; want the edge's alone", rl, pol)
	}
	resp, _ = e.do(t, "GET", "free.example.test", "/", nil)
	if rl, pol := resp.Header.Values(ratelimit.HeaderRateLimit), resp.Header.Values(ratelimit.HeaderPolicy); len(rl) != 1 || rl[0] != `"default";r=5;t=10` || len(pol) != 1 || pol[0] != `"default";q=10;w=10` {
		t.Errorf("tenant without quotas: RateLimit %q, RateLimit-Policy %q; want the core app's", rl, pol)
	}
}
