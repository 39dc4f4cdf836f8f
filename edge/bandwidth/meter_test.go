package bandwidth

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is an injectable time source.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }

func newMeter(t *testing.T, cfg Config) *Meter {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func TestMeterCountsPerTenantAndMonth(t *testing.T) {
	may := time.Date(2026, 5, 31, 23, 59, 0, 0, time.UTC)
	clk := newClock(may)
	m := newMeter(t, Config{Now: clk.now})
	m.Add(1, may, 700)
	m.Add(1, may, 300)
	m.Add(2, may, 5)
	m.Add(1, may, 0)
	m.Add(1, may, -9)
	if got, reset := m.Used(1, may); got != 1000 || !reset.Equal(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Used(1, May) = %d, %v; want 1000, 2026-06-01", got, reset)
	}
	if got, _ := m.Used(2, may); got != 5 {
		t.Errorf("Used(2, May) = %d, want 5", got)
	}
	june := may.Add(2 * time.Minute)
	if got, reset := m.Used(1, june); got != 0 || !reset.Equal(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Used(1, June) = %d, %v; want 0, 2026-07-01", got, reset)
	}
	m.Add(1, june, 42)
	if got, _ := m.Used(1, june); got != 42 {
		t.Errorf("Used(1, June) after Add = %d, want 42", got)
	}

	// Once June has come, a sweep drops May's counters.
	clk.set(june)
	m.sweep()
	for i := range m.shards {
		for k := range m.shards[i].m {
			if k.month != monthOf(june) {
				t.Errorf("counter %+v of a past month survived the sweep", k)
			}
		}
	}
}

func TestMeterConcurrentAdds(t *testing.T) {
	m := newMeter(t, Config{})
	now := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				m.Add(7, now, 3)
				m.Used(7, now)
			}
		})
	}
	wg.Wait()
	if got, _ := m.Used(7, now); got != 8*1000*3 {
		t.Errorf("Used = %d, want %d", got, 8*1000*3)
	}
}

func TestMeterSeed(t *testing.T) {
	start := time.Date(2026, 5, 10, 12, 30, 45, 0, time.UTC)
	type call struct {
		tenant   int64
		from, to time.Time
	}
	var (
		mu    sync.Mutex
		calls []call
		fail  atomic.Bool
	)
	fail.Store(true)
	seed := func(_ context.Context, id int64, from, to time.Time) (int64, error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, call{id, from, to})
		if fail.Load() {
			return 0, errors.New("store down")
		}
		return 1000 * id, nil
	}
	clk := newClock(start)
	m := newMeter(t, Config{Seed: seed, Now: clk.now})
	m.Add(3, start, 5)
	m.seed(t.Context()) // fails: counting goes on from 0
	if got, _ := m.Used(3, start); got != 5 {
		t.Fatalf("Used while the store is down = %d, want 5", got)
	}
	fail.Store(false)
	m.seed(t.Context())
	if got, _ := m.Used(3, start); got != 3005 {
		t.Errorf("Used after seeding = %d, want 3005", got)
	}
	want := call{3, time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 5, 10, 12, 30, 0, 0, time.UTC)}
	if len(calls) != 2 || calls[1] != want {
		t.Errorf("Seed calls = %+v, want two, the last %+v", calls, want)
	}
	m.seed(t.Context())
	if len(calls) != 2 {
		t.Errorf("a seeded counter was seeded again: %+v", calls)
	}

	// A month that began after the meter started is entirely its own.
	june := time.Date(2026, 6, 1, 0, 0, 1, 0, time.UTC)
	m.Add(3, june, 1)
	m.seed(t.Context())
	if got, _ := m.Used(3, june); got != 1 || len(calls) != 2 {
		t.Errorf("June: Used = %d with %d seed calls, want 1 with 2", got, len(calls))
	}
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"negative interval", Config{FlushInterval: -1}},
		{"negative timeout", Config{Timeout: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Errorf("New(%+v) = nil error", tc.cfg)
			}
		})
	}
}

func BenchmarkUsedAdd(b *testing.B) {
	m, _ := New(Config{})
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		id := int64(0)
		for pb.Next() {
			id = (id + 1) % 1000
			m.Used(id, now)
			m.Add(id, now, 1500)
		}
	})
}

// TestMeterSlot: UsedIn and AddIn with a Slot count into the same
// counters as Used and Add, follow the month when it turns, and never
// use a counter the slot holds for another tenant.
func TestMeterSlot(t *testing.T) {
	may := time.Date(2026, 5, 31, 23, 59, 0, 0, time.UTC)
	june := may.Add(2 * time.Minute)
	m := newMeter(t, Config{Now: newClock(may).now})
	var s Slot
	m.Add(1, may, 100)
	m.AddIn(&s, 1, may, 20)
	if got, _ := m.UsedIn(&s, 1, may); got != 120 {
		t.Errorf("UsedIn(May) = %d, want 120", got)
	}
	m.Add(1, may, 3) // past the slot: the same counter
	if got, _ := m.UsedIn(&s, 1, may); got != 123 {
		t.Errorf("UsedIn(May) after Add = %d, want 123", got)
	}
	if got, reset := m.UsedIn(&s, 1, june); got != 0 || !reset.Equal(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("UsedIn(June) = %d, %v; want 0, 2026-07-01", got, reset)
	}
	m.AddIn(&s, 1, june, 7)
	if got, _ := m.Used(1, june); got != 7 {
		t.Errorf("Used(June) = %d, want the 7 bytes added through the slot", got)
	}
	if got, _ := m.Used(1, may); got != 123 {
		t.Errorf("Used(May) = %d, want 123: June's bytes went to May", got)
	}
	m.AddIn(&s, 2, june, 5) // the slot held tenant 1's counter
	if got, _ := m.Used(2, june); got != 5 {
		t.Errorf("Used(tenant 2) = %d, want 5", got)
	}
	if got, _ := m.Used(1, june); got != 7 {
		t.Errorf("Used(tenant 1) = %d, want 7: tenant 2's bytes went to it", got)
	}
}

// BenchmarkMeterUsedAdd is the meter's work for one request: Used before
// it and Add after it, through the shards ("lookup") or a Slot ("slot"),
// as the edge does.
func BenchmarkMeterUsedAdd(b *testing.B) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	m, err := New(Config{Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	for id := range int64(10000) {
		m.Add(id, now, 1)
	}
	for _, c := range []struct {
		name string
		slot *Slot
	}{{"lookup", nil}, {"slot", new(Slot)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if used, _ := m.UsedIn(c.slot, 5000, now); used < 1 {
					b.Fatal("no bytes")
				}
				m.AddIn(c.slot, 5000, now, 200)
			}
		})
	}
}
