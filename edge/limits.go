package edge

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/edge/ratelimit"
)

// tenantLimits are the quotas the edge enforces for one tenant, taken
// from its effective quotas (plan overlaid by overrides) when its
// snapshot entry is built, so a quota change reaches the limiter with the
// change feed and a request reads them without a map lookup.
type tenantLimits struct {
	rate    float64 // requests_per_second; 0: none
	burst   int     // requests_burst; 0: the limiter's default
	monthly int64   // api_calls_monthly; 0: unlimited
	// bandwidth is bandwidth_gb_monthly in bytes (GB = 10^9); 0:
	// unlimited. Enforced by checkBandwidth (bandwidth.go), not by
	// Config.Limiter, so it is not part of limited.
	bandwidth int64
}

// limited reports whether the tenant has anything the limiter enforces.
func (l tenantLimits) limited() bool { return l.rate > 0 || l.monthly > 0 }

// decidesRate reports whether the limits layer asks the limiter about st's
// request, and so writes its quota headers.
func (s *Server) decidesRate(st *reqState) bool {
	return s.cfg.Limiter != nil && st.tenant.limits.limited()
}

// limitsOf returns t's enforced quotas without building the effective
// quota map (a snapshot of a million tenants builds a million entries).
func limitsOf(plans whitelabel.Plans, t *whitelabel.Tenant) tenantLimits {
	q := func(name string) int64 {
		if v, ok := t.ResourceQuotas[name]; ok {
			return v
		}
		return plans[t.Plan].Quotas[name]
	}
	l := tenantLimits{
		rate:    float64(q(whitelabel.QuotaRequestsPerSecond)),
		monthly: q(whitelabel.QuotaAPICallsMonthly),
	}
	if b := q(whitelabel.QuotaRequestsBurst); b > 0 {
		l.burst = int(min(b, math.MaxInt32))
	}
	if gb := q(whitelabel.QuotaBandwidthGBMonthly); gb > 0 {
		l.bandwidth = int64(min(float64(gb)*1e9, math.MaxInt64))
	}
	return l
}

// limitRefusal is a 429 from the rate limit layer: the public error and
// when a retry can succeed, which writeError adds to the JSON body.
type limitRefusal struct {
	err   *whitelabel.Error
	reset time.Time
}

func (e *limitRefusal) Error() string { return e.err.Error() }
func (e *limitRefusal) Unwrap() error { return e.err }

// newLimitRefusal describes a refusing decision made at now.
func newLimitRefusal(d ratelimit.Decision, now time.Time) *limitRefusal {
	wait := ratelimit.RetryAfterSeconds(d.RetryAfter) // as in the Retry-After header
	if d.Code == whitelabel.CodeQuotaExceeded {
		return &limitRefusal{
			err: &whitelabel.Error{Code: whitelabel.CodeQuotaExceeded,
				Message: fmt.Sprintf("monthly API call quota of %d exhausted; it resets at %s", d.MonthlyLimit, d.MonthlyReset.UTC().Format(time.RFC3339))},
			reset: d.MonthlyReset,
		}
	}
	code := d.Code
	if code == "" {
		code = whitelabel.CodeRateLimited
	}
	return &limitRefusal{
		err:   &whitelabel.Error{Code: code, Message: "too many requests; retry in " + strconv.FormatInt(wait, 10) + "s"},
		reset: now.Add(d.RetryAfter),
	}
}

// limits enforces the tenant's quotas, bandwidth first: a tenant out of
// bytes spends no API quota.
//
//   - The monthly bandwidth quota (bandwidth_gb_monthly) is a check of the
//     meter's memory (Config.Bandwidth; see bandwidth.go). A tenant whose
//     bytes this UTC month have reached it is refused with 429
//     quota_exceeded, the next month's start as the reset time and
//     Retry-After.
//   - The rate (requests_per_second with requests_burst) and the monthly
//     API quota (api_calls_monthly) are charged the request's route cost
//     through Config.Limiter, which refuses with 429 rate_limited or
//     quota_exceeded (Retry-After, the reset time in the JSON body, the
//     branded page for browsers). The limiters in package ratelimit never
//     fail; an error from another Limiter lets the request through and is
//     logged.
//
// Every answer of a tenant with a quota carries one RateLimit line
// listing the "default" (rate), "monthly" and "bandwidth" policies that
// apply; refusals, and every answer with Config.RateLimitPolicyAlways,
// also one RateLimit-Policy line. Tenants without quotas pass untouched.
func (s *Server) limits(next http.Handler) http.Handler {
	if s.cfg.Limiter == nil && s.cfg.Bandwidth == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateFrom(r.Context())
		now := st.start // the request's clock reading, not another one
		var bandwidth [1]ratelimit.Policy
		extra := bandwidth[:0]
		if s.cfg.Bandwidth != nil && st.tenant.limits.bandwidth > 0 {
			p, refused := s.checkBandwidth(w, r, st)
			if refused {
				return
			}
			bandwidth[0] = p
			extra = bandwidth[:]
		}
		decides := s.decidesRate(st)
		if !decides && len(extra) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		d := ratelimit.Decision{Allowed: true} // the bandwidth quota alone: nothing to decide
		if decides {
			d = s.decideRate(r, st)
		}
		withPolicy := !d.Allowed || s.cfg.RateLimitPolicyAlways
		st.tenant.policies.SetHeadersIn(w.Header(), &st.limitVals, withPolicy, d, now, extra...)
		if !d.Allowed {
			s.writeError(w, r, newLimitRefusal(d, now))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// decideRate asks Config.Limiter about st's request at its start time.
// A Limiter error allows the request (logged), with no policy of its
// own to list.
func (s *Server) decideRate(r *http.Request, st *reqState) ratelimit.Decision {
	l := st.tenant.limits
	d, err := s.cfg.Limiter.Allow(r.Context(), ratelimit.Request{
		TenantID:     st.tenant.tenant.ID,
		Rate:         l.rate,
		Burst:        l.burst,
		Cost:         s.costs.Cost(r.Method, r.URL.Path),
		MonthlyLimit: l.monthly,
		Now:          st.start,
	})
	if err != nil {
		s.log.Warn("edge: rate limiter failed; allowing the request", "error", err, "request_id", st.requestID, "tenant", st.tenant.key)
		return ratelimit.Decision{Allowed: true}
	}
	return d
}
