package edge

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/edge/bandwidth"
	"github.com/estatecore/whitelabel/edge/ratelimit"
)

// BandwidthMeter counts each tenant's bytes per UTC month for the
// bandwidth_gb_monthly quota; *bandwidth.Meter is the implementation.
// Used and Add run on the request path and must not do I/O.
type BandwidthMeter interface {
	// UsedIn returns the tenant's bytes in now's UTC month and the
	// start of the next month. s is the tenant's slot in its snapshot
	// entry, where the meter may keep the tenant's counter.
	UsedIn(s *bandwidth.Slot, tenantID int64, now time.Time) (used int64, reset time.Time)
	// AddIn counts n bytes for the tenant in now's month.
	AddIn(s *bandwidth.Slot, tenantID int64, now time.Time, n int64)
	// Run does the meter's background work (sharing counts, seeding)
	// until ctx ends.
	Run(ctx context.Context)
}

var _ BandwidthMeter = (*bandwidth.Meter)(nil)

// checkBandwidth is the bandwidth step of the limits layer (limits.go)
// for a tenant with the bandwidth_gb_monthly quota: it returns the
// quota as a policy for the RateLimit fields, or refuses the request
// (429 quota_exceeded, the next month's start as the reset time,
// Retry-After) and reports so when the tenant's bytes this UTC month, as
// counted by Config.Bandwidth, have reached it. The check reads the
// meter's memory only. Responses are counted when finished
// (addBandwidth), so the requests in flight when the quota runs out
// still complete: the overshoot is bounded by them (and, on a fleet, by
// one flush interval of the other edges' traffic).
func (s *Server) checkBandwidth(w http.ResponseWriter, r *http.Request, st *reqState) (p ratelimit.Policy, refused bool) {
	limit := st.tenant.limits.bandwidth
	now := st.start
	used, reset := s.cfg.Bandwidth.UsedIn(&st.tenant.bandwidth, st.tenant.tenant.ID, now)
	p = ratelimit.MonthlyPolicy(ratelimit.PolicyBandwidth, ratelimit.UnitContentBytes, limit, used, reset, now)
	if used < limit {
		return p, false
	}
	ratelimit.WriteHeaders(w.Header(), max(time.Second, reset.Sub(now)), p)
	s.writeError(w, r, &limitRefusal{
		err: &whitelabel.Error{Code: whitelabel.CodeQuotaExceeded,
			Message: "monthly bandwidth quota of " + strconv.FormatInt(limit/bandwidth.GB, 10) +
				" GB exhausted; it resets at " + reset.UTC().Format(time.RFC3339)},
		reset: reset,
	})
	return p, true
}

// addBandwidth counts a finished request's body bytes, in and out, for
// its tenant's bandwidth quota. Headers are not counted, nor the bytes
// of a hijacked connection (WebSocket) after the upgrade.
func (s *Server) addBandwidth(st *reqState, bytesIn int64) {
	if s.cfg.Bandwidth == nil || st.tenant == nil || st.rec == nil || st.tenant.limits.bandwidth <= 0 {
		return
	}
	s.cfg.Bandwidth.AddIn(&st.tenant.bandwidth, st.tenant.tenant.ID, st.start, bytesIn+st.rec.bytes)
}

// runBandwidth runs Config.Bandwidth's background work until ctx ends.
func (s *Server) runBandwidth(ctx context.Context) {
	if s.cfg.Bandwidth != nil {
		s.cfg.Bandwidth.Run(ctx)
	}
}
