package codec

import (
	"fmt"
	"strings"
	"time"

	"github.com/estatecore/whitelabel"
)

// The usage_minutes table (migration 00003) is the same in both stores:
// integer columns only, minute in unix seconds. The SQL is built here once
// and each store passes its placeholder style.

// UsageCounterColumns are the summed columns of usage_minutes in the
// order UsageValues and ScanUsageSums use: requests, upstream_errors,
// bytes_in, bytes_out, lat_00 … lat_26.
var UsageCounterColumns = func() []string {
	cols := []string{"requests", "upstream_errors", "bytes_in", "bytes_out"}
	for i := range whitelabel.UsageLatencyBuckets {
		cols = append(cols, fmt.Sprintf("lat_%02d", i))
	}
	return cols
}()

// UsageUpsertSQL returns the statement writing one usage row, replacing
// the row with the same key: tenant_id, minute, edge_id, then the
// counter columns, numbered by ph (ph(1) is the first placeholder).
func UsageUpsertSQL(ph func(i int) string) string {
	cols := append([]string{"tenant_id", "minute", "edge_id"}, UsageCounterColumns...)
	vals := make([]string, len(cols))
	for i := range cols {
		vals[i] = ph(i + 1)
	}
	sets := make([]string, len(UsageCounterColumns))
	for i, c := range UsageCounterColumns {
		sets[i] = c + " = excluded." + c
	}
	return "INSERT INTO usage_minutes (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(vals, ", ") +
		") ON CONFLICT (tenant_id, minute, edge_id) DO UPDATE SET " + strings.Join(sets, ", ")
}

// UsageArgs returns the arguments of UsageUpsertSQL for r. It returns a
// CodeInvalid error for a record without an EdgeID, a Minute that is not
// a whole minute, or a histogram longer than UsageLatencyBuckets.
func UsageArgs(r *whitelabel.UsageRecord) ([]any, error) {
	if r.EdgeID == "" {
		return nil, whitelabel.Invalid("edge_id", "usage record without an edge id")
	}
	if !r.Minute.Equal(r.Minute.Truncate(time.Minute)) || r.Minute.IsZero() {
		return nil, whitelabel.Invalid("minute", "usage minute %v is not a whole minute", r.Minute)
	}
	if len(r.Latency) > whitelabel.UsageLatencyBuckets {
		return nil, whitelabel.Invalid("latency", "usage histogram has %d buckets, at most %d", len(r.Latency), whitelabel.UsageLatencyBuckets)
	}
	args := make([]any, 0, 3+len(UsageCounterColumns))
	args = append(args, r.TenantID, r.Minute.Unix(), r.EdgeID, r.Requests, r.UpstreamErrors, r.BytesIn, r.BytesOut)
	for i := range whitelabel.UsageLatencyBuckets {
		var n int64
		if i < len(r.Latency) {
			n = r.Latency[i]
		}
		args = append(args, n)
	}
	return args, nil
}

// UsageQuerySQL returns the statement summing a tenant's rows into
// buckets of step seconds over [from, to): arguments tenant_id, from and
// to in unix seconds (ph(1) … ph(3)). Rows are the bucket start then the
// sums in UsageCounterColumns order, oldest first.
func UsageQuerySQL(ph func(i int) string, step int64) string {
	bucket := fmt.Sprintf("(minute - minute %% %d)", step)
	return "SELECT " + bucket + " AS bucket, " + usageSums() + " FROM usage_minutes WHERE tenant_id = " + ph(1) +
		" AND minute >= " + ph(2) + " AND minute < " + ph(3) + " GROUP BY bucket ORDER BY bucket"
}

// UsageTotalSQL returns the statement summing a tenant's rows over
// [from, to): arguments as UsageQuerySQL; one row of sums, NULL when
// there are none.
func UsageTotalSQL(ph func(i int) string) string {
	return "SELECT " + usageSums() + " FROM usage_minutes WHERE tenant_id = " + ph(1) +
		" AND minute >= " + ph(2) + " AND minute < " + ph(3)
}

func usageSums() string {
	sums := make([]string, len(UsageCounterColumns))
	for i, c := range UsageCounterColumns {
		// PostgreSQL sums bigint as numeric; the cast keeps one scan type.
		sums[i] = "CAST(SUM(" + c + ") AS BIGINT)"
	}
	return strings.Join(sums, ", ")
}

// UsageSums holds one row of sums for scanning; NULL sums (no rows) scan
// as zero.
type UsageSums [4 + whitelabel.UsageLatencyBuckets]*int64

// Dest returns the scan destinations, after any the caller puts first.
func (s *UsageSums) Dest(first ...any) []any {
	out := append([]any(nil), first...)
	for i := range s {
		out = append(out, &s[i])
	}
	return out
}

// Record returns the sums as a record for tenantID starting at minute.
func (s *UsageSums) Record(tenantID int64, minute time.Time) whitelabel.UsageRecord {
	v := func(i int) int64 {
		if s[i] == nil {
			return 0
		}
		return *s[i]
	}
	r := whitelabel.UsageRecord{TenantID: tenantID, Minute: minute.UTC(), Requests: v(0), UpstreamErrors: v(1), BytesIn: v(2), BytesOut: v(3),
		Latency: make([]int64, whitelabel.UsageLatencyBuckets)}
	for i := range r.Latency {
		r.Latency[i] = v(4 + i)
	}
	return r
}

// UsageRange returns q's from and to in unix seconds, truncated to whole
// minutes, and the bucket step in seconds.
func UsageRange(q whitelabel.UsageQuery) (from, to, step int64) {
	return q.From.Truncate(time.Minute).Unix(), q.To.Truncate(time.Minute).Unix(), int64(q.Granularity.Duration() / time.Second)
}
