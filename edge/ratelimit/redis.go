package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// FallbackMode says how a [Redis] limiter decides while Redis is
// unreachable.
type FallbackMode string

// Fallback modes.
const (
	// FallbackLocal limits each edge locally at its share of the tenant's
	// rate (Rate / FleetSize, burst likewise, at least 1), continuing the
	// monthly count from the last value Redis reported.
	FallbackLocal FallbackMode = "local"
	// FallbackOpen allows every request.
	FallbackOpen FallbackMode = "open"
	// FallbackClosed refuses every request with CodeRateLimited.
	FallbackClosed FallbackMode = "closed"
)

// RedisConfig configures a [Redis] limiter.
type RedisConfig struct {
	// Client is the Redis shared by the fleet: a *redis.Client, a
	// *redis.ClusterClient or a ring. Required. The limiter does not close
	// it. Set its ContextTimeoutEnabled option: go-redis ignores context
	// deadlines without it, so a pipeline to a Redis that hangs would
	// only end at the client's ReadTimeout (callers still leave at
	// Timeout, but the breaker counts the failure that late).
	Client redis.UniversalClient
	// KeyPrefix starts every key. Default "wl:rl:". A tenant's keys are
	// KeyPrefix+"{<tenant id>}:rate" (the GCRA state) and
	// KeyPrefix+"{<tenant id>}:m:<YYYY-MM>" (the monthly count, expiring
	// an hour after the month ends); the braces are a hash tag, so a
	// cluster keeps both in one slot and the script may touch both.
	KeyPrefix string
	// Timeout bounds how long one decision waits for Redis, waiting for
	// a place in a pipeline included. Default 100ms. A pipeline is given
	// up at nine tenths of the Timeout of the newest decision it carries,
	// so that its failure is counted before the callers fall back; a
	// failed pipeline is one failure for the breaker however many
	// decisions it carried.
	Timeout time.Duration
	// Fallback decides while Redis is unreachable. Default FallbackLocal.
	Fallback FallbackMode
	// FleetSize is the number of edges sharing the limits; in
	// FallbackLocal each edge allows 1/FleetSize of a tenant's rate and
	// burst. Default 1.
	FleetSize int
	// BreakerFailures is the number of consecutive failed round trips
	// (pipelines) that opens the circuit breaker. While it is open no
	// request waits for Redis: the fallback decides at once, and a
	// background probe (PING) runs each backoff period. Default 3.
	BreakerFailures int
	// BreakerBackoff is the first wait before probing an open breaker; it
	// doubles after each failed probe up to BreakerMaxBackoff. Default 1s.
	BreakerBackoff time.Duration
	// BreakerMaxBackoff caps the probe backoff. Default 30s or
	// BreakerBackoff if that is longer; it must not be below
	// BreakerBackoff.
	BreakerMaxBackoff time.Duration
	// Local configures the fallback's local limiter (FallbackLocal). Its
	// Registerer is ignored: fallback decisions are counted by this
	// limiter's metrics.
	Local LocalConfig
	// Now is the clock for the breaker and for requests without Now.
	// Default time.Now.
	Now func() time.Time
	// Logger receives breaker transitions. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the limiter's metrics
	// (whitelabel_ratelimit_*{backend="redis"}, and the pipeline sizes in
	// whitelabel_ratelimit_redis_batch_size). Nil means not registered.
	Registerer prometheus.Registerer
}

// Redis is a [Limiter] shared by a fleet of edges through Redis: a limit
// of L/s with burst B holds for all edges together. Each decision is one
// EVALSHA (EVAL if Redis lost the script) of a Lua script that checks the
// monthly count, runs GCRA on Redis TIME and, only if both allow, stores
// the new GCRA state and increments the monthly count (see script.go).
// Nothing is read in one round trip and written in another, so
// concurrent edges cannot over-admit.
//
// Concurrent decisions share round trips (automatic pipelining, see
// batch.go). Allow queues its script call and waits; a sender goroutine
// sends up to 16 queued calls (more when the queue is long) as one
// pipeline, EVALSHA per decision, and hands each caller its own reply.
// While two pipelines per CPU are in flight, new calls queue up for the
// next, so under load one round trip carries many decisions, while a
// lone request pays a hand-off to a sender and back. Each decision is
// still its own atomic script execution: pipelining changes neither the
// keys nor the script nor the accuracy, only how many round trips the
// decisions take.
//
// Allow never returns an error and never waits for Redis longer than
// Timeout: failures are counted, trip a circuit breaker after
// BreakerFailures failed round trips in a row, and the request is decided
// by the Fallback mode with Decision.Degraded set. Redis is probed in the
// background and the limiter goes back to it by itself when it answers.
//
// Redis is safe for concurrent use. Its pipeline senders run on a few
// goroutines started on first use (see batch.go); Close stops them, after
// which the fallback decides.
type Redis struct {
	cfg      RedisConfig
	local    *Local // fallback; nil unless FallbackLocal
	m        *metrics
	log      *slog.Logger
	keyRate  string // KeyPrefix + "{"
	months   monthCache
	failures atomic.Int32
	open     atomic.Bool  // breaker open: skip Redis
	probing  atomic.Bool  // a probe is running
	retryAt  atomic.Int64 // unix nanoseconds of the next probe
	backoff  atomic.Int64 // current backoff, nanoseconds

	calls sync.Pool // *call; see batch.go
	mu    sync.Mutex
	// Guarded by mu.
	pending []*call // queued for the next pipeline, oldest first
	senders int     // senders woken and not yet finished
	workers int     // worker goroutines started, each with its sender
	closed  bool
	wake    chan struct{}  // wakes a parked worker; closed by Close
	wg      sync.WaitGroup // the workers and the breaker probe

	// Pipelines in flight at most, set once: usually, and while calls
	// wait long (see sendersPerCPU and slowQueue).
	maxSenders, maxSlowSenders int
}

var _ Limiter = (*Redis)(nil)

// NewRedis returns a Redis limiter. It returns an error when Client is
// nil, a setting is invalid, or the metrics cannot be registered. It does
// not contact Redis and starts no goroutine; call Close when done with it.
func NewRedis(cfg RedisConfig) (*Redis, error) {
	if cfg.Client == nil {
		return nil, whitelabel.Invalid("Client", "a Redis client is required")
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "wl:rl:"
	}
	if cfg.Timeout < 0 || cfg.FleetSize < 0 || cfg.BreakerFailures < 0 || cfg.BreakerBackoff < 0 || cfg.BreakerMaxBackoff < 0 {
		return nil, whitelabel.Invalid("", "rate limit settings must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 100 * time.Millisecond
	}
	switch cfg.Fallback {
	case "":
		cfg.Fallback = FallbackLocal
	case FallbackLocal, FallbackOpen, FallbackClosed:
	default:
		return nil, whitelabel.Invalid("Fallback", "%q is not one of local, open, closed", cfg.Fallback)
	}
	if cfg.FleetSize == 0 {
		cfg.FleetSize = 1
	}
	if cfg.BreakerFailures == 0 {
		cfg.BreakerFailures = 3
	}
	if cfg.BreakerBackoff == 0 {
		cfg.BreakerBackoff = time.Second
	}
	if cfg.BreakerMaxBackoff == 0 {
		cfg.BreakerMaxBackoff = max(30*time.Second, cfg.BreakerBackoff)
	}
	if cfg.BreakerMaxBackoff < cfg.BreakerBackoff {
		return nil, whitelabel.Invalid("BreakerMaxBackoff", "must be at least BreakerBackoff (%s)", cfg.BreakerBackoff)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Redis{cfg: cfg, log: cfg.Logger, keyRate: cfg.KeyPrefix + "{"}
	r.maxSenders = sendersPerCPU * runtime.GOMAXPROCS(0)
	r.maxSlowSenders = slowSendersFactor * r.maxSenders
	if c, ok := cfg.Client.(*redis.Client); ok {
		// A sender waiting for a pooled connection would wait out its
		// PoolTimeout and count as a failed round trip.
		pool := max(1, c.Options().PoolSize/2)
		r.maxSenders, r.maxSlowSenders = min(r.maxSenders, pool), min(r.maxSlowSenders, pool)
	}
	r.calls.New = newCall
	r.wake = make(chan struct{}, r.maxSlowSenders)
	var err error
	if r.m, err = newMetrics(cfg.Registerer, "redis"); err != nil {
		return nil, fmt.Errorf("new redis limiter: %w", err)
	}
	if cfg.Fallback == FallbackLocal {
		lc := cfg.Local
		lc.Registerer = nil
		if lc.Now == nil {
			lc.Now = cfg.Now
		}
		if r.local, err = newLocal(lc, "redis_fallback"); err != nil {
			return nil, fmt.Errorf("new redis limiter: fallback: %w", err)
		}
	}
	r.backoff.Store(int64(cfg.BreakerBackoff))
	return r, nil
}

// Allow implements [Limiter]. The error is always nil. It waits at most
// Timeout for its reply, and stops waiting when ctx ends (the fallback
// then decides; the breaker does not count a caller that left).
func (r *Redis) Allow(ctx context.Context, req Request) (Decision, error) {
	req = req.normalized(r.cfg.Now)
	var d Decision
	var ok bool
	if r.open.Load() {
		r.maybeProbe()
	} else if ctx.Err() == nil {
		d, ok = r.decide(ctx, req)
	}
	if ok {
		if r.local != nil {
			r.local.observeMonthly(req.TenantID, req.Now, d.MonthlyUsed)
		}
	} else {
		d = r.fallback(req)
	}
	r.m.count(&d)
	return d, nil
}

// Close stops the limiter: the calls still queued are decided by the
// fallback, and Close waits for the pipelines in flight and a running
// breaker probe, so no goroutine of the limiter outlives it. Afterwards
// Allow decides every request by the Fallback mode, with
// Decision.Degraded set. Close does not close the Client; call it before
// closing the Client. It always returns nil and may be called more than
// once.
func (r *Redis) Close() error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.wake) // the workers finish the senders handed to them, then return
	}
	r.mu.Unlock()
	r.wg.Wait()
	return nil
}

// Degraded reports whether the breaker is open, so the fallback decides.
func (r *Redis) Degraded() bool { return r.open.Load() }

// fallback decides req without Redis.
func (r *Redis) fallback(req Request) Decision {
	var d Decision
	switch r.cfg.Fallback {
	case FallbackOpen:
		mk := monthOf(req.Now)
		d = Decision{Allowed: true, MonthlyLimit: max(req.MonthlyLimit, 0), MonthlyReset: monthStart(mk + 1)}
	case FallbackClosed:
		mk := monthOf(req.Now)
		d = Decision{Code: whitelabel.CodeRateLimited, MonthlyLimit: max(req.MonthlyLimit, 0), MonthlyReset: monthStart(mk + 1)}
		d.RetryAfter = max(time.Second, time.Duration(r.retryAt.Load()-r.cfg.Now().UnixNano()))
	default:
		n := r.cfg.FleetSize
		if req.Rate > 0 && n > 1 {
			req.Rate /= float64(n)
			req.Burst = max(1, (req.Burst+n-1)/n)
			req.Cost = min(req.Cost, req.Burst)
		}
		d = r.local.decide(req)
	}
	d.Degraded = true
	return d
}

// trip opens the breaker, if it is closed, after failures failed round
// trips.
func (r *Redis) trip(failures int32, cause error) {
	if !r.open.CompareAndSwap(false, true) {
		return
	}
	b := r.cfg.BreakerBackoff
	r.backoff.Store(int64(b))
	r.retryAt.Store(r.cfg.Now().Add(b).UnixNano())
	r.m.fallbackEngaged.Set(1)
	r.m.transitions.WithLabelValues("open").Inc()
	r.log.Warn("rate limit: Redis unreachable, fallback engaged",
		"fallback", string(r.cfg.Fallback), "failures", failures, "retry_in", b, "err", cause)
}

// maybeProbe starts a background probe of Redis when the backoff has
// passed and no probe is running.
func (r *Redis) maybeProbe() {
	if r.cfg.Now().UnixNano() < r.retryAt.Load() || !r.probing.CompareAndSwap(false, true) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		r.probing.Store(false)
		return
	}
	r.wg.Add(1)
	go r.probe()
}

// probe pings Redis once: success closes the breaker, failure doubles the
// backoff.
func (r *Redis) probe() {
	defer r.wg.Done()
	defer r.probing.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), max(r.cfg.Timeout, 250*time.Millisecond))
	err := r.cfg.Client.Ping(ctx).Err()
	cancel()
	if err == nil {
		r.failures.Store(0)
		r.open.Store(false)
		r.m.fallbackEngaged.Set(0)
		r.m.transitions.WithLabelValues("closed").Inc()
		r.log.Info("rate limit: Redis reachable again, fallback disengaged")
		return
	}
	r.m.redisErrors.Inc()
	b := min(2*time.Duration(r.backoff.Load()), r.cfg.BreakerMaxBackoff)
	r.backoff.Store(int64(b))
	r.retryAt.Store(r.cfg.Now().Add(b).UnixNano())
	r.log.Debug("rate limit: Redis probe failed", "retry_in", b, "err", err)
}

// roundTripDone updates the breaker after a pipeline in which ok
// decisions got a reply and failure is the first error, if any. A
// pipeline without a single reply is one failed round trip; one with a
// reply shows Redis answering and resets the count.
func (r *Redis) roundTripDone(ok int, failure error) {
	if failure != nil {
		r.m.redisErrors.Inc()
	}
	if ok > 0 {
		if r.failures.Load() != 0 {
			r.failures.Store(0)
		}
		return
	}
	if n := r.failures.Add(1); int(n) >= r.cfg.BreakerFailures {
		r.trip(n, fmt.Errorf("rate limit script: %w", failure))
	}
}

// decide runs the script for a normalized request in a pipeline. It
// reports false when Redis did not decide: the caller gave up, the round
// trip failed (its sender counted that) or the reply was malformed.
func (r *Redis) decide(ctx context.Context, req Request) (Decision, bool) {
	mk, reset := r.months.month(req.Now)
	c := r.calls.Get().(*call)
	r.fill(c, &req, mk, reset)
	if !r.roundTrip(ctx, c) {
		return Decision{}, false
	}
	var res scriptResult
	err := c.err
	if err == nil {
		var v []int64
		if v, err = c.cmd.Result(); err == nil {
			if res, err = parseResult(v); err != nil {
				r.m.redisErrors.Inc()
			}
		}
	}
	r.release(c)
	if err != nil {
		return Decision{}, false
	}
	d := Decision{
		MonthlyUsed:  res.used,
		MonthlyLimit: max(req.MonthlyLimit, 0),
		MonthlyReset: reset,
	}
	if req.Rate > 0 {
		d.Limit = int64(req.Burst)
		d.Window = window(req.Rate, req.Burst)
		d.Remaining = res.remaining
		d.ResetAfter = res.resetAfter
	}
	switch res.status {
	case statusAllowed:
		d.Allowed = true
	case statusRateLimited:
		d.Code = whitelabel.CodeRateLimited
		d.RetryAfter = res.retryAfter
	case statusQuotaExceeded:
		d.Code = whitelabel.CodeQuotaExceeded
		d.RetryAfter = reset.Sub(req.Now)
	}
	return d, true
}

var errBadReply = errors.New("rate limit script: unexpected reply")

type scriptResult struct {
	status, remaining, used int64
	retryAfter, resetAfter  time.Duration
}

// parseResult reads the script's reply: five integers.
func parseResult(n []int64) (scriptResult, error) {
	if len(n) != 5 {
		return scriptResult{}, fmt.Errorf("%w: %d elements, want 5", errBadReply, len(n))
	}
	return scriptResult{
		status: n[0], remaining: n[1], used: n[4],
		retryAfter: max(time.Duration(n[2]), 0) * time.Microsecond,
		resetAfter: max(time.Duration(n[3]), 0) * time.Microsecond,
	}, nil
}
