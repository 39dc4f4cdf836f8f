package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// LocalConfig configures a [Local] limiter. The zero value is usable.
type LocalConfig struct {
	// MaxTenants caps the tenants tracked in memory. Default 100000. When a
	// new tenant arrives and its shard is full, idle tenants are evicted
	// first, then the least recently seen one; an evicted tenant starts
	// again with a full bucket and, if it had monthly usage, a zero local
	// monthly count.
	MaxTenants int
	// IdleTimeout is how long a tenant may go without a request before its
	// token bucket is dropped (it would be full again by then for any
	// sensible limit). Its monthly count is kept while it is non-zero for
	// the current month. Default 10m.
	IdleTimeout time.Duration
	// Now is the clock used when a Request has no Now. Default time.Now.
	Now func() time.Time
	// Registerer receives the limiter's metrics
	// (whitelabel_ratelimit_*{backend="local"}). Nil means not registered.
	Registerer prometheus.Registerer
}

const numShards = 64 // power of two; see shardFor

// Local is a [Limiter] that keeps every tenant's state in this process:
// a golang.org/x/time/rate bucket per tenant, updated in place when the
// tenant's rate or burst changes, and a monthly counter keyed by UTC
// month. Monthly counts are per process: they start at zero on restart,
// which is why a fleet uses [Redis].
//
// Local is safe for concurrent use; tenants are spread over 64 shards,
// each with its own mutex, and an Allow for a known tenant allocates
// nothing.
type Local struct {
	now      func() time.Time
	idle     int64 // nanoseconds
	perShard int
	m        *metrics
	months   monthCache
	shards   [numShards]shard
}

type shard struct {
	mu        sync.Mutex
	m         map[int64]*entry
	lastSweep int64 // unix nanoseconds of the last idle sweep
	_         [40]byte
}

// entry is one tenant's state, guarded by its shard's mutex.
type entry struct {
	lim   *rate.Limiter // nil until the tenant has a rate, or after idling
	rate  float64
	burst int
	seen  int64 // unix nanoseconds of the last request
	month int64 // monthOf of used
	used  int64
}

var _ Limiter = (*Local)(nil)

// NewLocal returns a Local limiter. It returns an error for negative
// settings or when the metrics cannot be registered.
func NewLocal(cfg LocalConfig) (*Local, error) {
	return newLocal(cfg, "local")
}

func newLocal(cfg LocalConfig, backend string) (*Local, error) {
	if cfg.MaxTenants < 0 {
		return nil, whitelabel.Invalid("MaxTenants", "must not be negative")
	}
	if cfg.IdleTimeout < 0 {
		return nil, whitelabel.Invalid("IdleTimeout", "must not be negative")
	}
	if cfg.MaxTenants == 0 {
		cfg.MaxTenants = 100_000
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(cfg.Registerer, backend)
	if err != nil {
		return nil, fmt.Errorf("new local limiter: %w", err)
	}
	l := &Local{
		now:      cfg.Now,
		idle:     int64(cfg.IdleTimeout),
		perShard: max(1, (cfg.MaxTenants+numShards-1)/numShards),
		m:        m,
	}
	for i := range l.shards {
		l.shards[i].m = make(map[int64]*entry)
	}
	return l, nil
}

// Allow implements [Limiter]. It never returns an error.
func (l *Local) Allow(_ context.Context, req Request) (Decision, error) {
	d := l.decide(req.normalized(l.now))
	l.m.count(&d)
	return d, nil
}

// Len returns the number of tenants held in memory.
func (l *Local) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

func (l *Local) shardFor(id int64) *shard {
	return &l.shards[(uint64(id)*0x9E3779B97F4A7C15)>>(64-6)]
}

// decide makes the decision for a normalized request.
func (l *Local) decide(req Request) Decision {
	now := req.Now
	mk, reset := l.months.month(now)
	cost := int64(req.Cost)
	d := Decision{MonthlyLimit: max(req.MonthlyLimit, 0), MonthlyReset: reset}

	s := l.shardFor(req.TenantID)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := l.unsyncedEntry(s, req.TenantID, now.UnixNano())
	if e.month != mk {
		e.month, e.used = mk, 0
	}
	var lim *rate.Limiter
	if req.Rate > 0 {
		lim = e.limiter(now, req.Rate, req.Burst)
		d.Limit = int64(req.Burst)
		d.Window = window(req.Rate, req.Burst)
	}

	if req.MonthlyLimit > 0 && e.used+cost > req.MonthlyLimit {
		d.Code = whitelabel.CodeQuotaExceeded
		d.MonthlyUsed = e.used
		d.RetryAfter = d.MonthlyReset.Sub(now)
		if lim != nil {
			l.fillTokens(&d, lim, now, req)
		}
		return d
	}
	if lim != nil {
		if !lim.AllowN(now, req.Cost) {
			d.Code = whitelabel.CodeRateLimited
			d.MonthlyUsed = e.used
			tokens := l.fillTokens(&d, lim, now, req)
			d.RetryAfter = secondsDuration((float64(req.Cost) - tokens) / req.Rate)
			return d
		}
		l.fillTokens(&d, lim, now, req)
	}
	e.used += cost
	d.Allowed = true
	d.MonthlyUsed = e.used
	return d
}

// fillTokens sets Remaining and ResetAfter from lim's tokens at now and
// returns the tokens.
func (l *Local) fillTokens(d *Decision, lim *rate.Limiter, now time.Time, req Request) float64 {
	tokens := lim.TokensAt(now)
	d.Remaining = int64(max(0, tokens))
	d.ResetAfter = secondsDuration((float64(req.Burst) - tokens) / req.Rate)
	return tokens
}

// limiter returns e's bucket for rate and burst, creating it or changing
// its settings in place (tokens already spent stay spent).
func (e *entry) limiter(now time.Time, r float64, burst int) *rate.Limiter {
	switch {
	case e.lim == nil:
		e.lim = rate.NewLimiter(rate.Limit(r), burst)
		// A new bucket starts full; TokensAt would report that anyway,
		// but only after the first call at or after now.
		e.lim.SetBurstAt(now, burst)
	case e.rate != r || e.burst != burst:
		if e.rate != r {
			e.lim.SetLimitAt(now, rate.Limit(r))
		}
		if e.burst != burst {
			e.lim.SetBurstAt(now, burst)
		}
	}
	e.rate, e.burst = r, burst
	return e.lim
}

// unsyncedEntry returns the entry for id in s, creating it and making room
// if needed. The caller must hold s.mu.
func (l *Local) unsyncedEntry(s *shard, id, now int64) *entry {
	if e, ok := s.m[id]; ok {
		e.seen = now
		return e
	}
	if now-s.lastSweep > l.idle/2 || len(s.m) >= l.perShard {
		l.unsyncedSweep(s, now)
	}
	if len(s.m) >= l.perShard {
		var oldID int64
		oldest := int64(1<<63 - 1)
		for k, e := range s.m {
			if e.seen < oldest {
				oldID, oldest = k, e.seen
			}
		}
		delete(s.m, oldID)
	}
	e := &entry{seen: now, month: -1}
	s.m[id] = e
	return e
}

// unsyncedSweep drops idle tenants' buckets from s, and the whole entry
// when there is no monthly count for the current month to keep. The
// caller must hold s.mu.
func (l *Local) unsyncedSweep(s *shard, now int64) {
	s.lastSweep = now
	mk, _ := l.months.month(time.Unix(0, now))
	for id, e := range s.m {
		if now-e.seen < l.idle {
			continue
		}
		if e.used == 0 || e.month != mk {
			delete(s.m, id)
			continue
		}
		e.lim, e.rate, e.burst = nil, 0, 0
	}
}

// observeMonthly records the fleet's monthly count for a tenant as seen
// in Redis, so that a local fallback continues from it.
func (l *Local) observeMonthly(id int64, now time.Time, used int64) {
	s := l.shardFor(id)
	s.mu.Lock()
	e := l.unsyncedEntry(s, id, now.UnixNano())
	e.month, _ = l.months.month(now)
	e.used = used
	s.mu.Unlock()
}
