package ratelimit

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Policy names in the RateLimit-Policy and RateLimit fields.
const (
	// PolicyName is the rate: requests_per_second with requests_burst.
	PolicyName = "default"
	// PolicyMonthly is the api_calls_monthly quota, per UTC month.
	PolicyMonthly = "monthly"
	// PolicyBandwidth is the bandwidth_gb_monthly quota, in bytes
	// (qu="content-bytes"), per UTC month.
	PolicyBandwidth = "bandwidth"
)

// UnitContentBytes is the qu of a quota counted in body bytes.
const UnitContentBytes = "content-bytes"

// Header names written by [SetHeaders] and [WriteHeaders]
// (draft-ietf-httpapi-ratelimit-headers).
const (
	HeaderPolicy     = "RateLimit-Policy" // "default";q=<Limit>;w=<Window, s>, "monthly";q=…;w=…, …
	HeaderRateLimit  = "RateLimit"        // "default";r=<Remaining>;t=<ResetAfter, s>, "monthly";r=…;t=…, …
	HeaderRetryAfter = "Retry-After"      // seconds, refusals only
)

// Policy is one quota as the RateLimit-Policy and RateLimit fields list
// it: its name, quota q (in unit qu, requests when empty) per window w,
// and, in RateLimit, the units r left and the time t until the window
// resets. Every quota of a tenant is one item of the same two fields,
// so an answer carries two header lines however many quotas apply.
type Policy struct {
	Name       string
	Unit       string
	Quota      int64
	Window     time.Duration
	Remaining  int64
	ResetAfter time.Duration
}

// MonthlyPolicy returns the policy of a quota of limit units per UTC
// month of which used are spent, as of now: its window is the month's
// length and it resets at reset, the start of the next month.
func MonthlyPolicy(name, unit string, limit, used int64, reset, now time.Time) Policy {
	return Policy{Name: name, Unit: unit, Quota: limit, Window: monthBefore(reset),
		Remaining: max(0, limit-used), ResetAfter: reset.Sub(now)}
}

// monthBefore returns the length of the UTC month that ends at reset,
// the first instant of a month. It is arithmetic on the day count, not
// time.Date: MonthlyPolicy runs twice on every limited request.
func monthBefore(reset time.Time) time.Duration {
	last := floorDiv(reset.Unix(), 86400) - 1 // the month's last day, in days since 1970-01-01
	return time.Duration(dayOfMonth(last)) * 24 * time.Hour
}

// dayOfMonth returns the day of the month (1–31) of the proleptic
// Gregorian date days after 1970-01-01: Howard Hinnant's civil_from_days
// (http://howardhinnant.github.io/date_algorithms.html), reduced to the
// day.
func dayOfMonth(days int64) int64 {
	z := days + 719468 // days since 0000-03-01
	era := floorDiv(z, 146097)
	doe := z - era*146097                                  // day of the 400-year era, [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // year of the era, [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // day of the year from March 1, [0, 365]
	mp := (5*doy + 2) / 153                                // month from March, [0, 11]
	return doy - (153*mp+2)/5 + 1
}

// floorDiv is a / b rounded toward negative infinity, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// SetHeaders sets the rate limit fields for d, as of now, replacing any
// the upstream sent: the "default" policy when the tenant has a rate
// limit (d.Limit > 0; q is the bucket size and w the seconds to refill it
// from empty, so q/w is the sustained rate; r is the units left now and t
// the seconds until the bucket is full), the "monthly" policy when it has
// a monthly quota (d.MonthlyLimit > 0), then extra (the edge's bandwidth
// quota); and Retry-After when d refuses. See [WriteHeaders].
func SetHeaders(h http.Header, d Decision, now time.Time, extra ...Policy) {
	(*PolicyCache)(nil).SetHeaders(h, d, now, extra...)
}

// WriteHeaders sets RateLimit-Policy and RateLimit listing ps (neither
// when ps is empty), and Retry-After in whole seconds when retryAfter is
// positive. Seconds are rounded up; w is at least 1.
func WriteHeaders(h http.Header, retryAfter time.Duration, ps ...Policy) {
	(*PolicyCache)(nil).WriteHeaders(h, retryAfter, ps...)
}

// PolicyCache keeps the RateLimit-Policy value last written for one
// tenant. That value changes only with the tenant's quotas or the
// month's length, so nearly every answer reuses it instead of formatting
// it again. It is safe for concurrent use; the zero value is ready, and a
// nil *PolicyCache caches nothing.
type PolicyCache struct{ p atomic.Pointer[cachedPolicy] }

// maxPolicies is how many policies a cache entry describes: the rate,
// the monthly quota and the bandwidth quota.
const maxPolicies = 3

type cachedPolicy struct {
	n   int
	key [maxPolicies]policyKey
	val []string // the RateLimit-Policy value; len and cap 1, shared
}

// policyKey is what of a Policy the RateLimit-Policy field shows.
type policyKey struct {
	name, unit string
	quota, w   int64
}

func (p Policy) key() policyKey {
	return policyKey{name: p.Name, unit: p.Unit, quota: p.Quota, w: max(1, ceilSeconds(p.Window))}
}

// lookup returns the cached RateLimit-Policy value for ps, or nil.
func (c *PolicyCache) lookup(ps []Policy) []string {
	if c == nil {
		return nil
	}
	e := c.p.Load()
	if e == nil || e.n != len(ps) {
		return nil
	}
	for i := range ps {
		if e.key[i] != ps[i].key() {
			return nil
		}
	}
	return e.val
}

// store caches val as the RateLimit-Policy value of ps.
func (c *PolicyCache) store(ps []Policy, val []string) {
	if c == nil || len(ps) > maxPolicies {
		return
	}
	e := &cachedPolicy{n: len(ps), val: val}
	for i, p := range ps {
		e.key[i] = p.key()
	}
	c.p.Store(e)
}

// SetHeaders is [SetHeaders] with the RateLimit-Policy value taken from
// c when the tenant's policies are those it last wrote.
func (c *PolicyCache) SetHeaders(h http.Header, d Decision, now time.Time, extra ...Policy) {
	c.SetHeadersIn(h, nil, true, d, now, extra...)
}

// Values is the storage of the header values one answer gets. A caller
// that keeps one with each request (the edge keeps it in its request
// state) passes it to [PolicyCache.SetHeadersIn], which then allocates
// only the formatted text. A Values must not be reused while the header
// it was set in is still in use.
type Values [3]string

// SetHeadersIn is [PolicyCache.SetHeaders] with the header values stored
// in vals (nil allocates them) and RateLimit-Policy written only when
// withPolicy is true. RateLimit alone says how much of each quota is left
// and when it resets; the policy says how large each quota is, which
// changes only with the tenant's plan (the draft: the field "SHOULD
// remain consistent over a sequence of HTTP responses"), so a caller may
// send it only on refusals and save every other answer its bytes.
func (c *PolicyCache) SetHeadersIn(h http.Header, vals *Values, withPolicy bool, d Decision, now time.Time, extra ...Policy) {
	var ps [maxPolicies]Policy
	n := 0
	if d.Limit > 0 {
		ps[n] = Policy{Name: PolicyName, Quota: d.Limit, Window: d.Window, Remaining: d.Remaining, ResetAfter: d.ResetAfter}
		n++
	}
	if d.MonthlyLimit > 0 {
		ps[n] = MonthlyPolicy(PolicyMonthly, "", d.MonthlyLimit, d.MonthlyUsed, d.MonthlyReset, now)
		n++
	}
	var retry time.Duration
	if !d.Allowed {
		retry = max(time.Second, d.RetryAfter)
	}
	c.writeHeaders(h, vals, withPolicy, retry, append(ps[:n], extra...))
}

// WriteHeaders is [WriteHeaders] with the RateLimit-Policy value taken
// from c when ps are the policies it last wrote.
func (c *PolicyCache) WriteHeaders(h http.Header, retryAfter time.Duration, ps ...Policy) {
	c.writeHeaders(h, nil, true, retryAfter, ps)
}

// writeHeaders is WriteHeaders with the values stored in vals, or in a
// new Values when vals is nil, and RateLimit-Policy left out unless
// withPolicy.
func (c *PolicyCache) writeHeaders(h http.Header, vals *Values, withPolicy bool, retryAfter time.Duration, ps []Policy) {
	// This runs on every allowed request, so the values it formats share
	// one buffer, one string and one backing array: at most two
	// allocations however many policies.
	var buf [512]byte
	b := buf[:0]
	var policy []string
	if withPolicy {
		if policy = c.lookup(ps); policy == nil {
			b = appendPolicyField(b, ps)
		}
	}
	policyEnd := len(b)
	for i, p := range ps {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendName(b, p.Name)
		b = append(b, ";r="...)
		b = strconv.AppendInt(b, max(0, p.Remaining), 10)
		b = append(b, ";t="...)
		b = strconv.AppendInt(b, ceilSeconds(p.ResetAfter), 10)
	}
	rateEnd := len(b)
	if retryAfter > 0 {
		b = strconv.AppendInt(b, RetryAfterSeconds(retryAfter), 10)
	}
	if len(b) == 0 {
		return
	}
	all := string(b)
	if vals == nil {
		vals = new(Values)
	}
	if len(ps) > 0 {
		if withPolicy {
			if policy == nil {
				// The cache shares this value with later answers, so it
				// gets a backing of its own, not vals.
				policy = []string{all[:policyEnd]}
				c.store(ps, policy)
			}
			h[canonPolicy] = policy
		}
		vals[0] = all[policyEnd:rateEnd]
		h[canonRateLimit] = vals[0:1:1]
	}
	if retryAfter > 0 {
		vals[1] = all[rateEnd:]
		h[canonRetryAfter] = vals[1:2:2]
	}
}

// appendPolicyField appends the RateLimit-Policy value listing ps.
func appendPolicyField(b []byte, ps []Policy) []byte {
	for i, p := range ps {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendName(b, p.Name)
		b = append(b, ";q="...)
		b = strconv.AppendInt(b, p.Quota, 10)
		if p.Unit != "" {
			b = append(b, `;qu="`...)
			b = append(b, p.Unit...)
			b = append(b, '"')
		}
		b = append(b, ";w="...)
		b = strconv.AppendInt(b, p.key().w, 10)
	}
	return b
}

// appendName appends a policy name as a structured-field string.
func appendName(b []byte, name string) []byte {
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"')
}

// DeleteHeaders removes the RateLimit-Policy and RateLimit fields from h
// (not Retry-After, which also answers other statuses). A proxy that set
// its own calls it on the upstream's response, so that the client sees
// one list of policies, not the two combined.
func DeleteHeaders(h http.Header) {
	delete(h, canonPolicy)
	delete(h, canonRateLimit)
}

// Canonical forms of the header names, so WriteHeaders can write the map
// directly.
var (
	canonPolicy     = http.CanonicalHeaderKey(HeaderPolicy)
	canonRateLimit  = http.CanonicalHeaderKey(HeaderRateLimit)
	canonRetryAfter = http.CanonicalHeaderKey(HeaderRetryAfter)
)

// RetryAfterSeconds is the Retry-After value for a wait of d: whole
// seconds rounded up, at least 1.
func RetryAfterSeconds(d time.Duration) int64 { return max(1, ceilSeconds(d)) }

// ceilSeconds returns d in whole seconds, rounded up, never negative.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d-1)/time.Second) + 1
}

// ReadHeaders parses the RateLimit-Policy and RateLimit fields of h, as
// [WriteHeaders] writes them, into policies in order; Window and
// ResetAfter are whole seconds. RateLimit without RateLimit-Policy (an
// answer that left the policy out, see [PolicyCache.SetHeadersIn]) gives
// each policy's Name, Remaining and ResetAfter, with Quota and Window 0.
// It is for clients and tests of this package's own output, not a
// general structured-field parser.
func ReadHeaders(h http.Header) ([]Policy, error) {
	policy, rate := h.Get(HeaderPolicy), h.Get(HeaderRateLimit)
	if policy == "" && rate == "" {
		return nil, nil
	}
	rItems := strings.Split(rate, ", ")
	if policy == "" {
		return readRemaining(rItems)
	}
	pItems := strings.Split(policy, ", ")
	if len(pItems) != len(rItems) {
		return nil, fmt.Errorf("%s lists %d policies, %s %d", HeaderPolicy, len(pItems), HeaderRateLimit, len(rItems))
	}
	ps := make([]Policy, len(pItems))
	for i := range pItems {
		pName, pParams, err := splitItem(pItems[i])
		if err != nil {
			return nil, err
		}
		rName, rParams, err := splitItem(rItems[i])
		if err != nil {
			return nil, err
		}
		if pName != rName {
			return nil, fmt.Errorf("policy %d is %q in %s but %q in %s", i, pName, HeaderPolicy, rName, HeaderRateLimit)
		}
		p := Policy{Name: pName, Unit: strings.Trim(pParams["qu"], `"`)}
		var errs [4]error
		var w, t int64
		p.Quota, errs[0] = strconv.ParseInt(pParams["q"], 10, 64)
		w, errs[1] = strconv.ParseInt(pParams["w"], 10, 64)
		p.Remaining, errs[2] = strconv.ParseInt(rParams["r"], 10, 64)
		t, errs[3] = strconv.ParseInt(rParams["t"], 10, 64)
		if err := errors.Join(errs[:]...); err != nil {
			return nil, fmt.Errorf("policy %q: %w", pName, err)
		}
		p.Window, p.ResetAfter = time.Duration(w)*time.Second, time.Duration(t)*time.Second
		ps[i] = p
	}
	return ps, nil
}

// readRemaining parses RateLimit items without their policies.
func readRemaining(items []string) ([]Policy, error) {
	ps := make([]Policy, len(items))
	for i, item := range items {
		name, params, err := splitItem(item)
		if err != nil {
			return nil, err
		}
		r, errR := strconv.ParseInt(params["r"], 10, 64)
		t, errT := strconv.ParseInt(params["t"], 10, 64)
		if err := errors.Join(errR, errT); err != nil {
			return nil, fmt.Errorf("policy %q: %w", name, err)
		}
		ps[i] = Policy{Name: name, Remaining: r, ResetAfter: time.Duration(t) * time.Second}
	}
	return ps, nil
}

// splitItem splits `"name";k=v;…` into the name and its parameters.
func splitItem(item string) (string, map[string]string, error) {
	parts := strings.Split(item, ";")
	name, err := strconv.Unquote(parts[0])
	if err != nil {
		return "", nil, fmt.Errorf("policy name %s: %w", parts[0], err)
	}
	params := make(map[string]string, len(parts)-1)
	for _, kv := range parts[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return "", nil, fmt.Errorf("policy %q: parameter %q has no value", name, kv)
		}
		params[k] = v
	}
	return name, params, nil
}
