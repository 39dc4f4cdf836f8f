package usage

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// clock is a settable clock for tests.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }

type key struct {
	edge   string
	tenant int64
	minute time.Time
}

// memSink is a store that upserts by key, replacing, as Sink requires.
// failFirst makes the first writes fail; commitFailures of those commit
// the batch before failing, like a lost acknowledgement.
type memSink struct {
	mu             sync.Mutex
	rows           map[key]whitelabel.UsageRecord
	calls, fails   int
	failFirst      int
	commitFailures bool
	down           atomic.Bool
}

func newMemSink() *memSink { return &memSink{rows: make(map[key]whitelabel.UsageRecord)} }

func (s *memSink) WriteUsage(ctx context.Context, batch []whitelabel.UsageRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	fail := s.down.Load() || s.calls <= s.failFirst
	if fail && !s.commitFailures {
		s.fails++
		return errors.New("store unavailable")
	}
	for _, b := range batch {
		b.Latency = append([]int64(nil), b.Latency...)
		s.rows[key{b.EdgeID, b.TenantID, b.Minute}] = b
	}
	if fail {
		s.fails++
		return errors.New("connection reset after commit")
	}
	return nil
}

// totals sums every row.
func (s *memSink) totals() whitelabel.UsageRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t whitelabel.UsageRecord
	for _, b := range s.rows {
		t.Add(b)
	}
	return t
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start is a minute boundary; recorders are created 30 s before it, so
// records from start on keep their minute (see New).
var start = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func newTestRecorder(t *testing.T, c *clock, sink Sink, cfg Config) *Recorder {
	t.Helper()
	cfg.EdgeID = "edge-a"
	cfg.Sink = sink
	cfg.Now = c.now
	cfg.Logger = quiet()
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

type sent struct {
	requests, errors, in, out atomic.Int64
}

// hammer records n requests from each of workers goroutines over tenants
// and minutes from start on, and returns what was sent.
func hammer(r *Recorder, workers, n int, minutes int) *sent {
	var s sent
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range n {
				status := 200
				if i%17 == 0 {
					status = 502
				}
				at := start.Add(time.Duration(i%minutes)*time.Minute + time.Duration(i%59)*time.Second)
				r.Record(int64(w%5+1), at, status, int64(i%100), int64(i%1000), time.Duration(i%400)*time.Millisecond)
				s.requests.Add(1)
				s.in.Add(int64(i % 100))
				s.out.Add(int64(i % 1000))
				if status >= 500 {
					s.errors.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return &s
}

func checkTotals(t *testing.T, got whitelabel.UsageRecord, want *sent) {
	t.Helper()
	var latencyCount int64
	for _, c := range got.Latency {
		latencyCount += c
	}
	if got.Requests != want.requests.Load() || got.UpstreamErrors != want.errors.Load() ||
		got.BytesIn != want.in.Load() || got.BytesOut != want.out.Load() || latencyCount != want.requests.Load() {
		t.Errorf("store totals = requests %d errors %d in %d out %d latency count %d; sent %d %d %d %d %d",
			got.Requests, got.UpstreamErrors, got.BytesIn, got.BytesOut, latencyCount,
			want.requests.Load(), want.errors.Load(), want.in.Load(), want.out.Load(), want.requests.Load())
	}
}

func TestConcurrentRecordExactTotals(t *testing.T) {
	c := newClock(start.Add(-30 * time.Second))
	sink := newMemSink()
	r := newTestRecorder(t, c, sink, Config{BatchSize: 7})
	want := hammer(r, 8, 5000, 3)
	c.set(start.Add(90 * time.Second)) // minute 3 is still open
	if err := r.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	checkTotals(t, sink.totals(), want)
	sink.mu.Lock()
	rows := len(sink.rows)
	sink.mu.Unlock()
	if rows != 5*3 {
		t.Errorf("rows = %d, want 15 (5 tenants × 3 minutes)", rows)
	}
	for k, b := range sink.rows {
		if k.minute.Before(start) || k.minute.Second() != 0 || b.EdgeID != "edge-a" {
			t.Errorf("row %+v has a bad key", k)
		}
	}
}

// TestStoreOutage runs the recorder against a store that fails (some
// failures after committing) and then recovers: every request is counted
// exactly once.
func TestStoreOutage(t *testing.T) {
	tests := []struct {
		name           string
		commitFailures bool
	}{
		{"failures before commit", false},
		{"failures after commit (lost ack)", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock(start.Add(-30 * time.Second))
			sink := newMemSink()
			sink.failFirst = 4
			sink.commitFailures = tt.commitFailures
			r := newTestRecorder(t, c, sink, Config{
				FlushInterval: 2 * time.Millisecond, RetryMin: time.Millisecond, RetryMax: 4 * time.Millisecond,
				BatchSize: 3, Grace: time.Second,
			})
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()

			want := hammer(r, 4, 2000, 4)
			c.set(start.Add(5 * time.Minute)) // all four minutes complete
			deadline := time.Now().Add(10 * time.Second)
			for r.Stats().Pending > 0 || sink.totals().Requests != want.requests.Load() {
				if time.Now().After(deadline) {
					t.Fatalf("store has %d of %d requests; stats %+v", sink.totals().Requests, want.requests.Load(), r.Stats())
				}
				time.Sleep(2 * time.Millisecond) // polling interval
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run = %v, want context.Canceled", err)
			}
			checkTotals(t, sink.totals(), want)
			sink.mu.Lock()
			fails := sink.fails
			sink.mu.Unlock()
			if fails != 4 {
				t.Errorf("sink failed %d times, want 4 (the test's outage)", fails)
			}
			if st := r.Stats(); st.Dropped != 0 {
				t.Errorf("Stats().Dropped = %d, want 0", st.Dropped)
			}
		})
	}
}

func TestRetriedBatchIsSameValue(t *testing.T) {
	c := newClock(start.Add(-30 * time.Second))
	var batches [][]whitelabel.UsageRecord
	calls := 0
	sink := SinkFunc(func(_ context.Context, b []whitelabel.UsageRecord) error {
		calls++
		cp := make([]whitelabel.UsageRecord, len(b))
		copy(cp, b)
		batches = append(batches, cp)
		if calls == 1 {
			return errors.New("timeout")
		}
		return nil
	})
	r := newTestRecorder(t, c, sink, Config{RetryMin: time.Millisecond})
	r.Record(1, start, 200, 1, 2, time.Millisecond)
	c.set(start.Add(2 * time.Minute))
	r.seal(c.now(), false)
	// A request arriving between the attempts for the sealed minute goes
	// to the open minute, not into the batch being retried.
	r.Record(1, start.Add(10*time.Second), 200, 1, 2, time.Millisecond)
	if err := r.writePending(t.Context()); err == nil {
		t.Fatal("first write succeeded, want the sink's error")
	}
	if err := r.writePending(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(batches) != 2 || len(batches[0]) != 1 || len(batches[1]) != 1 {
		t.Fatalf("batches = %+v, want two batches of one bucket", batches)
	}
	if a, b := batches[0][0], batches[1][0]; a.Requests != 1 || b.Requests != 1 || !a.Minute.Equal(b.Minute) {
		t.Errorf("retried bucket = %+v, first attempt %+v; want the same single request", b, a)
	}
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	// At 12:02:00 with 5 s grace, 12:01 is the oldest open minute.
	if last := batches[len(batches)-1][0]; last.Requests != 1 || !last.Minute.Equal(start.Add(time.Minute)) {
		t.Errorf("late request's bucket = %+v, want 1 request in the oldest open minute %v", last, start.Add(time.Minute))
	}
}

func TestBoundedBuffer(t *testing.T) {
	c := newClock(start.Add(-30 * time.Second))
	sink := newMemSink()
	sink.down.Store(true)
	reg := prometheus.NewRegistry()
	r := newTestRecorder(t, c, sink, Config{MaxPending: 5, Registerer: reg, RetryMin: time.Millisecond})
	for m := range 4 {
		for tenant := range int64(3) {
			r.Record(tenant, start.Add(time.Duration(m)*time.Minute), 200, 0, 0, 0)
		}
	}
	c.set(start.Add(10 * time.Minute))
	r.seal(c.now(), false)
	if err := r.writePending(t.Context()); err == nil {
		t.Fatal("write to a down store succeeded")
	}
	st := r.Stats()
	if st.Pending != 5 || st.Dropped != 7 {
		t.Errorf("Stats() = %+v, want 5 pending and 7 dropped", st)
	}
	var m dto.Metric
	r.dropped.Write(&m)
	if got := m.GetCounter().GetValue(); got != 7 {
		t.Errorf("dropped metric = %v, want 7", got)
	}
	// The newest five survive: minute 3's three tenants and two of minute 2's.
	sink.down.Store(false)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for k := range sink.rows {
		if k.minute.Before(start.Add(2 * time.Minute)) {
			t.Errorf("row for %v survived, want the oldest dropped", k.minute)
		}
	}
	if len(sink.rows) != 5 {
		t.Errorf("rows = %d, want 5", len(sink.rows))
	}
}

func TestFlushIncludesCurrentMinuteAndGivesUp(t *testing.T) {
	c := newClock(start.Add(-30 * time.Second))
	sink := newMemSink()
	r := newTestRecorder(t, c, sink, Config{RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond})
	c.set(start.Add(10 * time.Second))
	r.Record(9, c.now(), 200, 0, 0, 0)
	r.seal(c.now(), false)
	if st := r.Stats(); st.Pending != 0 {
		t.Fatalf("the open minute was sealed early: %+v", st)
	}
	sink.down.Store(true)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := r.Flush(ctx); err == nil {
		t.Fatal("Flush to a down store returned nil")
	}
	sink.down.Store(false)
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := sink.totals().Requests; got != 1 {
		t.Errorf("store requests = %d, want 1", got)
	}
	// After Flush the current minute is sealed: a new record goes to the
	// next minute rather than rewriting the flushed row.
	r.Record(9, c.now(), 200, 0, 0, 0)
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := sink.totals().Requests; got != 2 || len(sink.rows) != 2 {
		t.Errorf("store requests = %d in %d rows, want 2 in 2", got, len(sink.rows))
	}
}

func TestNewInvalid(t *testing.T) {
	sink := newMemSink()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no edge id", Config{Sink: sink}},
		{"no sink", Config{EdgeID: "e"}},
		{"negative grace", Config{EdgeID: "e", Sink: sink, Grace: -1}},
		{"retry max below min", Config{EdgeID: "e", Sink: sink, RetryMin: time.Minute, RetryMax: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); whitelabel.ErrorCodeOf(err) != whitelabel.CodeInvalid {
				t.Errorf("New error = %v, want %s", err, whitelabel.CodeInvalid)
			}
		})
	}
}

func BenchmarkRecord(b *testing.B) {
	r, err := New(Config{EdgeID: "bench", Sink: newMemSink(), Now: func() time.Time { return start.Add(-time.Minute) }})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(1) * 7919
		for pb.Next() {
			i++
			r.Record(i%1024, start, 200, 100, 2000, 12*time.Millisecond)
		}
	})
}
