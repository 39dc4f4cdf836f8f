package bandwidth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// GB is the number of bytes in one unit of bandwidth_gb_monthly: a
// decimal gigabyte (10^9 bytes), as the control API reports it.
const GB = 1_000_000_000

// SeedFunc returns a tenant's bytes (in plus out) over [from, to) as
// recorded in the usage store; see Config.Seed.
type SeedFunc func(ctx context.Context, tenantID int64, from, to time.Time) (int64, error)

// Config configures a [Meter]. Zero fields take the defaults named here.
type Config struct {
	// Redis is the Redis shared by the fleet. Nil: the meter counts this
	// edge's bytes only (one edge, RATE_LIMIT_BACKEND=local). The meter
	// does not close it.
	Redis redis.UniversalClient
	// KeyPrefix starts every key. Default "wl:bw:". A tenant's count for
	// a month is KeyPrefix+"{<tenant id>}:<YYYY-MM>", expiring an hour
	// after the month ends.
	KeyPrefix string
	// FlushInterval is how often Run sends the bytes counted here to Redis
	// and reads back the fleet's totals. Default 1s. Unused without Redis
	// except for seeding and dropping past months.
	FlushInterval time.Duration
	// Timeout bounds one flush's round trip (or one Seed call). Default
	// 500ms.
	Timeout time.Duration
	// Seed, when set, gives each tenant's month-to-date bytes from the
	// usage store: Run calls it in the background for each tenant first
	// counted in the month the meter started in, over [start of that
	// month, the meter's start truncated to the minute), and adds the
	// answer to the count. Later minutes are this process's own, so
	// nothing is counted twice; usage other edges recorded in the minute
	// the meter started is missed. A failed call is retried on the next
	// tick. It is rejected together with Redis, whose count is already
	// the fleet's.
	Seed SeedFunc
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives Redis and seeding failures and recoveries (once
	// per change, not per flush). Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the meter's metrics (whitelabel_bandwidth_*).
	// Nil: not registered.
	Registerer prometheus.Registerer
}

// Meter counts bytes per tenant per UTC month, in memory, and shares the
// count with the fleet through Redis when configured. Used and Add do no
// I/O and take a shard read lock (a write lock the first time a tenant is
// seen in a month). Meter is safe for concurrent use.
type Meter struct {
	cfg    Config
	log    *slog.Logger
	start  time.Time // the meter's creation, for Seed
	months monthCache
	shards [numShards]shard
	m      *metrics

	mu      sync.Mutex
	touched []*counter // counters to flush (Redis) ; each once, by queued
	seeds   []*counter // counters waiting for Seed

	flushMu   sync.Mutex // one flush at a time: base is written by it alone
	failing   bool       // the last flush failed (guarded by flushMu)
	lastSweep int64      // month key of the last sweep of past months (flushMu)
}

const numShards = 64

type shard struct {
	mu sync.RWMutex
	m  map[counterKey]*counter
}

type counterKey struct{ tenant, month int64 }

// counter is one tenant's bytes in one month: base (the fleet total as
// Redis last reported it, or the store's seed) plus inflight (sent to
// Redis, answer pending) plus pending (counted here, not yet sent).
type counter struct {
	counterKey
	base     atomic.Int64
	inflight atomic.Int64
	pending  atomic.Int64
	queued   atomic.Bool // in Meter.touched
}

func (c *counter) used() int64 { return c.base.Load() + c.inflight.Load() + c.pending.Load() }

// New returns a Meter. It returns an error for a negative duration, Seed
// together with Redis, or metrics that cannot be registered. It does not
// contact Redis.
func New(cfg Config) (*Meter, error) {
	if cfg.FlushInterval < 0 || cfg.Timeout < 0 {
		return nil, errors.New("bandwidth: FlushInterval and Timeout must not be negative")
	}
	if cfg.Seed != nil && cfg.Redis != nil {
		return nil, errors.New("bandwidth: Seed is for a meter without Redis")
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "wl:bw:"
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 500 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Meter{cfg: cfg, log: cfg.Logger, start: cfg.Now()}
	for i := range m.shards {
		m.shards[i].m = make(map[counterKey]*counter)
	}
	var err error
	if m.m, err = newMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	m.lastSweep, _ = m.months.month(m.start)
	return m, nil
}

// Used returns the tenant's bytes this UTC month as of now, as far as
// this edge knows, and the start of the next month, when the count
// returns to zero. With Redis it also marks the tenant for the next
// flush, which reads back the fleet's total even if this edge serves it
// no bytes.
func (m *Meter) Used(tenantID int64, now time.Time) (used int64, reset time.Time) {
	return m.UsedIn(nil, tenantID, now)
}

// Add counts n bytes for the tenant in now's month. Call it when a
// response is finished.
func (m *Meter) Add(tenantID int64, now time.Time, n int64) {
	m.AddIn(nil, tenantID, now, n)
}

// Slot remembers one tenant's counter for the month it last served, so
// that UsedIn and AddIn skip the shard lookup (a read lock and a map
// access) that Used and Add make; the edge keeps one in each tenant's
// snapshot entry, as they run on every request. The zero value is
// ready. A Slot is for one tenant of one Meter.
type Slot struct{ c atomic.Pointer[counter] }

// UsedIn is Used with the tenant's counter remembered in s (nil: none).
func (m *Meter) UsedIn(s *Slot, tenantID int64, now time.Time) (used int64, reset time.Time) {
	mk, reset := m.months.month(now)
	c := m.slotCounter(s, tenantID, mk)
	m.touch(c)
	return c.used(), reset
}

// AddIn is Add with the tenant's counter remembered in s (nil: none).
func (m *Meter) AddIn(s *Slot, tenantID int64, now time.Time, n int64) {
	if n <= 0 {
		return
	}
	mk, _ := m.months.month(now)
	c := m.slotCounter(s, tenantID, mk)
	c.pending.Add(n)
	m.touch(c)
}

// slotCounter returns the tenant's counter for month key mk from s when
// s holds it, else from the shards, remembering it in s. A counter is
// dropped (sweep) only after its month has ended, so one held for the
// current month is the shards' own.
func (m *Meter) slotCounter(s *Slot, tenantID, mk int64) *counter {
	if s == nil {
		return m.counter(tenantID, mk)
	}
	if c := s.c.Load(); c != nil && c.month == mk && c.tenant == tenantID {
		return c
	}
	c := m.counter(tenantID, mk)
	s.c.Store(c)
	return c
}

// touch queues c for the next flush to Redis, once.
func (m *Meter) touch(c *counter) {
	if m.cfg.Redis == nil || c.queued.Load() || !c.queued.CompareAndSwap(false, true) {
		return
	}
	m.mu.Lock()
	m.touched = append(m.touched, c)
	m.mu.Unlock()
}

// counter returns the tenant's counter for month key mk, creating it.
func (m *Meter) counter(tenantID, mk int64) *counter {
	k := counterKey{tenantID, mk}
	sh := &m.shards[uint64(tenantID)*0x9E3779B97F4A7C15>>58]
	sh.mu.RLock()
	c := sh.m[k]
	sh.mu.RUnlock()
	if c != nil {
		return c
	}
	sh.mu.Lock()
	if c = sh.m[k]; c == nil {
		c = &counter{counterKey: k}
		sh.m[k] = c
		if m.cfg.Seed != nil && monthStart(mk).Before(m.seedTo()) {
			m.mu.Lock()
			m.seeds = append(m.seeds, c)
			m.mu.Unlock()
		}
	}
	sh.mu.Unlock()
	return c
}

// seedTo is the end of the span Seed covers: the minute the meter
// started in, whose usage the store may hold from another process.
func (m *Meter) seedTo() time.Time { return m.start.Truncate(time.Minute) }

// Run flushes to Redis (see Flush), seeds new counters from the store and
// drops past months every FlushInterval until ctx ends, then flushes one
// last time (bounded by Timeout).
func (m *Meter) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.Timeout)
			m.Flush(fctx)
			cancel()
			return
		case <-t.C:
		}
		m.seed(ctx)
		m.Flush(ctx)
		m.sweep()
	}
}

// seed calls Config.Seed for the counters waiting for it, stopping at the
// first failure (the store is likely down; the rest wait for the next
// tick).
func (m *Meter) seed(ctx context.Context) {
	m.mu.Lock()
	todo := m.seeds
	m.seeds = nil
	m.mu.Unlock()
	for i, c := range todo {
		sctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
		n, err := m.cfg.Seed(sctx, c.tenant, monthStart(c.month), m.seedTo())
		cancel()
		if err != nil {
			m.m.seedErrors.Inc()
			m.log.Warn("bandwidth: seeding from the usage store failed; counting from this edge's start meanwhile", "error", err, "tenant", c.tenant, "waiting", len(todo)-i)
			m.mu.Lock()
			m.seeds = append(m.seeds, todo[i:]...)
			m.mu.Unlock()
			return
		}
		c.base.Add(n)
	}
}

// sweep drops the counters of past months once they have nothing left to
// flush. It scans only after a month has ended.
func (m *Meter) sweep() {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	cur, _ := m.months.month(m.cfg.Now())
	if m.lastSweep >= cur {
		return
	}
	left := false
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for k, c := range sh.m {
			if k.month >= cur {
				continue
			}
			if m.cfg.Redis != nil && (c.pending.Load() != 0 || c.queued.Load()) {
				left = true // not yet in Redis
				continue
			}
			delete(sh.m, k)
		}
		sh.mu.Unlock()
	}
	if !left {
		m.lastSweep = cur
	}
}

// key returns the Redis key of c.
func (m *Meter) key(c *counter) string {
	return fmt.Sprintf("%s{%d}:%s", m.cfg.KeyPrefix, c.tenant, monthStart(c.month).Format("2006-01"))
}

// monthOf returns the number of months since January of year 0 for t in
// UTC: a compact, ordered month key.
func monthOf(t time.Time) int64 {
	y, mo, _ := t.UTC().Date()
	return int64(y)*12 + int64(mo) - 1
}

// monthStart returns the first instant of month key mk in UTC.
func monthStart(mk int64) time.Time {
	return time.Date(int(mk/12), time.Month(mk%12+1), 1, 0, 0, 0, 0, time.UTC)
}

// monthCache remembers the current month so the hot path does not
// compute calendar dates; it is safe for concurrent use.
type monthCache struct {
	p atomic.Pointer[monthSpan]
}

type monthSpan struct {
	start, end int64 // unix nanoseconds: [start, end)
	mk         int64
	reset      time.Time // the start of the next month
}

// month returns t's month key and the start of the following month.
func (c *monthCache) month(t time.Time) (int64, time.Time) {
	ns := t.UnixNano()
	if s := c.p.Load(); s != nil && ns >= s.start && ns < s.end {
		return s.mk, s.reset
	}
	mk := monthOf(t)
	s := &monthSpan{start: monthStart(mk).UnixNano(), mk: mk, reset: monthStart(mk + 1)}
	s.end = s.reset.UnixNano()
	c.p.Store(s)
	return mk, s.reset
}
