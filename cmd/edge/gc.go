package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// gcHeadroom is how far the heap may grow past the live heap before a
// collection, when GOGC is not set. The edge's live heap is mostly the
// tenant snapshot, which every collection scans again although it rarely
// changes; the requests' garbage is small and short-lived. With GOGC=100
// and 10,000 tenants (about 30 MB live) the edge collected every 3,000
// requests and spent 7 % of its CPU doing so; 64 MiB of headroom halves
// that at the cost of a few tens of MB of memory.
const gcHeadroom = 64 << 20

// gcPercent returns the GC percent that leaves headroom bytes above a
// live heap of live bytes: never below the default 100 (big snapshots
// get Go's usual trade-off) and never above 400 (a small heap does not
// need a collection rarely).
func gcPercent(live, headroom uint64) int {
	if live == 0 {
		return 400
	}
	return int(min(max(headroom*100/live, 100), 400))
}

// keepGCHeadroom sets the GC percent from the live heap now and then
// every interval, as the snapshot grows or shrinks, until ctx ends.
func keepGCHeadroom(ctx context.Context, headroom uint64, interval time.Duration) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetGCPercent(gcPercent(sample[0].Value.Uint64(), headroom))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
