package app

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/internal/config"
	"github.com/estatecore/whitelabel/internal/testenv"
	"github.com/estatecore/whitelabel/store/sqlite"
)

// TestBandwidthMeterSeedsFromStore: with the local backend the meter
// starts each tenant's month from the bytes the usage store holds.
func TestBandwidthMeterSeedsFromStore(t *testing.T) {
	now := time.Now().UTC()
	month := whitelabel.MonthStart(now)
	if now.Sub(month) < 2*time.Minute {
		t.Skip("the month began less than two minutes ago: nothing before the meter's start minute to seed")
	}
	st, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "wl.db"), Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rec := whitelabel.UsageRecord{EdgeID: "old-edge", TenantID: 5, Minute: month, Requests: 2, BytesIn: 300, BytesOut: 4000}
	rec.Latency = make([]int64, whitelabel.UsageLatencyBuckets)
	rec.Latency[0] = 2
	if err := st.WriteUsage(t.Context(), []whitelabel.UsageRecord{rec}); err != nil {
		t.Fatal(err)
	}
	m, release, err := NewBandwidthMeter(config.Defaults(), st, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	m.Add(5, now, 10)
	deadline := time.Now().Add(5 * time.Second)
	for {
		used, _ := m.Used(5, now)
		if used == 4310 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Used = %d after 5s, want 4310 (4300 from the store + 10)", used)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not an assertion
	}
}

// TestBandwidthMeterRedis: with RATE_LIMIT_BACKEND=redis the meter
// flushes to REDIS_URL.
func TestBandwidthMeterRedis(t *testing.T) {
	cfg := config.Defaults()
	cfg.RateLimitBackend = "redis"
	cfg.RedisURL = "redis://" + testenv.RedisAddr(t)
	m, release, err := NewBandwidthMeter(cfg, nil, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	// A tenant id no other test uses, this month.
	id := -time.Now().UnixNano()
	m.Add(id, time.Now(), 123)
	if err := m.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	rc := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	defer rc.Close()
	key := fmt.Sprintf("wl:bw:{%d}:%s", id, time.Now().UTC().Format("2006-01"))
	if v, err := rc.GetDel(t.Context(), key).Int64(); err != nil || v != 123 {
		t.Errorf("GETDEL %s = %d, %v; want 123", key, v, err)
	}
}
