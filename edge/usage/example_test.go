package usage_test

import (
	"context"
	"fmt"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/edge/usage"
)

func Example() {
	now := time.Date(2026, 11, 26, 11, 59, 30, 0, time.UTC)
	sink := usage.SinkFunc(func(_ context.Context, batch []whitelabel.UsageRecord) error {
		for _, b := range batch {
			p50, p99 := b.LatencyQuantile(0.50), b.LatencyQuantile(0.99)
			fmt.Println(b.EdgeID, b.TenantID, b.Minute.Format("15:04"), b.Requests, b.UpstreamErrors, p50, p99)
		}
		return nil // a real store upserts by (EdgeID, TenantID, Minute)
	})
	rec, err := usage.New(usage.Config{EdgeID: "edge-1", Sink: sink, Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 11, 26, 12, 0, 5, 0, time.UTC)
	for i := range 100 {
		status := 200
		if i == 0 {
			status = 502
		}
		rec.Record(42, at, status, 0, 512, time.Duration(i+1)*time.Millisecond)
	}
	// On shutdown: write everything, the current minute included.
	if err := rec.Flush(context.Background()); err != nil {
		panic(err)
	}
	// Output:
	// edge-1 42 12:00 100 1 50ms 99ms
}
