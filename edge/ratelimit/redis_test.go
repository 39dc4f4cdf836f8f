package ratelimit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/internal/testenv"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestRedis(t *testing.T, c redis.UniversalClient, cfg RedisConfig) *Redis {
	t.Helper()
	cfg.Client = c
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	r, err := NewRedis(cfg)
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	t.Cleanup(func() { r.Close() }) // before the client closes
	return r
}

// futureMonth returns the first instant of a month a year from now, so
// monthly keys get an expiry in the future.
func futureMonth() time.Time {
	y, m, _ := time.Now().UTC().AddDate(1, 0, 0).Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}

func TestRedisAccuracyTwoEdges(t *testing.T) {
	srv := testenv.StartRedis(t)
	a := newTestRedis(t, srv.Client(t), RedisConfig{Timeout: time.Second})
	b := newTestRedis(t, srv.Client(t), RedisConfig{Timeout: time.Second})
	checkAccuracy(t, []Limiter{a, b}, 4)
}

func TestRedisDecisions(t *testing.T) {
	srv := testenv.StartRedis(t)
	c := srv.Client(t)
	m0 := futureMonth()
	m1 := m0.AddDate(0, 1, 0)
	tests := []struct {
		name    string
		preload int64 // monthly count set directly before the steps
		steps   []step
	}{
		{"cost 10 uses 10 tokens", 0, []step{
			{0, Request{Rate: 0.01, Burst: 20, Cost: 10}, true, "", 10, 10, 0},
			{0, Request{Rate: 0.01, Burst: 20, Cost: 10}, true, "", 0, 20, 0},
			{0, Request{Rate: 0.01, Burst: 20}, false, whitelabel.CodeRateLimited, 0, 20, 100 * time.Second},
		}},
		{"monthly quota until the reset", 99, []step{
			{0, Request{Rate: 0.01, Burst: 1000, MonthlyLimit: 100}, true, "", 999, 100, 0},
			{0, Request{Rate: 0.01, Burst: 1000, MonthlyLimit: 100}, false, whitelabel.CodeQuotaExceeded, 999, 100, 0},
			{m1.Sub(m0) - time.Second, Request{Rate: 0.01, Burst: 1000, MonthlyLimit: 100}, false, whitelabel.CodeQuotaExceeded, 999, 100, time.Second},
			{m1.Sub(m0), Request{Rate: 0.01, Burst: 1000, MonthlyLimit: 100}, true, "", 998, 1, 0},
		}},
		{"rate refusal uses no monthly quota", 0, []step{
			{0, Request{Rate: 0.01, Burst: 1, MonthlyLimit: 10}, true, "", 0, 1, 0},
			{0, Request{Rate: 0.01, Burst: 1, MonthlyLimit: 10}, false, whitelabel.CodeRateLimited, 0, 1, 0},
			{0, Request{Rate: 0.01, Burst: 1, MonthlyLimit: 10}, false, whitelabel.CodeRateLimited, 0, 1, 0},
		}},
		{"quota refusal uses no tokens", 0, []step{
			{0, Request{Rate: 0.01, Burst: 3, MonthlyLimit: 1}, true, "", 2, 1, 0},
			{0, Request{Rate: 0.01, Burst: 3, MonthlyLimit: 1}, false, whitelabel.CodeQuotaExceeded, 2, 1, 0},
			{0, Request{Rate: 0.01, Burst: 3, MonthlyLimit: 2}, true, "", 1, 2, 0},
		}},
		{"unlimited still counts", 0, []step{
			{0, Request{Cost: 3}, true, "", 0, 3, 0},
			{0, Request{Cost: 3}, true, "", 0, 6, 0},
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestRedis(t, c, RedisConfig{Fallback: FallbackClosed})
			id := int64(1000 + i)
			if tt.preload > 0 {
				key := "wl:rl:{" + strconv.FormatInt(id, 10) + "}:m:" + m0.Format("2006-01")
				if err := c.Set(t.Context(), key, tt.preload, time.Hour).Err(); err != nil {
					t.Fatal(err)
				}
			}
			for j, s := range tt.steps {
				req := s.req
				req.TenantID = id
				req.Now = m0.Add(s.at)
				d, err := l.Allow(t.Context(), req)
				if err != nil || d.Degraded {
					t.Fatalf("step %d: Allow = %+v, %v; want a Redis decision", j, d, err)
				}
				if d.Allowed != s.wantAllowed || d.Code != s.wantCode || d.Remaining != s.wantRemaining || d.MonthlyUsed != s.wantUsed {
					t.Errorf("step %d: Allow(%+v) = allowed %v code %q remaining %d used %d, want %v %q %d %d",
						j, s.req, d.Allowed, d.Code, d.Remaining, d.MonthlyUsed, s.wantAllowed, s.wantCode, s.wantRemaining, s.wantUsed)
				}
				if s.wantRetry != 0 && (d.RetryAfter < s.wantRetry-50*time.Millisecond || d.RetryAfter > s.wantRetry) {
					t.Errorf("step %d: RetryAfter = %v, want about %v", j, d.RetryAfter, s.wantRetry)
				}
			}
		})
	}

	t.Run("monthly key expires after the month", func(t *testing.T) {
		l := newTestRedis(t, c, RedisConfig{})
		if _, err := l.Allow(t.Context(), Request{TenantID: 5, Now: m0}); err != nil {
			t.Fatal(err)
		}
		key := "wl:rl:{5}:m:" + m0.Format("2006-01")
		got, err := c.ExpireTime(t.Context(), key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if want := m1.Add(monthlyKeyGrace).Unix(); int64(got.Seconds()) != want {
			t.Errorf("EXPIRETIME %s = %v, want %d", key, got, want)
		}
	})
}

// gaugeValue reads a gauge or counter.
func metricValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	t.Fatalf("metric %v is neither a gauge nor a counter", c.Desc())
	return 0
}

// TestRedisOutageAndRecovery kills the Redis the test started, checks
// the fallback decides without errors, restarts Redis on the same port
// and waits for the limiter to return to it by itself.
func TestRedisOutageAndRecovery(t *testing.T) {
	srv := testenv.StartRedis(t)
	reg := prometheus.NewRegistry()
	l := newTestRedis(t, srv.Client(t), RedisConfig{
		Fallback: FallbackLocal, FleetSize: 2, Timeout: 100 * time.Millisecond,
		BreakerFailures: 2, BreakerBackoff: 20 * time.Millisecond, BreakerMaxBackoff: 100 * time.Millisecond,
		Registerer: reg,
	})
	req := Request{TenantID: 9, Rate: 1000, Burst: 100, MonthlyLimit: 1_000_000}
	ctx := t.Context()
	if d, err := l.Allow(ctx, req); err != nil || !d.Allowed || d.Degraded {
		t.Fatalf("Allow before the outage = %+v, %v; want allowed by Redis", d, err)
	}

	srv.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for !l.Degraded() {
		d, err := l.Allow(ctx, req)
		if err != nil {
			t.Fatalf("Allow during the outage: %v", err)
		}
		if !d.Degraded {
			t.Fatalf("Allow during the outage = %+v, want Degraded", d)
		}
		if time.Now().After(deadline) {
			t.Fatal("breaker did not open")
		}
	}
	if v := metricValue(t, l.m.fallbackEngaged); v != 1 {
		t.Errorf("fallback_engaged = %v, want 1", v)
	}
	// The local fallback allows this edge's share: burst 100/2 = 50.
	allowed := 0
	for range 200 {
		d, err := l.Allow(ctx, req)
		if err != nil || !d.Degraded {
			t.Fatalf("Allow with the breaker open = %+v, %v; want a degraded decision", d, err)
		}
		if d.Allowed {
			allowed++
		}
	}
	if allowed < 50 || allowed > 60 {
		t.Errorf("fallback allowed %d of 200 at once, want about the share 50", allowed)
	}
	if v := metricValue(t, l.m.degraded); v < 200 {
		t.Errorf("degraded decisions = %v, want at least 200", v)
	}

	srv.Restart()
	deadline = time.Now().Add(15 * time.Second)
	for {
		d, err := l.Allow(ctx, req)
		if err != nil {
			t.Fatalf("Allow during recovery: %v", err)
		}
		if !d.Degraded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("limiter did not return to Redis after it restarted")
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	if v := metricValue(t, l.m.fallbackEngaged); v != 0 {
		t.Errorf("fallback_engaged after recovery = %v, want 0", v)
	}
	if v := metricValue(t, l.m.transitions.WithLabelValues("closed")); v != 1 {
		t.Errorf("transitions to closed = %v, want 1", v)
	}
	if v := metricValue(t, l.m.transitions.WithLabelValues("open")); v != 1 {
		t.Errorf("transitions to open = %v, want 1", v)
	}
}

func TestRedisFallbackModes(t *testing.T) {
	// A port nothing listens on: Redis is down from the start.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	tests := []struct {
		name        string
		mode        FallbackMode
		wantAllowed bool
		wantCode    whitelabel.ErrorCode
	}{
		{"open allows", FallbackOpen, true, ""},
		{"closed refuses", FallbackClosed, false, whitelabel.CodeRateLimited},
		{"local limits", FallbackLocal, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
			t.Cleanup(func() { c.Close() })
			l := newTestRedis(t, c, RedisConfig{Fallback: tt.mode, BreakerFailures: 1, BreakerBackoff: time.Hour})
			for i := range 3 {
				d, err := l.Allow(t.Context(), Request{TenantID: 1, Rate: 10, Burst: 10})
				if err != nil {
					t.Fatalf("Allow: %v", err)
				}
				if d.Allowed != tt.wantAllowed || d.Code != tt.wantCode || !d.Degraded {
					t.Errorf("call %d: Allow = allowed %v code %q degraded %v, want %v %q true", i, d.Allowed, d.Code, d.Degraded, tt.wantAllowed, tt.wantCode)
				}
				if !d.Allowed && d.RetryAfter < time.Second {
					t.Errorf("call %d: RetryAfter = %v, want at least 1s", i, d.RetryAfter)
				}
			}
			if !l.Degraded() {
				t.Error("Degraded() = false after a failed round trip with BreakerFailures 1")
			}
			if v := metricValue(t, l.m.redisErrors); v != 1 {
				t.Errorf("redis errors = %v, want 1 (the open breaker skips Redis)", v)
			}
		})
	}
}

func TestRedisCanceledContextIsNotAFailure(t *testing.T) {
	srv := testenv.StartRedis(t)
	l := newTestRedis(t, srv.Client(t), RedisConfig{BreakerFailures: 1})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	d, err := l.Allow(ctx, Request{TenantID: 1, Rate: 10})
	if err != nil || !d.Degraded {
		t.Errorf("Allow(canceled) = %+v, %v; want a degraded decision", d, err)
	}
	if l.Degraded() {
		t.Error("breaker opened because the caller gave up")
	}
}

func TestNewRedisInvalid(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { c.Close() })
	tests := []struct {
		name string
		cfg  RedisConfig
	}{
		{"no client", RedisConfig{}},
		{"unknown fallback", RedisConfig{Client: c, Fallback: "maybe"}},
		{"negative timeout", RedisConfig{Client: c, Timeout: -1}},
		{"max backoff below backoff", RedisConfig{Client: c, BreakerBackoff: time.Minute, BreakerMaxBackoff: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewRedis(tt.cfg); whitelabel.ErrorCodeOf(err) != whitelabel.CodeInvalid {
				t.Errorf("NewRedis error = %v, want %s", err, whitelabel.CodeInvalid)
			}
		})
	}
	t.Run("metrics registered twice", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		if _, err := NewRedis(RedisConfig{Client: c, Registerer: reg}); err != nil {
			t.Fatal(err)
		}
		if _, err := NewRedis(RedisConfig{Client: c, Registerer: reg}); err == nil {
			t.Error("second NewRedis on one registry succeeded, want an error")
		}
	})
}

// TestParseResult checks the reading of the script's reply: five
// integers, durations in µs (negative ones read as zero), any other
// count a bad reply. The elements' types are go-redis's IntSliceCmd's
// business, before parseResult: it reads nil as 0 and an integer string
// as its integer, and fails on anything else; such a failure is not a
// Redis error, so it fails the whole pipeline. Only a script with another
// reply could cause it.
func TestParseResult(t *testing.T) {
	got, err := parseResult([]int64{1, 4, 1_500_000, -3, 42})
	want := scriptResult{status: statusRateLimited, remaining: 4, used: 42, retryAfter: 1500 * time.Millisecond}
	if err != nil || got != want {
		t.Errorf("parseResult = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range [][]int64{nil, {0, 1, 0, 0}, {0, 1, 0, 0, 5, 6}} {
		if _, err := parseResult(bad); !errors.Is(err, errBadReply) {
			t.Errorf("parseResult(%v) error = %v, want errBadReply", bad, err)
		}
	}
}
