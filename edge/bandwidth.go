package edge

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/edge/bandwidth"
)

// BandwidthMeter counts each tenant's bytes per UTC month for the
// bandwidth_gb_monthly quota; *bandwidth.Meter is the implementation.
// Used and Add run on the request path and must not do I/O.
type BandwidthMeter interface {
	// Used returns the tenant's bytes in now's UTC month and the start
	// of the next month.
	Used(tenantID int64, now time.Time) (used int64, reset time.Time)
	// Add counts n bytes for the tenant in now's month.
	Add(tenantID int64, now time.Time, n int64)
	// Run does the meter's background work (sharing counts, seeding)
	// until ctx ends.
	Run(ctx context.Context)
}

var _ BandwidthMeter = (*bandwidth.Meter)(nil)

// Header names of the bandwidth quota, set on every answer for a tenant
// with a bandwidth_gb_monthly quota when Config.Bandwidth is set. Values
// are bytes (GB = 10^9 bytes) and unix seconds.
const (
	HeaderBandwidthLimit     = "X-Bandwidth-Monthly-Limit"     // bandwidth_gb_monthly × 10^9
	HeaderBandwidthRemaining = "X-Bandwidth-Monthly-Remaining" // limit - used, at least 0
	HeaderBandwidthReset     = "X-Bandwidth-Monthly-Reset"     // unix seconds of the next UTC month
)

var (
	canonBandwidthLimit     = http.CanonicalHeaderKey(HeaderBandwidthLimit)
	canonBandwidthRemaining = http.CanonicalHeaderKey(HeaderBandwidthRemaining)
	canonBandwidthReset     = http.CanonicalHeaderKey(HeaderBandwidthReset)
)

// bandwidthLimit refuses the requests of a tenant whose bytes this UTC
// month (request plus response bodies, as counted by Config.Bandwidth)
// have reached its bandwidth_gb_monthly quota: 429 quota_exceeded with
// the next month's start as the reset time and Retry-After. The check
// reads the meter's memory only. Responses are counted when finished
// (addBandwidth), so the requests in flight when the quota runs out
// still complete: the overshoot is bounded by them (and, on a fleet, by
// one flush interval of the other edges' traffic). Tenants without the
// quota, and every tenant when Config.Bandwidth is nil, pass untouched.
func (s *Server) bandwidthLimit(next http.Handler) http.Handler {
	if s.cfg.Bandwidth == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateFrom(r.Context())
		limit := st.tenant.limits.bandwidth
		if limit <= 0 {
			next.ServeHTTP(w, r)
			return
		}
		now := st.start // the request's clock reading, not another one
		used, reset := s.cfg.Bandwidth.Used(st.tenant.tenant.ID, now)
		setBandwidthHeaders(w.Header(), limit, used, reset)
		if used >= limit {
			secs := max(1, int64((reset.Sub(now)+time.Second-1)/time.Second))
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			s.writeError(w, r, &limitRefusal{
				err: &whitelabel.Error{Code: whitelabel.CodeQuotaExceeded,
					Message: "monthly bandwidth quota of " + strconv.FormatInt(limit/bandwidth.GB, 10) +
						" GB exhausted; it resets at " + reset.UTC().Format(time.RFC3339)},
				reset: reset,
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// setBandwidthHeaders sets the X-Bandwidth-Monthly-* headers, formatted
// into one string shared by the three values (two allocations).
func setBandwidthHeaders(h http.Header, limit, used int64, reset time.Time) {
	var buf [64]byte
	b := strconv.AppendInt(buf[:0], limit, 10)
	e1 := len(b)
	b = strconv.AppendInt(b, max(0, limit-used), 10)
	e2 := len(b)
	b = strconv.AppendInt(b, reset.Unix(), 10)
	all := string(b)
	vals := []string{all[:e1], all[e1:e2], all[e2:]}
	h[canonBandwidthLimit] = vals[0:1:1]
	h[canonBandwidthRemaining] = vals[1:2:2]
	h[canonBandwidthReset] = vals[2:3:3]
}

// addBandwidth counts a finished request's body bytes, in and out, for
// its tenant's bandwidth quota. Headers are not counted, nor the bytes
// of a hijacked connection (WebSocket) after the upgrade.
func (s *Server) addBandwidth(st *reqState, bytesIn int64) {
	if s.cfg.Bandwidth == nil || st.tenant == nil || st.rec == nil || st.tenant.limits.bandwidth <= 0 {
		return
	}
	s.cfg.Bandwidth.Add(st.tenant.tenant.ID, st.start, bytesIn+st.rec.bytes)
}

// runBandwidth runs Config.Bandwidth's background work until ctx ends.
func (s *Server) runBandwidth(ctx context.Context) {
	if s.cfg.Bandwidth != nil {
		s.cfg.Bandwidth.Run(ctx)
	}
}
