package control

import (
	"context"
	"math"
	"net/http"
	"time"

	"github.com/estatecore/whitelabel"
)

// usageStore returns the store's usage side, or a CodeUnavailable error
// for a store without one.
func (s *Server) usageStore() (whitelabel.UsageStore, error) {
	us, ok := s.store.(whitelabel.UsageStore)
	if !ok {
		return nil, &whitelabel.Error{Code: whitelabel.CodeUnavailable, Message: "usage metering is not available on this store"}
	}
	return us, nil
}

// usageBucket is one bucket of the usage endpoint.
type usageBucket struct {
	Start          time.Time `json:"start"`
	Requests       int64     `json:"requests"`
	UpstreamErrors int64     `json:"upstream_errors"`
	BytesIn        int64     `json:"bytes_in"`
	BytesOut       int64     `json:"bytes_out"`
	P50ms          float64   `json:"p50_ms"`
	P95ms          float64   `json:"p95_ms"`
	P99ms          float64   `json:"p99_ms"`
}

func newUsageBucket(r whitelabel.UsageRecord) usageBucket {
	ms := func(q float64) float64 {
		return math.Round(float64(r.LatencyQuantile(q))/float64(time.Millisecond)*1000) / 1000
	}
	return usageBucket{Start: r.Minute.UTC(), Requests: r.Requests, UpstreamErrors: r.UpstreamErrors,
		BytesIn: r.BytesIn, BytesOut: r.BytesOut, P50ms: ms(0.50), P95ms: ms(0.95), P99ms: ms(0.99)}
}

// usageView is the body of GET /tenants/{id}/usage.
type usageView struct {
	TenantID    int64                       `json:"tenant_id"`
	Granularity whitelabel.UsageGranularity `json:"granularity"`
	From        time.Time                   `json:"from"`
	To          time.Time                   `json:"to"`
	Buckets     []usageBucket               `json:"buckets"`
	Total       usageBucket                 `json:"total"`
}

// parseUsageQuery reads from, to (RFC 3339, required) and granularity
// (minute, hour or day; default hour).
func parseUsageQuery(r *http.Request, tenantID int64) (whitelabel.UsageQuery, error) {
	q := whitelabel.UsageQuery{TenantID: tenantID, Granularity: whitelabel.UsageGranularity(r.URL.Query().Get("granularity"))}
	if q.Granularity == "" {
		q.Granularity = whitelabel.UsageHour
	}
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		v := r.URL.Query().Get(f.name)
		if v == "" {
			return q, whitelabel.Invalid(f.name, "%s is required (RFC 3339, e.g. 2026-03-01T00:00:00Z)", f.name)
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return q, whitelabel.Invalid(f.name, "%s must be an RFC 3339 time such as 2026-03-01T00:00:00Z", f.name)
		}
		*f.t = t.UTC()
	}
	return q, q.Validate()
}

// getUsage serves the tenant's metered usage in buckets over [from, to),
// every bucket present (zero when nothing was metered), plus the total.
func (s *Server) getUsage(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	q, err := parseUsageQuery(r, t.ID)
	if err != nil {
		return err
	}
	us, err := s.usageStore()
	if err != nil {
		return err
	}
	recs, err := us.QueryUsage(r.Context(), q)
	if err != nil {
		return err
	}
	step := q.Granularity.Duration()
	from, to := q.From.Truncate(time.Minute), q.To.Truncate(time.Minute)
	// Buckets are aligned to UTC as the stores align them: Truncate
	// counts from the zero time, a UTC midnight, like the Unix epoch.
	v := usageView{TenantID: t.ID, Granularity: q.Granularity, From: from, To: to, Buckets: []usageBucket{}}
	total := whitelabel.UsageRecord{Minute: from}
	i := 0
	for b := from.Truncate(step); b.Before(to); b = b.Add(step) {
		rec := whitelabel.UsageRecord{Minute: b}
		if i < len(recs) && recs[i].Minute.Equal(b) {
			rec = recs[i]
			i++
		}
		total.Add(rec)
		v.Buckets = append(v.Buckets, newUsageBucket(rec))
	}
	v.Total = newUsageBucket(total)
	return writeJSON(w, http.StatusOK, v)
}

// writeQuotas answers with t's effective quotas, adding this month's use
// and the reset time to api_calls_monthly (requests) and
// bandwidth_gb_monthly (bytes in and out, in GB, rounded down) when the
// store meters usage.
func (s *Server) writeQuotas(w http.ResponseWriter, r *http.Request, t *whitelabel.Tenant) error {
	v := s.quotasOf(t)
	if err := s.addQuotaUsage(r.Context(), &v); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) addQuotaUsage(ctx context.Context, v *quotasView) error {
	us, err := s.usageStore()
	if err != nil {
		return nil // the quotas are still worth showing
	}
	start := whitelabel.MonthStart(s.now())
	next := start.AddDate(0, 1, 0)
	tot, err := us.UsageTotal(ctx, v.TenantID, start, next)
	if err != nil {
		return err
	}
	reset := next.Format(time.RFC3339)
	set := func(name string, used int64) {
		q, ok := v.Quotas[name]
		if !ok {
			q = quotaView{Limit: 0, Source: whitelabel.SourcePlan}
		}
		q.Used, q.Reset = &used, &reset
		v.Quotas[name] = q
	}
	set(whitelabel.QuotaAPICallsMonthly, tot.Requests)
	set(whitelabel.QuotaBandwidthGBMonthly, (tot.BytesIn+tot.BytesOut)/1_000_000_000)
	return nil
}
