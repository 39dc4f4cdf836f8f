package usage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a [Recorder].
type Config struct {
	// EdgeID names this edge in every bucket's key. Required, and unique
	// in the fleet: two edges with one EdgeID would replace each other's
	// rows. A stable name (the host name) is right; a restarted edge
	// reusing it is safe (see New).
	EdgeID string
	// Sink receives the sealed buckets. Required.
	Sink Sink
	// FlushInterval is how often Run seals complete minutes and writes.
	// Default 10s.
	FlushInterval time.Duration
	// Grace is how long after a minute ends it is sealed, so requests
	// finishing just after the minute still land in it. Default 5s. A
	// Record for a sealed minute is counted in the oldest open minute
	// instead, so nothing is lost and no sealed bucket changes.
	Grace time.Duration
	// BatchSize is the most buckets per WriteUsage call. Default 500.
	BatchSize int
	// MaxPending bounds the sealed buckets waiting for the Sink. When a
	// store outage fills it the oldest are dropped and counted
	// (whitelabel_usage_dropped_buckets_total). Default 100000.
	MaxPending int
	// RetryMin and RetryMax bound the backoff between failed writes; it
	// doubles from RetryMin after each failure. Defaults 1s and 1m.
	RetryMin, RetryMax time.Duration
	// WriteTimeout bounds one WriteUsage call. Default 10s.
	WriteTimeout time.Duration
	// Now is the clock that decides which minutes are complete. Default
	// time.Now. (Record takes the request's time as an argument.)
	Now func() time.Time
	// Logger receives write failures and drops. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the recorder's metrics (whitelabel_usage_*).
	// Nil means not registered.
	Registerer prometheus.Registerer
}

const numShards = 64

// Recorder aggregates usage per tenant per minute in memory and delivers
// complete minutes to a [Sink]. Record is safe for concurrent use and
// does no I/O; Run and Flush may run concurrently with it and with each
// other (writes to the Sink are serialized).
type Recorder struct {
	cfg Config
	log *slog.Logger

	// watermark is the oldest open minute (unix minutes): minutes before
	// it are sealed, and a Record for one is counted here instead. It only
	// grows, and is advanced before the shards are swept.
	watermark atomic.Int64
	shards    [numShards]shard

	pmu     sync.Mutex // guards pending, seq
	pending []pendingBucket
	seq     uint64

	writeMu sync.Mutex // serializes Sink writes

	written, dropped, sinkErrors prometheus.Counter
	pendingGauge                 prometheus.Gauge
	nWritten, nDropped           atomic.Int64
}

type shard struct {
	mu sync.Mutex
	m  map[accKey]*acc
	_  [48]byte
}

type accKey struct {
	tenant, minute int64
}

type acc struct {
	requests, errors, in, out int64
	lat                       [whitelabel.UsageLatencyBuckets]int64
}

type pendingBucket struct {
	seq uint64
	b   whitelabel.UsageRecord
}

// Stats is a snapshot of a Recorder's delivery counters.
type Stats struct {
	Pending int   // sealed buckets waiting for the Sink
	Written int64 // buckets the Sink accepted
	Dropped int64 // buckets dropped because MaxPending was reached
}

// New returns a Recorder. It returns a whitelabel.CodeInvalid error for a
// missing EdgeID or Sink or a negative setting, and an error when the
// metrics cannot be registered.
//
// Records are accepted from the minute after New's clock reading onwards;
// earlier ones, including the rest of the current minute, count in that
// next minute. A restarted edge thus never rewrites the bucket its
// predecessor flushed on shutdown.
func New(cfg Config) (*Recorder, error) {
	if cfg.EdgeID == "" {
		return nil, whitelabel.Invalid("EdgeID", "an edge ID is required")
	}
	if cfg.Sink == nil {
		return nil, whitelabel.Invalid("Sink", "a sink is required")
	}
	if cfg.FlushInterval < 0 || cfg.Grace < 0 || cfg.BatchSize < 0 || cfg.MaxPending < 0 ||
		cfg.RetryMin < 0 || cfg.RetryMax < 0 || cfg.WriteTimeout < 0 {
		return nil, whitelabel.Invalid("", "usage settings must not be negative")
	}
	setDefault(&cfg.FlushInterval, 10*time.Second)
	setDefault(&cfg.Grace, 5*time.Second)
	setDefault(&cfg.BatchSize, 500)
	setDefault(&cfg.MaxPending, 100_000)
	setDefault(&cfg.RetryMin, time.Second)
	setDefault(&cfg.RetryMax, time.Minute)
	setDefault(&cfg.WriteTimeout, 10*time.Second)
	if cfg.RetryMax < cfg.RetryMin {
		return nil, whitelabel.Invalid("RetryMax", "must be at least RetryMin (%s)", cfg.RetryMin)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Recorder{cfg: cfg, log: cfg.Logger}
	for i := range r.shards {
		r.shards[i].m = make(map[accKey]*acc)
	}
	r.watermark.Store(unixMinute(cfg.Now()) + 1)
	if err := r.initMetrics(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("new usage recorder: %w", err)
	}
	return r, nil
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

func (r *Recorder) initMetrics(reg prometheus.Registerer) error {
	r.written = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "whitelabel_usage_written_buckets_total",
		Help: "Tenant-minute usage buckets the store accepted.",
	})
	r.dropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "whitelabel_usage_dropped_buckets_total",
		Help: "Usage buckets dropped because the pending buffer was full (store outage).",
	})
	r.sinkErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "whitelabel_usage_write_errors_total",
		Help: "Failed usage writes to the store (each is retried).",
	})
	r.pendingGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "whitelabel_usage_pending_buckets",
		Help: "Sealed usage buckets waiting to be written.",
	})
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{r.written, r.dropped, r.sinkErrors, r.pendingGauge} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register usage metrics: %w", err)
		}
	}
	return nil
}

func unixMinute(t time.Time) int64 {
	s := t.Unix()
	if s < 0 {
		return (s - 59) / 60
	}
	return s / 60
}

// Record adds one finished request to tenantID's bucket for the minute of
// at (normally when the request started). status ≥ 500 counts as an
// upstream error. It does no I/O and, after a tenant's first request in a
// minute, allocates nothing.
func (r *Recorder) Record(tenantID int64, at time.Time, status int, bytesIn, bytesOut int64, latency time.Duration) {
	minute := unixMinute(at)
	li := whitelabel.UsageLatencyIndex(latency)
	s := &r.shards[(uint64(tenantID)*0x9E3779B97F4A7C15)>>(64-6)]
	s.mu.Lock()
	// Read under the lock: the sealer advances the watermark before it
	// sweeps this shard, so a minute it has swept is never recreated.
	if wm := r.watermark.Load(); minute < wm {
		minute = wm
	}
	k := accKey{tenantID, minute}
	a := s.m[k]
	if a == nil {
		a = new(acc)
		s.m[k] = a
	}
	a.requests++
	if status >= 500 {
		a.errors++
	}
	a.in += max(bytesIn, 0)
	a.out += max(bytesOut, 0)
	a.lat[li]++
	s.mu.Unlock()
}

// seal moves the buckets of complete minutes (all of them if all is set)
// to the pending queue, dropping the oldest pending ones beyond
// MaxPending.
func (r *Recorder) seal(now time.Time, all bool) {
	cut := unixMinute(now.Add(-r.cfg.Grace))
	if all {
		cut = math.MaxInt64
	}
	wm := cut
	if all {
		wm = unixMinute(now) + 1
	}
	for {
		old := r.watermark.Load()
		if wm <= old || r.watermark.CompareAndSwap(old, wm) {
			break
		}
	}
	var out []whitelabel.UsageRecord
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for k, a := range s.m {
			if k.minute >= cut {
				continue
			}
			out = append(out, whitelabel.UsageRecord{
				EdgeID: r.cfg.EdgeID, TenantID: k.tenant, Minute: time.Unix(k.minute*60, 0).UTC(),
				Requests: a.requests, UpstreamErrors: a.errors, BytesIn: a.in, BytesOut: a.out,
				Latency: slices.Clone(a.lat[:]),
			})
			delete(s.m, k)
		}
		s.mu.Unlock()
	}
	if len(out) == 0 {
		return
	}
	slices.SortFunc(out, func(a, b whitelabel.UsageRecord) int {
		return cmp.Or(a.Minute.Compare(b.Minute), cmp.Compare(a.TenantID, b.TenantID))
	})
	r.pmu.Lock()
	for _, b := range out {
		r.seq++
		r.pending = append(r.pending, pendingBucket{seq: r.seq, b: b})
	}
	var dropped int
	if over := len(r.pending) - r.cfg.MaxPending; over > 0 {
		dropped = over
		clear(r.pending[:over])
		r.pending = r.pending[over:]
	}
	r.pendingGauge.Set(float64(len(r.pending)))
	r.pmu.Unlock()
	if dropped > 0 {
		r.dropped.Add(float64(dropped))
		r.nDropped.Add(int64(dropped))
		r.log.Warn("usage: pending buffer full, dropped the oldest buckets", "dropped", dropped, "max_pending", r.cfg.MaxPending)
	}
}

// writePending writes pending buckets in batches until none are left or
// a write fails; a failed batch stays at the front, unchanged, for the
// next attempt.
func (r *Recorder) writePending(ctx context.Context) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	batch := make([]whitelabel.UsageRecord, 0, r.cfg.BatchSize)
	for {
		r.pmu.Lock()
		n := min(len(r.pending), r.cfg.BatchSize)
		batch = batch[:0]
		var last uint64
		for _, p := range r.pending[:n] {
			batch = append(batch, p.b)
			last = p.seq
		}
		r.pmu.Unlock()
		if n == 0 {
			return nil
		}
		wctx, cancel := context.WithTimeout(ctx, r.cfg.WriteTimeout)
		err := r.cfg.Sink.WriteUsage(wctx, batch)
		cancel()
		if err != nil {
			r.sinkErrors.Inc()
			return fmt.Errorf("write usage: %w", err)
		}
		r.pmu.Lock()
		// Buckets dropped while the batch was in flight are already gone.
		i := 0
		for i < len(r.pending) && r.pending[i].seq <= last {
			i++
		}
		clear(r.pending[:i])
		r.pending = r.pending[i:]
		r.pendingGauge.Set(float64(len(r.pending)))
		r.pmu.Unlock()
		r.written.Add(float64(n))
		r.nWritten.Add(int64(n))
	}
}

// Run seals complete minutes and writes them every FlushInterval until
// ctx is done, retrying failed writes with backoff. It returns ctx's
// error; it does not flush on the way out, so call Flush on shutdown.
func (r *Recorder) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.FlushInterval)
	defer t.Stop()
	var backoff time.Duration
	var retryAt time.Time
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		r.seal(r.cfg.Now(), false)
		if time.Now().Before(retryAt) {
			continue
		}
		err := r.writePending(ctx)
		switch {
		case err == nil:
			if backoff > 0 {
				r.log.Info("usage: store writes recovered")
			}
			backoff = 0
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			backoff = min(max(2*backoff, r.cfg.RetryMin), r.cfg.RetryMax)
			retryAt = time.Now().Add(backoff)
			r.log.Warn("usage: store write failed, will retry", "err", err, "retry_in", backoff, "pending", r.Stats().Pending)
		}
	}
}

// Flush seals every bucket, including the current minute's, and writes
// all pending buckets, retrying with backoff until it succeeds or ctx is
// done. It is meant for shutdown: a Record after Flush counts in the next
// minute. It returns nil when everything was written, else an error with
// the number of buckets left and the last write error.
func (r *Recorder) Flush(ctx context.Context) error {
	r.seal(r.cfg.Now(), true)
	backoff := r.cfg.RetryMin
	for {
		err := r.writePending(ctx)
		if err == nil {
			return nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("flush usage: %d buckets not written: %w", r.Stats().Pending, errors.Join(ctx.Err(), err))
		case <-t.C:
		}
		backoff = min(2*backoff, r.cfg.RetryMax)
	}
}

// Stats returns the recorder's delivery counters.
func (r *Recorder) Stats() Stats {
	r.pmu.Lock()
	n := len(r.pending)
	r.pmu.Unlock()
	return Stats{Pending: n, Written: r.nWritten.Load(), Dropped: r.nDropped.Load()}
}
