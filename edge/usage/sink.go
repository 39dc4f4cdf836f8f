package usage

import (
	"context"
	"time"
)

// latencyBounds are the inclusive upper bounds of the latency histogram,
// spaced about ×1.5 apart from 0.5 ms to 60 s.
var latencyBounds = [...]time.Duration{
	500 * time.Microsecond,
	1 * time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 5 * time.Millisecond, 7500 * time.Microsecond,
	10 * time.Millisecond, 15 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond, 50 * time.Millisecond, 75 * time.Millisecond,
	100 * time.Millisecond, 150 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond,
	1 * time.Second, 1500 * time.Millisecond, 2 * time.Second, 3 * time.Second, 5 * time.Second, 10 * time.Second,
	30 * time.Second, 60 * time.Second,
}

// NumLatencyBuckets is the length of Bucket.Latency: one count per bound
// of [LatencyBounds] plus one for slower requests.
const NumLatencyBuckets = len(latencyBounds) + 1

// LatencyBounds returns the inclusive upper bounds of the latency
// histogram buckets, ascending: Latency[i] counts requests with latency in
// (LatencyBounds()[i-1], LatencyBounds()[i]], and the last count those
// slower than the last bound. The bounds never change, so stored
// histograms stay comparable. The caller owns the returned slice.
func LatencyBounds() []time.Duration {
	b := latencyBounds
	return b[:]
}

// latencyIndex returns the histogram bucket of d.
func latencyIndex(d time.Duration) int {
	lo, hi := 0, len(latencyBounds)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if latencyBounds[m] < d {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Bucket is one tenant's usage for one minute as seen by one edge.
// (EdgeID, TenantID, Minute) is its key.
type Bucket struct {
	// EdgeID names the edge that measured it (Config.EdgeID).
	EdgeID string
	// TenantID is the tenant.
	TenantID int64
	// Minute is the start of the minute, in UTC.
	Minute time.Time
	// Requests is the number of requests recorded.
	Requests int64
	// UpstreamErrors counts requests answered with a 5xx status, which
	// includes the edge's own 502/504 for a failed upstream.
	UpstreamErrors int64
	// BytesIn and BytesOut are request and response body bytes.
	BytesIn, BytesOut int64
	// Latency is the latency histogram: NumLatencyBuckets counts over
	// LatencyBounds. See Quantile.
	Latency []int64
}

// Sink receives sealed buckets; the store implements it.
//
// WriteUsage must write each bucket by its key (EdgeID, TenantID,
// Minute), replacing any row with that key (an upsert, not an add): a
// batch that failed, even after partly committing, is retried with the
// same values, and replacing is what makes the retry harmless. It should
// write the batch atomically when it can, honour ctx, and must not keep
// batch after it returns. It is called from one goroutine at a time.
type Sink interface {
	WriteUsage(ctx context.Context, batch []Bucket) error
}

// SinkFunc adapts a function to [Sink].
type SinkFunc func(ctx context.Context, batch []Bucket) error

// WriteUsage calls f.
func (f SinkFunc) WriteUsage(ctx context.Context, batch []Bucket) error { return f(ctx, batch) }

// Quantile returns the latency at quantile q (0 ≤ q ≤ 1; 0.99 for p99) of
// a histogram over LatencyBounds, interpolating linearly inside the bucket
// it falls in. It returns 0 for an empty histogram, and the last bound for
// a quantile among requests slower than it (so it is a lower bound
// there). counts may be shorter than NumLatencyBuckets.
func Quantile(counts []int64, q float64) time.Duration {
	q = min(max(q, 0), 1)
	var total int64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var cum int64
	for i, c := range counts {
		if c <= 0 {
			continue
		}
		if float64(cum+c) >= rank {
			if i >= len(latencyBounds) {
				return latencyBounds[len(latencyBounds)-1]
			}
			var lower time.Duration
			if i > 0 {
				lower = latencyBounds[i-1]
			}
			frac := (rank - float64(cum)) / float64(c)
			return lower + time.Duration(frac*float64(latencyBounds[i]-lower))
		}
		cum += c
	}
	return latencyBounds[len(latencyBounds)-1]
}

// Percentiles returns p50, p95 and p99 of a histogram; see Quantile.
func Percentiles(counts []int64) (p50, p95, p99 time.Duration) {
	return Quantile(counts, 0.50), Quantile(counts, 0.95), Quantile(counts, 0.99)
}

// Merge adds o's counts to b (for rolling minutes up into hours or days,
// or edges into a fleet total). Keys are not compared; b keeps its own.
func (b *Bucket) Merge(o Bucket) {
	b.Requests += o.Requests
	b.UpstreamErrors += o.UpstreamErrors
	b.BytesIn += o.BytesIn
	b.BytesOut += o.BytesOut
	if len(b.Latency) < len(o.Latency) {
		b.Latency = append(b.Latency, make([]int64, len(o.Latency)-len(b.Latency))...)
	}
	for i, c := range o.Latency {
		b.Latency[i] += c
	}
}
