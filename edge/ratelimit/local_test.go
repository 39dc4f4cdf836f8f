package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
)

var t0 = time.Date(2026, 1, 31, 23, 59, 0, 0, time.UTC)

// step is one request in a scripted sequence; at is the offset from t0.
type step struct {
	at            time.Duration
	req           Request
	wantAllowed   bool
	wantCode      whitelabel.ErrorCode
	wantRemaining int64
	wantUsed      int64
	wantRetry     time.Duration // checked when non-zero
}

func TestLocalDecisions(t *testing.T) {
	reset := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		steps []step
	}{
		{"burst, refusal, refill", []step{
			{0, Request{Rate: 10, Burst: 3}, true, "", 2, 1, 0},
			{0, Request{Rate: 10, Burst: 3}, true, "", 1, 2, 0},
			{0, Request{Rate: 10, Burst: 3}, true, "", 0, 3, 0},
			{0, Request{Rate: 10, Burst: 3}, false, whitelabel.CodeRateLimited, 0, 3, 100 * time.Millisecond},
			{100 * time.Millisecond, Request{Rate: 10, Burst: 3}, true, "", 0, 4, 0},
		}},
		{"cost 10 uses 10 tokens", []step{
			{0, Request{Rate: 1, Burst: 20, Cost: 10}, true, "", 10, 10, 0},
			{0, Request{Rate: 1, Burst: 20, Cost: 10}, true, "", 0, 20, 0},
			{0, Request{Rate: 1, Burst: 20}, false, whitelabel.CodeRateLimited, 0, 20, time.Second},
			{5 * time.Second, Request{Rate: 1, Burst: 20, Cost: 10}, false, whitelabel.CodeRateLimited, 5, 20, 5 * time.Second},
		}},
		{"cost above burst is charged as burst", []step{
			{0, Request{Rate: 1, Burst: 5, Cost: 10}, true, "", 0, 5, 0},
		}},
		{"default burst is ceil(rate)", []step{
			{0, Request{Rate: 1.5}, true, "", 1, 1, 0},
			{0, Request{Rate: 1.5}, true, "", 0, 2, 0},
			{0, Request{Rate: 1.5}, false, whitelabel.CodeRateLimited, 0, 2, 0},
		}},
		{"monthly quota until the reset", []step{
			{0, Request{MonthlyLimit: 2}, true, "", 0, 1, 0},
			{0, Request{MonthlyLimit: 2}, true, "", 0, 2, 0},
			{0, Request{MonthlyLimit: 2}, false, whitelabel.CodeQuotaExceeded, 0, 2, time.Minute},
			{59 * time.Second, Request{MonthlyLimit: 2}, false, whitelabel.CodeQuotaExceeded, 0, 2, time.Second},
			{time.Minute, Request{MonthlyLimit: 2}, true, "", 0, 1, 0},
		}},
		{"monthly quota counts cost", []step{
			{0, Request{MonthlyLimit: 15, Cost: 10}, true, "", 0, 10, 0},
			{0, Request{MonthlyLimit: 15, Cost: 10}, false, whitelabel.CodeQuotaExceeded, 0, 10, 0},
			{0, Request{MonthlyLimit: 15, Cost: 5}, true, "", 0, 15, 0},
		}},
		{"rate refusal uses no monthly quota", []step{
			{0, Request{Rate: 1, Burst: 1, MonthlyLimit: 10}, true, "", 0, 1, 0},
			{0, Request{Rate: 1, Burst: 1, MonthlyLimit: 10}, false, whitelabel.CodeRateLimited, 0, 1, 0},
			{0, Request{Rate: 1, Burst: 1, MonthlyLimit: 10}, false, whitelabel.CodeRateLimited, 0, 1, 0},
			{time.Second, Request{Rate: 1, Burst: 1, MonthlyLimit: 10}, true, "", 0, 2, 0},
		}},
		{"quota refusal uses no tokens", []step{
			{0, Request{Rate: 1, Burst: 3, MonthlyLimit: 1}, true, "", 2, 1, 0},
			{0, Request{Rate: 1, Burst: 3, MonthlyLimit: 1}, false, whitelabel.CodeQuotaExceeded, 2, 1, 0},
			{0, Request{Rate: 1, Burst: 3, MonthlyLimit: 2}, true, "", 1, 2, 0},
		}},
		{"rate change applies in place", []step{
			{0, Request{Rate: 1, Burst: 1}, true, "", 0, 1, 0},
			{10 * time.Millisecond, Request{Rate: 1, Burst: 1}, false, whitelabel.CodeRateLimited, 0, 1, 990 * time.Millisecond},
			// Tokens earned at the old rate stay; the rest come at the new one.
			{20 * time.Millisecond, Request{Rate: 100, Burst: 1}, false, whitelabel.CodeRateLimited, 0, 1, 9800 * time.Microsecond},
			{30 * time.Millisecond, Request{Rate: 100, Burst: 1}, true, "", 0, 2, 0},
			{30 * time.Millisecond, Request{Rate: 100, Burst: 5}, false, whitelabel.CodeRateLimited, 0, 2, 0},
			{80 * time.Millisecond, Request{Rate: 100, Burst: 5}, true, "", 4, 3, 0},
		}},
		{"no limits", []step{
			{0, Request{}, true, "", 0, 1, 0},
			{0, Request{}, true, "", 0, 2, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewLocal(LocalConfig{Now: func() time.Time { panic("clock used although Request.Now is set") }})
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tt.steps {
				req := s.req
				req.TenantID = 42
				req.Now = t0.Add(s.at)
				d, err := l.Allow(t.Context(), req)
				if err != nil {
					t.Fatalf("step %d: Allow: %v", i, err)
				}
				if d.Allowed != s.wantAllowed || d.Code != s.wantCode || d.Remaining != s.wantRemaining || d.MonthlyUsed != s.wantUsed {
					t.Errorf("step %d: Allow(%+v) = allowed %v code %q remaining %d used %d, want %v %q %d %d",
						i, s.req, d.Allowed, d.Code, d.Remaining, d.MonthlyUsed, s.wantAllowed, s.wantCode, s.wantRemaining, s.wantUsed)
				}
				if s.wantRetry != 0 && (d.RetryAfter < s.wantRetry-time.Millisecond || d.RetryAfter > s.wantRetry+time.Millisecond) {
					t.Errorf("step %d: RetryAfter = %v, want %v", i, d.RetryAfter, s.wantRetry)
				}
				wantReset := reset
				if !req.Now.Before(reset) {
					wantReset = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
				}
				if !d.MonthlyReset.Equal(wantReset) {
					t.Errorf("step %d: MonthlyReset = %v, want %v", i, d.MonthlyReset, wantReset)
				}
			}
		})
	}
}

func TestLocalBoundedMemory(t *testing.T) {
	now := t0
	l, err := NewLocal(LocalConfig{MaxTenants: 128, IdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for id := range int64(10_000) {
		l.Allow(t.Context(), Request{TenantID: id, Rate: 10, Now: now})
	}
	if n := l.Len(); n > 128 {
		t.Errorf("Len() = %d after 10000 tenants, want at most MaxTenants 128", n)
	}
	// Idle tenants without monthly usage are dropped when new ones arrive.
	now = now.Add(2 * time.Minute)
	for id := range int64(64) {
		l.Allow(t.Context(), Request{TenantID: 1_000_000 + id, Rate: 10, Now: now})
	}
	// All earlier entries had monthly usage in January, still current, so
	// they keep their counts; move to February where they are stale.
	now = time.Date(2026, 2, 1, 0, 5, 0, 0, time.UTC)
	for id := range int64(64) {
		l.Allow(t.Context(), Request{TenantID: 2_000_000 + id, Rate: 10, Now: now})
	}
	if n := l.Len(); n > 128 {
		t.Errorf("Len() = %d, want at most 128", n)
	}
}

func TestLocalIdleEviction(t *testing.T) {
	l, err := NewLocal(LocalConfig{IdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// Same shard for every id in this loop is not needed: each insert
	// sweeps its own shard once per IdleTimeout/2.
	for id := range int64(1000) {
		l.Allow(t.Context(), Request{TenantID: id, Rate: 10, Now: t0})
	}
	// A month later every one of them is idle and stale.
	later := t0.AddDate(0, 1, 0)
	for id := range int64(1000) {
		l.Allow(t.Context(), Request{TenantID: 5000 + id, Rate: 10, Now: later})
	}
	if n := l.Len(); n != 1000 {
		t.Errorf("Len() = %d, want 1000 (the idle tenants evicted)", n)
	}
}

func TestLocalAccuracy(t *testing.T) {
	l, err := NewLocal(LocalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	checkAccuracy(t, []Limiter{l}, 4)
}

// checkAccuracy hammers one tenant limited to L/s with burst B through
// every limiter (each stands for an edge) from workers goroutines each,
// for about 3 s, and checks the allowed count is within [0.95, 1.0] of
// L·t + B.
func checkAccuracy(t *testing.T, edges []Limiter, workers int) {
	t.Helper()
	const (
		rate  = 200.0
		burst = 50
		run   = 3 * time.Second
	)
	req := Request{TenantID: 77, Rate: rate, Burst: burst}
	var allowed, total, degraded atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, l := range edges {
		for range workers {
			wg.Go(func() {
				for time.Since(start) < run {
					d, err := l.Allow(context.Background(), req)
					if err != nil {
						t.Errorf("Allow: %v", err)
						return
					}
					total.Add(1)
					if d.Allowed {
						allowed.Add(1)
					}
					if d.Degraded {
						degraded.Add(1)
					}
					// Pacing keeps the CPU for others; the workers together
					// still ask far more often than the limit allows.
					time.Sleep(500 * time.Microsecond)
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	want := rate*elapsed.Seconds() + burst
	ratio := float64(allowed.Load()) / want
	t.Logf("%d edges x %d workers: %d of %d allowed in %v; L·t+B = %.1f; ratio %.4f",
		len(edges), workers, allowed.Load(), total.Load(), elapsed.Round(time.Millisecond), want, ratio)
	if degraded.Load() > 0 {
		t.Errorf("%d degraded decisions, want 0", degraded.Load())
	}
	if ratio < 0.95 || ratio > 1.0 {
		t.Errorf("allowed/(L·t+B) = %.4f, want within [0.95, 1.0]", ratio)
	}
}

func TestNewLocalInvalid(t *testing.T) {
	tests := []struct {
		name string
		cfg  LocalConfig
	}{
		{"negative max tenants", LocalConfig{MaxTenants: -1}},
		{"negative idle", LocalConfig{IdleTimeout: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewLocal(tt.cfg); whitelabel.ErrorCodeOf(err) != whitelabel.CodeInvalid {
				t.Errorf("NewLocal(%+v) error = %v, want %s", tt.cfg, err, whitelabel.CodeInvalid)
			}
		})
	}
}
