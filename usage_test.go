package whitelabel

import (
	"slices"
	"testing"
	"time"
)

func TestUsageLatencyBounds(t *testing.T) {
	b := UsageLatencyBounds()
	if len(b) != UsageLatencyBuckets-1 {
		t.Fatalf("len(UsageLatencyBounds()) = %d, want %d", len(b), UsageLatencyBuckets-1)
	}
	// A literal with too few bounds would leave zeros at the end.
	if !slices.IsSorted(b) || slices.Contains(b, 0) || b[len(b)-1] != time.Minute {
		t.Errorf("UsageLatencyBounds() = %v, want ascending, non-zero, up to 1m", b)
	}
	b[0] = time.Hour
	if UsageLatencyBounds()[0] == time.Hour {
		t.Error("UsageLatencyBounds returned shared storage")
	}
}

func TestUsageLatencyIndex(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want int
	}{
		{"zero", 0, 0},
		{"on the first bound", 500 * time.Microsecond, 0},
		{"just above", 500*time.Microsecond + 1, 1},
		{"12ms", 12 * time.Millisecond, 7},
		{"last bound", time.Minute, UsageLatencyBuckets - 2},
		{"overflow", time.Hour, UsageLatencyBuckets - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UsageLatencyIndex(tt.d); got != tt.want {
				t.Errorf("UsageLatencyIndex(%v) = %d, want %d", tt.d, got, tt.want)
			}
		})
	}
}

// hist returns a histogram from (latency, count) pairs.
func hist(pairs ...any) []int64 {
	h := make([]int64, UsageLatencyBuckets)
	for i := 0; i < len(pairs); i += 2 {
		h[UsageLatencyIndex(pairs[i].(time.Duration))] += int64(pairs[i+1].(int))
	}
	return h
}

func TestLatencyQuantile(t *testing.T) {
	tests := []struct {
		name   string
		counts []int64
		q      float64
		want   time.Duration
	}{
		{"empty", hist(), 0.5, 0},
		{"nil", nil, 0.99, 0},
		{"one bucket median interpolates", hist(1500*time.Microsecond, 100), 0.5, 1500 * time.Microsecond},
		{"one bucket p99", hist(1500*time.Microsecond, 100), 0.99, 1990 * time.Microsecond},
		{"first bucket from zero", hist(100*time.Microsecond, 10), 0.5, 250 * time.Microsecond},
		{"p50 in the fast bucket", hist(4*time.Millisecond, 90, 400*time.Millisecond, 10), 0.5, 3000*time.Microsecond + 1111111},
		{"p95 in the slow bucket", hist(4*time.Millisecond, 90, 400*time.Millisecond, 10), 0.95, 400 * time.Millisecond},
		{"p99 in the slow bucket", hist(4*time.Millisecond, 90, 400*time.Millisecond, 10), 0.99, 480 * time.Millisecond},
		{"overflow is the last bound", hist(time.Hour, 5), 0.5, time.Minute},
		{"q above 1 clamps", hist(1500*time.Microsecond, 4), 2, 2 * time.Millisecond},
		{"q 0 is the lower edge", hist(1500*time.Microsecond, 4), 0, time.Millisecond},
		{"short slice", []int64{0, 4}, 0.5, 750 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := UsageRecord{Latency: tt.counts}.LatencyQuantile(tt.q)
			if d := got - tt.want; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("LatencyQuantile(%v) of %v = %v, want %v", tt.q, tt.counts, got, tt.want)
			}
		})
	}
}

func TestUsageRecordAdd(t *testing.T) {
	a := UsageRecord{Requests: 1, BytesIn: 2, Latency: []int64{1}}
	a.Add(UsageRecord{Requests: 2, UpstreamErrors: 1, BytesOut: 5, Latency: []int64{1, 2}})
	want := UsageRecord{Requests: 3, UpstreamErrors: 1, BytesIn: 2, BytesOut: 5, Latency: []int64{2, 2}}
	if a.Requests != want.Requests || a.UpstreamErrors != want.UpstreamErrors || a.BytesIn != want.BytesIn ||
		a.BytesOut != want.BytesOut || !slices.Equal(a.Latency, want.Latency) {
		t.Errorf("Add = %+v, want %+v", a, want)
	}
}
