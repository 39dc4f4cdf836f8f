package whitelabel

import (
	"context"
	"time"
)

// UsageLatencyBuckets is the length of a UsageRecord's latency histogram:
// one bucket per bound of UsageLatencyBounds plus one for slower
// requests. The stores keep one column per bucket so they can sum
// histograms in SQL.
const UsageLatencyBuckets = 27

// usageLatencyBounds are the inclusive upper bounds of the latency
// histogram, spaced about ×1.5 apart from 0.5 ms to 60 s. They never
// change, so stored histograms stay comparable.
var usageLatencyBounds = [UsageLatencyBuckets - 1]time.Duration{
	500 * time.Microsecond,
	1 * time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 5 * time.Millisecond, 7500 * time.Microsecond,
	10 * time.Millisecond, 15 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond, 50 * time.Millisecond, 75 * time.Millisecond,
	100 * time.Millisecond, 150 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond,
	1 * time.Second, 1500 * time.Millisecond, 2 * time.Second, 3 * time.Second, 5 * time.Second, 10 * time.Second,
	30 * time.Second, 60 * time.Second,
}

// UsageLatencyBounds returns the histogram's bucket bounds, ascending:
// Latency[i] counts latencies in (bounds[i-1], bounds[i]], the last
// slower ones. The caller owns the slice.
func UsageLatencyBounds() []time.Duration {
	b := usageLatencyBounds
	return b[:]
}

// UsageLatencyIndex returns the index in a UsageRecord's Latency of the
// bucket that counts latency d: the first bound at or above d, or
// UsageLatencyBuckets-1 when d is above them all. It does not allocate.
func UsageLatencyIndex(d time.Duration) int {
	lo, hi := 0, len(usageLatencyBounds)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if usageLatencyBounds[m] < d {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// LatencyQuantile returns the latency at quantile q (0.99 for p99) of
// r's histogram, interpolating inside the bucket it falls in; 0 without
// requests, and the last bound when it falls among slower requests.
func (r UsageRecord) LatencyQuantile(q float64) time.Duration {
	q = min(max(q, 0), 1)
	var total int64
	for _, c := range r.Latency {
		total += c
	}
	if total == 0 {
		return 0
	}
	last := usageLatencyBounds[len(usageLatencyBounds)-1]
	rank := q * float64(total)
	var cum int64
	for i, c := range r.Latency {
		if c <= 0 {
			continue
		}
		if float64(cum+c) >= rank {
			if i >= len(usageLatencyBounds) {
				return last
			}
			var lower time.Duration
			if i > 0 {
				lower = usageLatencyBounds[i-1]
			}
			frac := (rank - float64(cum)) / float64(c)
			return lower + time.Duration(frac*float64(usageLatencyBounds[i]-lower))
		}
		cum += c
	}
	return last
}

// Add adds o's counts to r; keys are not compared.
func (r *UsageRecord) Add(o UsageRecord) {
	r.Requests += o.Requests
	r.UpstreamErrors += o.UpstreamErrors
	r.BytesIn += o.BytesIn
	r.BytesOut += o.BytesOut
	if len(r.Latency) < len(o.Latency) {
		r.Latency = append(r.Latency, make([]int64, len(o.Latency)-len(r.Latency))...)
	}
	for i, c := range o.Latency {
		r.Latency[i] += c
	}
}

// UsageRecord is a tenant's traffic over one period. As written by an
// edge it covers one minute seen by that edge, and (EdgeID, TenantID,
// Minute) is its key; as returned by a query it is the fleet's total
// over one bucket (EdgeID empty, Minute the bucket's start).
type UsageRecord struct {
	EdgeID   string
	TenantID int64
	// Minute is the start of the period, in UTC, a whole minute.
	Minute time.Time
	// Requests counts every request for the tenant that reached the edge,
	// refused ones included.
	Requests int64
	// UpstreamErrors counts requests answered with a 5xx status.
	UpstreamErrors int64
	// BytesIn and BytesOut are request and response body bytes.
	BytesIn, BytesOut int64
	// Latency holds UsageLatencyBuckets counts (shorter means the rest
	// are zero).
	Latency []int64
}

// UsageGranularity is the bucket size of a usage query.
type UsageGranularity string

// Usage query granularities.
const (
	UsageMinute UsageGranularity = "minute"
	UsageHour   UsageGranularity = "hour"
	UsageDay    UsageGranularity = "day"
)

// Duration returns the bucket length, or 0 for an unknown granularity.
func (g UsageGranularity) Duration() time.Duration {
	switch g {
	case UsageMinute:
		return time.Minute
	case UsageHour:
		return time.Hour
	case UsageDay:
		return 24 * time.Hour
	}
	return 0
}

// MaxRange is the longest [from, to) a query at g may span: a day of
// minutes, 31 days of hours, 366 days of days; 0 for an unknown
// granularity.
func (g UsageGranularity) MaxRange() time.Duration {
	switch g {
	case UsageMinute:
		return 24 * time.Hour
	case UsageHour:
		return 31 * 24 * time.Hour
	case UsageDay:
		return 366 * 24 * time.Hour
	}
	return 0
}

// UsageQuery selects one tenant's usage over [From, To) in buckets of
// Granularity, aligned to UTC (hours and days start at :00 and 00:00
// UTC). From and To are truncated to whole minutes.
type UsageQuery struct {
	TenantID    int64
	From, To    time.Time
	Granularity UsageGranularity
}

// Validate checks q: a known granularity, To after From and a range no
// longer than the granularity's MaxRange. Errors are CodeInvalid with
// Field "granularity", "to" or "from".
func (q UsageQuery) Validate() error {
	g := q.Granularity.Duration()
	if g == 0 {
		return Invalid("granularity", "granularity must be minute, hour or day")
	}
	if !q.To.After(q.From) {
		return Invalid("to", "to must be after from")
	}
	if q.To.Sub(q.From) > q.Granularity.MaxRange() {
		return Invalid("from", "a %s query spans at most %s", q.Granularity, q.Granularity.MaxRange())
	}
	return nil
}

// MonthStart returns the start of t's calendar month in UTC: the period
// of api_calls_monthly and bandwidth_gb_monthly.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// UsageWriter receives usage from the edge.
type UsageWriter interface {
	// WriteUsage writes each record by its key (EdgeID, TenantID,
	// Minute), replacing any row with that key: writing a record twice
	// leaves one row, so a retried batch never double counts. A batch is
	// written atomically. It does not check that the tenants exist.
	WriteUsage(ctx context.Context, batch []UsageRecord) error
}

// UsageStore persists usage, implemented by store/sqlite and
// store/postgres.
type UsageStore interface {
	UsageWriter
	// QueryUsage returns the tenant's usage summed over every edge in
	// buckets of q.Granularity, oldest first, leaving out buckets with no
	// rows. It returns a CodeInvalid error for a q that fails Validate.
	QueryUsage(ctx context.Context, q UsageQuery) ([]UsageRecord, error)
	// UsageTotal returns the tenant's usage summed over every edge and
	// every minute in [from, to), with Minute set to from; zero counts
	// when there is none.
	UsageTotal(ctx context.Context, tenantID int64, from, to time.Time) (UsageRecord, error)
}
