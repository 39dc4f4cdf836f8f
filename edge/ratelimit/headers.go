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
	// This runs on every allowed request, so all values are formatted into
	// one buffer and share one string and one backing slice: two
	// allocations instead of one or more per header.
	var buf [256]byte
	var keys [6]string
	var ends [6]int
	b, n := buf[:0], 0
	if d.Limit > 0 {
		b = append(b, `"`+PolicyName+`";q=`...)
		b = strconv.AppendInt(b, d.Limit, 10)
		b = append(b, ";w="...)
		b = strconv.AppendInt(b, max(1, ceilSeconds(d.Window)), 10)
		keys[n], ends[n], n = canonPolicy, len(b), n+1
		b = append(b, `"`+PolicyName+`";r=`...)
		b = strconv.AppendInt(b, max(0, d.Remaining), 10)
		b = append(b, ";t="...)
		b = strconv.AppendInt(b, ceilSeconds(d.ResetAfter), 10)
		keys[n], ends[n], n = canonRateLimit, len(b), n+1
	}
	if !d.Allowed {
		b = strconv.AppendInt(b, max(1, ceilSeconds(d.RetryAfter)), 10)
		keys[n], ends[n], n = canonRetryAfter, len(b), n+1
	}
	if d.MonthlyLimit > 0 {
		b = strconv.AppendInt(b, d.MonthlyLimit, 10)
		keys[n], ends[n], n = canonMonthlyLimit, len(b), n+1
		b = strconv.AppendInt(b, max(0, d.MonthlyLimit-d.MonthlyUsed), 10)
		keys[n], ends[n], n = canonMonthlyRemaining, len(b), n+1
		b = strconv.AppendInt(b, d.MonthlyReset.Unix(), 10)
		keys[n], ends[n], n = canonMonthlyReset, len(b), n+1
	}
	if n == 0 {
		return
	}
	all := string(b)
	vals := make([]string, n)
	prev := 0
	for i := 0; i < n; i++ {
		vals[i] = all[prev:ends[i]]
		prev = ends[i]
		h[keys[i]] = vals[i : i+1 : i+1]
	}
}

// Canonical forms of the header names, so SetHeaders can write the map
// directly.
var (
	canonPolicy           = http.CanonicalHeaderKey(HeaderPolicy)
	canonRateLimit        = http.CanonicalHeaderKey(HeaderRateLimit)
	canonRetryAfter       = http.CanonicalHeaderKey(HeaderRetryAfter)
	canonMonthlyLimit     = http.CanonicalHeaderKey(HeaderMonthlyLimit)
	canonMonthlyRemaining = http.CanonicalHeaderKey(HeaderMonthlyRemaining)
	canonMonthlyReset     = http.CanonicalHeaderKey(HeaderMonthlyReset)
)

// ceilSeconds returns d in whole seconds, rounded up, never negative.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(math.Ceil(d.Seconds()))
}
