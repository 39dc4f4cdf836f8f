package ratelimit

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
)

func TestSetHeaders(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	reset := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) // 36 h after now; November has 30 days
	const month = "w=2592000"
	bandwidth := MonthlyPolicy(PolicyBandwidth, UnitContentBytes, 10<<30, 4<<30, reset, now)
	tests := []struct {
		name  string
		d     Decision
		extra []Policy
		want  map[string]string // "" means absent
	}{
		{
			name: "allowed with rate and monthly quota",
			d: Decision{Allowed: true, Limit: 100, Remaining: 42, Window: time.Second, ResetAfter: 580 * time.Millisecond,
				MonthlyUsed: 1234, MonthlyLimit: 100000, MonthlyReset: reset},
			want: map[string]string{
				HeaderPolicy:    `"default";q=100;w=1, "monthly";q=100000;` + month,
				HeaderRateLimit: `"default";r=42;t=1, "monthly";r=98766;t=129600`, HeaderRetryAfter: "",
			},
		},
		{
			name: "with the bandwidth quota",
			d: Decision{Allowed: true, Limit: 100, Remaining: 42, Window: time.Second, ResetAfter: 580 * time.Millisecond,
				MonthlyUsed: 1234, MonthlyLimit: 100000, MonthlyReset: reset},
			extra: []Policy{bandwidth},
			want: map[string]string{
				HeaderPolicy:    `"default";q=100;w=1, "monthly";q=100000;` + month + `, "bandwidth";q=10737418240;qu="content-bytes";` + month,
				HeaderRateLimit: `"default";r=42;t=1, "monthly";r=98766;t=129600, "bandwidth";r=6442450944;t=129600`,
			},
		},
		{
			name: "rate limited",
			d: Decision{Code: whitelabel.CodeRateLimited, Limit: 20, Remaining: 0, Window: 2 * time.Second,
				RetryAfter: 100 * time.Millisecond, ResetAfter: 2 * time.Second},
			want: map[string]string{
				HeaderPolicy: `"default";q=20;w=2`, HeaderRateLimit: `"default";r=0;t=2`, HeaderRetryAfter: "1",
			},
		},
		{
			name: "quota exceeded",
			d: Decision{Code: whitelabel.CodeQuotaExceeded, Limit: 10, Remaining: 10, Window: 1500 * time.Millisecond,
				RetryAfter: 36*time.Hour + time.Millisecond, MonthlyUsed: 100, MonthlyLimit: 100, MonthlyReset: reset},
			want: map[string]string{
				HeaderPolicy:    `"default";q=10;w=2, "monthly";q=100;` + month,
				HeaderRateLimit: `"default";r=10;t=0, "monthly";r=0;t=129600`, HeaderRetryAfter: "129601",
			},
		},
		{
			name: "no limits",
			d:    Decision{Allowed: true, MonthlyUsed: 7},
			want: map[string]string{HeaderPolicy: "", HeaderRateLimit: "", HeaderRetryAfter: ""},
		},
		{
			name:  "only the bandwidth quota",
			d:     Decision{Allowed: true},
			extra: []Policy{bandwidth},
			want: map[string]string{HeaderPolicy: `"bandwidth";q=10737418240;qu="content-bytes";` + month,
				HeaderRateLimit: `"bandwidth";r=6442450944;t=129600`},
		},
		{
			name: "fallback closed",
			d:    Decision{Code: whitelabel.CodeRateLimited, Degraded: true},
			want: map[string]string{HeaderPolicy: "", HeaderRetryAfter: "1"},
		},
		{
			name: "used above the limit reports zero remaining",
			d:    Decision{Allowed: true, MonthlyUsed: 120, MonthlyLimit: 100, MonthlyReset: reset},
			want: map[string]string{HeaderRateLimit: `"monthly";r=0;t=129600`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			h.Set(HeaderRetryAfter, "stale from upstream")
			SetHeaders(h, tt.d, now, tt.extra...)
			if tt.d.Allowed {
				// An upstream's Retry-After on an allowed response is the
				// upstream's business; SetHeaders leaves it.
				h.Del(HeaderRetryAfter)
			}
			for k, want := range tt.want {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			// What is written reads back.
			ps, err := ReadHeaders(h)
			if err != nil {
				t.Fatalf("ReadHeaders: %v", err)
			}
			for _, p := range ps {
				if p.Name == PolicyMonthly && p.Remaining != max(0, tt.d.MonthlyLimit-tt.d.MonthlyUsed) {
					t.Errorf("read back monthly remaining %d", p.Remaining)
				}
				if p.Name == PolicyBandwidth && (p.Unit != UnitContentBytes || p.Quota != 10<<30 || p.ResetAfter != 36*time.Hour) {
					t.Errorf("read back bandwidth policy %+v", p)
				}
			}
		})
	}
}

func TestReadHeadersRejects(t *testing.T) {
	for _, tc := range []struct{ policy, rate string }{
		{`"default";q=1;w=1`, ``},
		{`"default";q=1;w=1`, `"monthly";r=1;t=1`},
		{`default;q=1;w=1`, `default;r=1;t=1`},
		{`"default";q=x;w=1`, `"default";r=1;t=1`},
		{`"default";q=1;w`, `"default";r=1;t=1`},
	} {
		h := http.Header{}
		h.Set(HeaderPolicy, tc.policy)
		h.Set(HeaderRateLimit, tc.rate)
		if ps, err := ReadHeaders(h); err == nil {
			t.Errorf("ReadHeaders(%q, %q) = %+v, want an error", tc.policy, tc.rate, ps)
		}
	}
}

// TestPolicyCache: a cache writes the same fields as SetHeaders; it
// reuses its RateLimit-Policy value while the policies' quotas and
// windows stay (only r and t move), and formats a new one when a quota
// or the month's length changes. Concurrent writers are safe (-race).
func TestPolicyCache(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	reset := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	decision := func(remaining, limit int64, reset time.Time) Decision {
		return Decision{Allowed: true, Limit: limit, Remaining: remaining, Window: time.Second, ResetAfter: 300 * time.Millisecond,
			MonthlyUsed: 1000 - remaining, MonthlyLimit: 5000, MonthlyReset: reset}
	}
	bandwidth := MonthlyPolicy(PolicyBandwidth, UnitContentBytes, 10<<30, 4<<30, reset, now)
	var c PolicyCache
	write := func(d Decision, now time.Time) http.Header {
		h, plain := http.Header{}, http.Header{}
		c.SetHeaders(h, d, now, bandwidth)
		SetHeaders(plain, d, now, bandwidth)
		for _, k := range []string{HeaderPolicy, HeaderRateLimit, HeaderRetryAfter} {
			if h.Get(k) != plain.Get(k) {
				t.Errorf("%s: cached %q, uncached %q", k, h.Get(k), plain.Get(k))
			}
		}
		return h
	}
	first := write(decision(40, 100, reset), now)[canonPolicy]
	second := write(decision(39, 100, reset), now.Add(time.Millisecond))[canonPolicy]
	if &first[0] != &second[0] {
		t.Errorf("RateLimit-Policy formatted again for unchanged quotas")
	}
	if changed := write(decision(39, 200, reset), now)[canonPolicy]; &changed[0] == &first[0] || changed[0] == first[0] {
		t.Errorf("RateLimit-Policy %q kept after the rate changed", changed[0])
	}
	// December is 31 days: the monthly window changes.
	decNow, decReset := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	bandwidth = MonthlyPolicy(PolicyBandwidth, UnitContentBytes, 10<<30, 0, decReset, decNow)
	if dec := write(decision(39, 200, decReset), decNow)[canonPolicy]; !strings.Contains(dec[0], "w=2678400") {
		t.Errorf("RateLimit-Policy in December %q, want the 31-day window", dec[0])
	}

	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				h := http.Header{}
				c.SetHeaders(h, decision(int64(i), int64(100+g%2), decReset), decNow)
				if !strings.Contains(h.Get(HeaderPolicy), `"default";q=`+strconv.Itoa(100+g%2)+`;`) {
					t.Errorf("writer %d: RateLimit-Policy %q", g, h.Get(HeaderPolicy))
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestSetHeadersWithoutPolicy: withPolicy false writes RateLimit (and
// Retry-After) exactly as with the policy, leaves RateLimit-Policy out
// and the cache untouched, and ReadHeaders reads RateLimit alone.
func TestSetHeadersWithoutPolicy(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	reset := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	bandwidth := MonthlyPolicy(PolicyBandwidth, UnitContentBytes, 10<<30, 4<<30, reset, now)
	for _, d := range []Decision{
		{Allowed: true, Limit: 100, Remaining: 42, Window: time.Second, ResetAfter: 580 * time.Millisecond,
			MonthlyUsed: 1234, MonthlyLimit: 100000, MonthlyReset: reset},
		{Limit: 20, Window: 2 * time.Second, ResetAfter: 2 * time.Second, RetryAfter: 100 * time.Millisecond},
	} {
		var c PolicyCache
		h, full := http.Header{}, http.Header{}
		c.SetHeadersIn(h, new(Values), false, d, now, bandwidth)
		SetHeaders(full, d, now, bandwidth)
		if _, ok := h[canonPolicy]; ok || c.p.Load() != nil {
			t.Errorf("allowed=%v: RateLimit-Policy %q written or cached", d.Allowed, h.Values(HeaderPolicy))
		}
		for _, k := range []string{HeaderRateLimit, HeaderRetryAfter} {
			if h.Get(k) != full.Get(k) {
				t.Errorf("allowed=%v: %s %q, with the policy %q", d.Allowed, k, h.Get(k), full.Get(k))
			}
		}
		got, err := ReadHeaders(h)
		want, _ := ReadHeaders(full)
		if err != nil || len(got) != len(want) {
			t.Fatalf("ReadHeaders(RateLimit alone) = %+v, %v; want %d policies", got, err, len(want))
		}
		for i := range got {
			w := Policy{Name: want[i].Name, Remaining: want[i].Remaining, ResetAfter: want[i].ResetAfter}
			if got[i] != w {
				t.Errorf("policy %d = %+v, want %+v", i, got[i], w)
			}
		}
	}
}

// TestMonthBefore checks the arithmetic month length against the
// calendar of package time for every month from 1600 to 2800, which
// covers leap years, the century rule and the 400-year rule, and for
// months before 1970 (negative day counts).
func TestMonthBefore(t *testing.T) {
	for y := 1600; y <= 2800; y++ {
		for m := time.January; m <= time.December; m++ {
			start := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
			reset := start.AddDate(0, 1, 0)
			if got, want := monthBefore(reset), reset.Sub(start); got != want {
				t.Fatalf("monthBefore(%s) = %v, want %v", reset.Format(time.DateOnly), got, want)
			}
		}
	}
}
