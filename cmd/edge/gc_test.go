package main

import "testing"

func TestGCPercent(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 400},        // nothing measured yet
		{8 << 20, 400},  // small heap: capped
		{32 << 20, 200}, // 64 MiB over 32 MiB live
		{30 << 20, 213}, // the benchmark's 10,000 tenants
		{64 << 20, 100}, // headroom equals the live heap
		{1 << 30, 100},  // big snapshot: Go's default
	} {
		if got := gcPercent(tc.live, gcHeadroom); got != tc.want {
			t.Errorf("gcPercent(%d MiB) = %d, want %d", tc.live>>20, got, tc.want)
		}
	}
}
