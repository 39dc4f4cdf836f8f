package usage

import (
	"testing"
	"time"
)

func TestLatencyIndex(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want int
	}{
		{"zero", 0, 0},
		{"on the first bound", 500 * time.Microsecond, 0},
		{"just above", 500*time.Microsecond + 1, 1},
		{"12ms", 12 * time.Millisecond, 7},
		{"last bound", time.Minute, NumLatencyBuckets - 2},
		{"overflow", time.Hour, NumLatencyBuckets - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := latencyIndex(tt.d); got != tt.want {
				t.Errorf("latencyIndex(%v) = %d, want %d", tt.d, got, tt.want)
			}
		})
	}
}

func hist(pairs ...any) []int64 {
	h := make([]int64, NumLatencyBuckets)
	for i := 0; i < len(pairs); i += 2 {
		h[latencyIndex(pairs[i].(time.Duration))] += int64(pairs[i+1].(int))
	}
	return h
}

func TestQuantile(t *testing.T) {
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
			got := Quantile(tt.counts, tt.q)
			if d := got - tt.want; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("Quantile(%v, %v) = %v, want %v", tt.counts, tt.q, got, tt.want)
			}
		})
	}
	p50, p95, p99 := Percentiles(hist(4*time.Millisecond, 90, 400*time.Millisecond, 10))
	if p50 >= p95 || p95 >= p99 {
		t.Errorf("Percentiles = %v %v %v, want increasing", p50, p95, p99)
	}
}

func TestMerge(t *testing.T) {
	a := Bucket{Requests: 1, BytesIn: 2, Latency: []int64{1}}
	a.Merge(Bucket{Requests: 2, UpstreamErrors: 1, BytesOut: 5, Latency: []int64{1, 2}})
	if a.Requests != 3 || a.UpstreamErrors != 1 || a.BytesIn != 2 || a.BytesOut != 5 || len(a.Latency) != 2 || a.Latency[0] != 2 || a.Latency[1] != 2 {
		t.Errorf("Merge = %+v", a)
	}
}
