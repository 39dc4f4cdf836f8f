package ratelimit

import (
	"net/http"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
)

func TestSetHeaders(t *testing.T) {
	reset := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		d    Decision
		want map[string]string // "" means absent
	}{
		{
			name: "allowed with rate and monthly quota",
			d: Decision{Allowed: true, Limit: 100, Remaining: 42, Window: time.Second, ResetAfter: 580 * time.Millisecond,
				MonthlyUsed: 1234, MonthlyLimit: 100000, MonthlyReset: reset},
			want: map[string]string{
				HeaderPolicy: `"default";q=100;w=1`, HeaderRateLimit: `"default";r=42;t=1`, HeaderRetryAfter: "",
				HeaderMonthlyLimit: "100000", HeaderMonthlyRemaining: "98766", HeaderMonthlyReset: "1796083200",
			},
		},
		{
			name: "rate limited",
			d: Decision{Code: whitelabel.CodeRateLimited, Limit: 20, Remaining: 0, Window: 2 * time.Second,
				RetryAfter: 100 * time.Millisecond, ResetAfter: 2 * time.Second},
			want: map[string]string{
				HeaderPolicy: `"default";q=20;w=2`, HeaderRateLimit: `"default";r=0;t=2`, HeaderRetryAfter: "1",
				HeaderMonthlyLimit: "",
			},
		},
		{
			name: "quota exceeded",
			d: Decision{Code: whitelabel.CodeQuotaExceeded, Limit: 10, Remaining: 10, Window: 1500 * time.Millisecond,
				RetryAfter: 36*time.Hour + time.Millisecond, MonthlyUsed: 100, MonthlyLimit: 100, MonthlyReset: reset},
			want: map[string]string{
				HeaderPolicy: `"default";q=10;w=2`, HeaderRateLimit: `"default";r=10;t=0`, HeaderRetryAfter: "129601",
				HeaderMonthlyLimit: "100", HeaderMonthlyRemaining: "0", HeaderMonthlyReset: "1796083200",
			},
		},
		{
			name: "no limits",
			d:    Decision{Allowed: true, MonthlyUsed: 7},
			want: map[string]string{HeaderPolicy: "", HeaderRateLimit: "", HeaderRetryAfter: "", HeaderMonthlyLimit: ""},
		},
		{
			name: "fallback closed",
			d:    Decision{Code: whitelabel.CodeRateLimited, Degraded: true},
			want: map[string]string{HeaderPolicy: "", HeaderRetryAfter: "1"},
		},
		{
			name: "used above the limit reports zero remaining",
			d:    Decision{Allowed: true, MonthlyUsed: 120, MonthlyLimit: 100, MonthlyReset: reset},
			want: map[string]string{HeaderMonthlyRemaining: "0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			h.Set(HeaderRetryAfter, "stale from upstream")
			SetHeaders(h, tt.d)
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
		})
	}
}

func BenchmarkSetHeaders(b *testing.B) {
	d := Decision{Allowed: true, Limit: 100, Remaining: 42, Window: 2 * time.Second, ResetAfter: time.Second,
		MonthlyLimit: 100000, MonthlyUsed: 5, MonthlyReset: time.Unix(1_800_000_000, 0)}
	b.ReportAllocs()
	for b.Loop() {
		h := make(http.Header, 8)
		SetHeaders(h, d)
	}
}
