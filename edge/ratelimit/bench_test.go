package ratelimit

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/estatecore/whitelabel/internal/testenv"
	dto "github.com/prometheus/client_model/go"
)

// The tenant count spreads the load over shards as a real edge would.
const benchTenants = 1024

func BenchmarkLocalAllow(b *testing.B) {
	l, err := NewLocal(LocalConfig{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	// The edge passes the request's start time as Now; "clock" shows the
	// cost of reading the clock inside Allow instead.
	now := time.Now()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			l.Allow(ctx, Request{TenantID: int64(i % benchTenants), Rate: 1e6, Burst: 1000, MonthlyLimit: 1 << 40, Now: now.Add(time.Duration(i) * 100)})
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	})
	b.Run("serial-clock", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			l.Allow(ctx, Request{TenantID: int64(i % benchTenants), Rate: 1e6, Burst: 1000, MonthlyLimit: 1 << 40})
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := next.Add(1) * 7919
			for pb.Next() {
				i++
				l.Allow(ctx, Request{TenantID: i % benchTenants, Rate: 1e6, Burst: 1000, MonthlyLimit: 1 << 40, Now: now.Add(time.Duration(i) * 100)})
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	})
}

func BenchmarkRedisAllow(b *testing.B) {
	srv := testenv.StartRedis(b)
	l, err := NewRedis(RedisConfig{Client: srv.Client(b), Timeout: time.Second, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	ctx := context.Background()
	now := time.Now()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			d, _ := l.Allow(ctx, Request{TenantID: int64(i % benchTenants), Rate: 1e6, Burst: 1000, MonthlyLimit: 1 << 40, Now: now.Add(time.Duration(i) * 100)})
			if d.Degraded {
				b.Fatal("degraded decision")
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	})
	// parallel runs Allow from par goroutines per CPU and reports the
	// pipeline sizes they made.
	parallel := func(b *testing.B, par int) {
		b.ReportAllocs()
		n0, s0 := batchCounts(b, l)
		var next atomic.Int64
		b.SetParallelism(par)
		b.RunParallel(func(pb *testing.PB) {
			i := next.Add(1) * 7919
			for pb.Next() {
				i++
				l.Allow(ctx, Request{TenantID: i % benchTenants, Rate: 1e6, Burst: 1000, MonthlyLimit: 1 << 40, Now: now.Add(time.Duration(i) * 100)})
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
		reportBatchSize(b, l, n0, s0)
	}
	b.Run("parallel", func(b *testing.B) { parallel(b, 1) })
	// Many requests in flight, as on a busy edge: 32 goroutines per CPU.
	b.Run("parallel-x32", func(b *testing.B) { parallel(b, 32) })
}

// batchCounts reads the pipeline size histogram: pipelines sent and
// decisions in them.
func batchCounts(tb testing.TB, l *Redis) (pipelines uint64, decisions float64) {
	tb.Helper()
	var m dto.Metric
	if err := l.m.batchSize.Write(&m); err != nil {
		tb.Fatal(err)
	}
	return m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum()
}

// reportBatchSize reports the mean decisions per pipeline since counts
// n0 and s0 were read.
func reportBatchSize(b *testing.B, l *Redis, n0 uint64, s0 float64) {
	n, s := batchCounts(b, l)
	if n > n0 {
		b.ReportMetric((s-s0)/float64(n-n0), "decisions/pipeline")
	}
}

// BenchmarkSetHeaders writes the quota fields of an allowed answer with
// the rate, monthly and bandwidth policies: "plain" formats both fields,
// "cached" takes RateLimit-Policy from a PolicyCache, "cached-values"
// also stores the values in a Values kept by the caller, and
// "ratelimit-only" writes RateLimit alone into a Values, as the edge does
// on every allowed answer by default.
func BenchmarkSetHeaders(b *testing.B) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	reset := monthStart(monthOf(now) + 1)
	d := Decision{Allowed: true, Limit: 5000, Window: time.Second, Remaining: 4000, ResetAfter: 200 * time.Millisecond,
		MonthlyLimit: 100_000_000, MonthlyUsed: 12345, MonthlyReset: reset}
	for _, c := range []struct {
		name       string
		cache      *PolicyCache
		vals       *Values
		withPolicy bool
	}{
		{"plain", nil, nil, true},
		{"cached", new(PolicyCache), nil, true},
		{"cached-values", new(PolicyCache), new(Values), true},
		{"ratelimit-only", new(PolicyCache), new(Values), false},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			h := http.Header{}
			for b.Loop() {
				bw := MonthlyPolicy(PolicyBandwidth, UnitContentBytes, 1e12, 123456789, reset, now)
				c.cache.SetHeadersIn(h, c.vals, c.withPolicy, d, now, bw)
			}
		})
	}
}
