package ratelimit

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/estatecore/whitelabel"
)

// Limiter decides whether a tenant's request may proceed. Implementations
// are safe for concurrent use.
//
// Allow charges the request's cost against the tenant's rate and monthly
// quota when, and only when, it allows the request: a request refused for
// its rate does not use monthly quota, and one refused for the monthly
// quota does not use rate tokens. The implementations in this package
// never return an error for a backend failure; see [Redis].
type Limiter interface {
	Allow(ctx context.Context, req Request) (Decision, error)
}

// Request is what the edge knows about one request when it asks a
// [Limiter]. The limits come from the tenant's effective quotas, so a
// change of plan or override takes effect on the next request.
type Request struct {
	// TenantID identifies the tenant whose limits apply.
	TenantID int64
	// Rate is the sustained rate in requests (cost units) per second, from
	// the requests_per_second quota. Zero or negative means no rate limit.
	Rate float64
	// Burst is the bucket size, from requests_burst. Zero or negative
	// means max(1, ceil(Rate)).
	Burst int
	// Cost is the route's cost (see [CostTable]). Zero or negative means 1.
	// A cost above the burst is charged as the burst, so an expensive
	// route stays reachable for a tenant with a small burst.
	Cost int
	// MonthlyLimit is the api_calls_monthly quota in cost units per UTC
	// calendar month. Zero or negative means unlimited (usage is still
	// counted).
	MonthlyLimit int64
	// Now is the time of the request; it picks the month. Zero means the
	// limiter's clock. The Redis rate check uses Redis TIME instead, so
	// edges with skewed clocks still share one bucket.
	Now time.Time
}

// Decision is a [Limiter]'s answer.
type Decision struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Code is whitelabel.CodeRateLimited or whitelabel.CodeQuotaExceeded
	// when the request is refused, and "" when it is allowed.
	Code whitelabel.ErrorCode
	// Limit is the bucket size (the effective burst) in cost units; zero
	// when the tenant has no rate limit or the decision was made without
	// one (FallbackOpen).
	Limit int64
	// Remaining is the number of cost units that could be spent right now
	// after this decision.
	Remaining int64
	// Window is the time the bucket takes to refill from empty (Limit /
	// Rate); it is the w of the RateLimit-Policy header.
	Window time.Duration
	// RetryAfter is how long to wait before the refused request would be
	// allowed; zero when allowed.
	RetryAfter time.Duration
	// ResetAfter is the time until the bucket is full again.
	ResetAfter time.Duration
	// MonthlyUsed is the tenant's usage this month in cost units,
	// including this request if it was allowed.
	MonthlyUsed int64
	// MonthlyLimit is the request's MonthlyLimit (zero: unlimited).
	MonthlyLimit int64
	// MonthlyReset is the start of the next UTC month, when MonthlyUsed
	// returns to zero.
	MonthlyReset time.Time
	// Degraded reports that the decision was made without the shared
	// backend (Redis unreachable), by the fallback mode.
	Degraded bool
}

// normalized returns r with defaults applied: Burst, Cost (clamped to the
// burst) and Now.
func (r Request) normalized(now func() time.Time) Request {
	if r.Rate > 0 && r.Burst <= 0 {
		r.Burst = int(max(1, math.Ceil(r.Rate)))
	}
	if r.Cost <= 0 {
		r.Cost = 1
	}
	if r.Rate > 0 && r.Cost > r.Burst {
		r.Cost = r.Burst
	}
	if r.Now.IsZero() {
		r.Now = now()
	}
	return r
}

// monthOf returns the number of months since January of year 0 for t in
// UTC: a compact, ordered month key.
func monthOf(t time.Time) int64 {
	y, m, _ := t.UTC().Date()
	return int64(y)*12 + int64(m) - 1
}

// monthStart returns the first instant of month key mk in UTC.
func monthStart(mk int64) time.Time {
	return time.Date(int(mk/12), time.Month(mk%12+1), 1, 0, 0, 0, 0, time.UTC)
}

// monthCache remembers the current month so the hot path does not
// compute calendar dates; it is safe for concurrent use.
type monthCache struct {
	p atomic.Pointer[monthSpan]
}

type monthSpan struct {
	start, end int64 // unix nanoseconds: [start, end)
	mk         int64
	reset      time.Time // the start of the next month
}

// month returns t's month key and the start of the following month.
func (c *monthCache) month(t time.Time) (int64, time.Time) {
	ns := t.UnixNano()
	if s := c.p.Load(); s != nil && ns >= s.start && ns < s.end {
		return s.mk, s.reset
	}
	mk := monthOf(t)
	s := &monthSpan{start: monthStart(mk).UnixNano(), mk: mk, reset: monthStart(mk + 1)}
	s.end = s.reset.UnixNano()
	c.p.Store(s)
	return mk, s.reset
}

// window returns the time to refill burst tokens at rate per second.
func window(rate float64, burst int) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(float64(burst) / rate * float64(time.Second))
}

// secondsDuration converts float seconds to a Duration, clamping negatives
// to zero.
func secondsDuration(s float64) time.Duration {
	if s <= 0 {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}
