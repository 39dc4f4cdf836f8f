package ratelimit

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// PolicyName is the policy name in the RateLimit-Policy and RateLimit
// headers.
const PolicyName = "default"

// Header names written by [SetHeaders]. The first two follow
// draft-ietf-httpapi-ratelimit-headers; the monthly ones follow the
// X-RateLimit-* convention because the draft has no calendar quotas.
const (
	HeaderPolicy           = "RateLimit-Policy"              // "default";q=<Limit>;w=<Window, s>
	HeaderRateLimit        = "RateLimit"                     // "default";r=<Remaining>;t=<ResetAfter, s>
	HeaderRetryAfter       = "Retry-After"                   // seconds, refusals only
	HeaderMonthlyLimit     = "X-RateLimit-Monthly-Limit"     // api_calls_monthly
	HeaderMonthlyRemaining = "X-RateLimit-Monthly-Remaining" // limit - used, at least 0
	HeaderMonthlyReset     = "X-RateLimit-Monthly-Reset"     // unix seconds of the next UTC month
)

// SetHeaders sets the rate limit headers for d on h, replacing any the
// upstream sent:
//
//   - RateLimit-Policy and RateLimit when the tenant has a rate limit
//     (d.Limit > 0). The policy's quota q is the bucket size and its
//     window w the seconds to refill it from empty, so q/w is the
//     sustained rate; r is the units left now and t the seconds until the
//     bucket is full. Seconds are rounded up.
//   - Retry-After, in whole seconds and at least 1, when d refuses.
//   - X-RateLimit-Monthly-Limit, -Remaining and -Reset when the tenant has
//     a monthly quota (d.MonthlyLimit > 0).
func SetHeaders(h http.Header, d Decision) {
	if d.Limit > 0 {
		h.Set(HeaderPolicy, `"`+PolicyName+`";q=`+strconv.FormatInt(d.Limit, 10)+
			";w="+strconv.FormatInt(max(1, ceilSeconds(d.Window)), 10))
		h.Set(HeaderRateLimit, `"`+PolicyName+`";r=`+strconv.FormatInt(max(0, d.Remaining), 10)+
			";t="+strconv.FormatInt(ceilSeconds(d.ResetAfter), 10))
	}
	if !d.Allowed {
		h.Set(HeaderRetryAfter, strconv.FormatInt(max(1, ceilSeconds(d.RetryAfter)), 10))
	}
	if d.MonthlyLimit > 0 {
		h.Set(HeaderMonthlyLimit, strconv.FormatInt(d.MonthlyLimit, 10))
		h.Set(HeaderMonthlyRemaining, strconv.FormatInt(max(0, d.MonthlyLimit-d.MonthlyUsed), 10))
		h.Set(HeaderMonthlyReset, strconv.FormatInt(d.MonthlyReset.Unix(), 10))
	}
}

// ceilSeconds returns d in whole seconds, rounded up, never negative.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(math.Ceil(d.Seconds()))
}
