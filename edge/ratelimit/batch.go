package ratelimit

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Automatic pipelining. Concurrent decisions share round trips: Allow
// queues a call and waits for its answer, and sender goroutines take
// queued calls (see batchLen), send them as one pipeline and answer each
// call with its own reply. While the pipelines are in flight new calls
// queue up and form the next ones, so batches grow with load. Each
// decision is still one atomic script execution; only the round trips
// are shared.
//
// Callers never talk to Redis themselves, so each waits with its own
// timer and ctx: a Redis that hangs, or a client that ignores context
// deadlines, cannot hold a caller past Timeout.
//
// Senders run only while there is work: a call queued while fewer than
// Redis.maxSenders run starts one, and a sender stops when it finds the
// queue empty. A sender runs on a worker goroutine that then parks until
// the next one, instead of a goroutine of its own: a new goroutine grew
// its stack through go-redis's pipeline calls every time, which callgrind
// counted at about 65,000 instructions per pipeline, more than the rest
// of the edge's work on a request. Workers are started as needed, at most
// one per sender that can run at once, so a limiter that was never busy
// holds none; Close stops them after the running senders finish.

// maxBatch caps the decisions in one pipeline while the queue is short
// (see batchLen). Redis runs a pipeline's scripts one after another
// (about 7.5 µs each on Redis 7) and go-redis returns when the last reply
// is read, so every caller in a pipeline waits for all of its scripts.
// When a sender took everything queued, batches grew with the queue (a
// longer pipeline let more calls queue for the next): at 64 concurrent
// requests two thirds of an edge's requests sat in long pipelines and
// its CPU idled 10 % of the time. With 16 the callers are released in
// small groups as Redis works through them: in interleaved runs on 200 B
// pages the edge's throughput with Redis limits went from 0.75–0.79 of
// its unlimited throughput to 0.82–0.84 (8 and 12 measured the same).
const maxBatch = 16

// maxBacklogBatch caps the decisions in one pipeline when the queue is
// long.
const maxBacklogBatch = 256

// sendersPerCPU sets the pipelines in flight at once: this many per
// GOMAXPROCS (at most half the client's pool, when it is a
// *redis.Client). With one in all, a request arriving while another's
// round trip is in flight would wait for that round trip and then make
// its own, so two concurrent requests would take twice as long as
// without pipelining; with two they proceed side by side, and under load
// one pipeline fills while the other is in flight. More per CPU measured
// slower on loopback (more calls waiting inside Redis at once).
const sendersPerCPU = 2

// slowQueue and slowSendersFactor let more pipelines fly when Redis is
// far away: a call queued while the oldest queued call has waited longer
// than slowQueue starts a sender while fewer than slowSendersFactor
// times the usual number run. A nearby Redis answers a pipeline of
// maxBatch in about 0.2 ms, so only a long round trip makes calls wait
// that long; there the round trip, not Redis, is what the callers wait
// for, and more pipelines of maxBatch cost them little. At a 2 ms round
// trip (through a delaying proxy) and 64 concurrent requests on one CPU,
// the edge made 11,000 decisions a second with two pipelines in flight,
// 12,100–12,400 with these extra ones and 12,900–13,300 with uncapped
// pipelines; on loopback they left the ratio unchanged (0.82 against
// 0.83 of the unlimited throughput, within the noise). With slowQueue at
// 0.5 ms they gave 12,600 at 2 ms; 1 ms keeps further from the waits of
// a nearby Redis under load.
const (
	slowQueue         = time.Millisecond
	slowSendersFactor = 4
)

// backlogRounds is how many rounds of full pipelines must be queued
// before pipelines grow past maxBatch; see batchLen.
const backlogRounds = 4

// batchLen returns how many of the queued calls the next pipeline
// carries; the caller holds r.mu. Usually maxBatch. When more than
// backlogRounds pipelines of maxBatch per sender are queued, Redis is
// farther away than the pipelines in flight can cover (at a 1 ms round
// trip, two pipelines of 16 carry 32,000 decisions a second), so each
// pipeline takes 1/backlogRounds of a sender's share of the queue, up to
// maxBacklogBatch: the decisions in flight grow with the round trip
// instead of the calls queueing until their Timeout. The threshold is
// high so that the bursts of an edge under load on a nearby Redis (at 64
// concurrent requests on one CPU the queue reached 32 in one pipeline of
// seven) keep the small pipelines; growing at 32 already cost them 2 %.
func (r *Redis) batchLen() int {
	n := len(r.pending)
	return min(n, max(maxBatch, n/(backlogRounds*r.maxSenders)), maxBacklogBatch)
}

// Reasons a call was answered without a reply from Redis. The sender has
// done any failure accounting already; Allow only falls back.
var (
	errClosed      = errors.New("rate limit: limiter closed")
	errBreakerOpen = errors.New("rate limit: circuit breaker open")
	errExpired     = errors.New("rate limit: timeout while queued")
)

// Call states. A queued call moves to exactly one of callDone (a sender
// answered it and signals done) or callAbandoned (its caller stopped
// waiting; the sender that finds it recycles it).
const (
	callQueued int32 = iota
	callDone
	callAbandoned
)

// Script command names and arguments, boxed once so that filling a call
// allocates nothing.
var (
	argEvalSHA any = "evalsha"
	argEval    any = "eval"
	argSHA     any = allowScript.Hash()
	argSource  any = allowSource
	argNumKeys any = "2"
)

// call is one decision on its way to Redis. Calls are pooled. args
// points at the call's own fields (go-redis writes *string, *int64 and
// *float64 arguments), so a reused call sends new values without boxing
// them again.
type call struct {
	keyRate, keyMonth                   string
	burst, cost, monthlyLimit, expireAt int64
	rate                                float64
	args                                []any
	tenant, month                       int64  // whose keys keyRate and keyMonth are
	keyBuf                              []byte // scratch for building the keys

	queued time.Time // when the call was queued; see Redis.cutoff
	state  atomic.Int32
	done   chan struct{} // capacity 1, so a sender never blocks on it
	timer  *time.Timer   // the caller's Timeout; stopped while pooled

	// The outcome, set before the call is answered: the command and its
	// error, or only err when the call was not sent.
	cmd *redis.IntSliceCmd
	err error
}

// sender is a worker's pipeline and scratch, kept between its runs.
type sender struct {
	batch []*call
	cmds  []redis.Cmder
	pipe  redis.Pipeliner
}

func newCall() any {
	c := &call{done: make(chan struct{}, 1), timer: time.NewTimer(time.Hour)}
	c.timer.Stop()
	c.args = []any{argEvalSHA, argSHA, argNumKeys, &c.keyRate, &c.keyMonth,
		&c.burst, &c.rate, &c.cost, &c.monthlyLimit, &c.expireAt}
	return c
}

// fill sets c's script arguments for the normalized req in month mk,
// whose successor starts at reset. The keys are rebuilt only when the
// tenant or month differs from the call's last use.
func (r *Redis) fill(c *call, req *Request, mk int64, reset time.Time) {
	if c.keyMonth == "" || c.tenant != req.TenantID || c.month != mk {
		b := append(c.keyBuf[:0], r.keyRate...)
		b = strconv.AppendInt(b, req.TenantID, 10)
		b = append(b, "}:rate"...)
		n := len(b)
		b = append(b, r.keyRate...)
		b = strconv.AppendInt(b, req.TenantID, 10)
		b = append(b, "}:m:"...)
		b = monthStart(mk).AppendFormat(b, "2006-01")
		s := string(b) // one allocation for both keys
		c.keyRate, c.keyMonth = s[:n], s[n:]
		c.keyBuf, c.tenant, c.month = b, req.TenantID, mk
	}
	c.args[0], c.args[1] = argEvalSHA, argSHA // an EVAL retry changed them
	c.burst = int64(req.Burst)
	c.rate = max(req.Rate, 0)
	c.cost = int64(req.Cost)
	c.monthlyLimit = max(req.MonthlyLimit, 0)
	c.expireAt = reset.Add(monthlyKeyGrace).Unix()
}

// cutoff returns when a pipeline carrying c is given up: a tenth of
// Timeout before its caller's own timer fires, so that the failure is
// counted, and the breaker possibly opened, before the caller falls back
// and makes its next call.
func (r *Redis) cutoff(c *call) time.Time {
	return c.queued.Add(r.cfg.Timeout - r.cfg.Timeout/10)
}

// release returns c to the pool. Only its owner may call it: the caller
// after reading the outcome, or the sender that finds it abandoned.
func (r *Redis) release(c *call) {
	c.cmd, c.err = nil, nil
	c.state.Store(callQueued)
	r.calls.Put(c)
}

// roundTrip queues c for a pipeline and waits for the outcome, at most
// Timeout or until ctx ends. It reports whether c has one; c.err then
// tells whether c.cmd holds a reply, and the caller must release c. When
// it reports false the caller gave up and no longer owns c.
func (r *Redis) roundTrip(ctx context.Context, c *call) bool {
	now := time.Now()
	c.timer.Reset(r.cfg.Timeout)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		c.timer.Stop()
		c.err = errClosed
		return true
	}
	c.queued = now
	r.pending = append(r.pending, c)
	if r.senders < r.maxSenders || r.senders < r.maxSlowSenders && now.Sub(r.pending[0].queued) > slowQueue {
		r.startSenderLocked()
	}
	r.mu.Unlock()

	select {
	case <-c.done:
		c.timer.Stop()
		return true
	case <-ctx.Done():
		c.timer.Stop()
	case <-c.timer.C:
	}
	if c.state.CompareAndSwap(callQueued, callAbandoned) {
		return false
	}
	<-c.done // answered meanwhile; the signal is on its way
	return true
}

// startSenderLocked wakes a parked worker to run a sender, starting a
// worker when every one may be busy; the caller holds r.mu and has
// checked r.closed. The wake-up never blocks: r.wake holds
// maxSlowSenders, and at most that many senders are woken and not yet
// finished.
func (r *Redis) startSenderLocked() {
	r.senders++
	if r.workers < r.senders {
		r.workers++
		r.wg.Add(1)
		go r.work()
	}
	r.wake <- struct{}{}
}

// work runs a sender, with its own pipeline and scratch, each time it is
// woken, until Close closes r.wake.
func (r *Redis) work() {
	defer r.wg.Done()
	s := &sender{pipe: r.cfg.Client.Pipeline()}
	for range r.wake {
		r.sendLoop(s)
	}
}

// sendLoop sends pipelines until the queue is empty. Once the limiter is
// closed it answers the queued calls instead.
func (r *Redis) sendLoop(s *sender) {
	for {
		r.mu.Lock()
		n := r.batchLen()
		if n == 0 {
			r.senders--
			r.mu.Unlock()
			return
		}
		batch := append(s.batch[:0], r.pending[:n]...)
		r.dropPendingLocked(n)
		closed := r.closed
		r.mu.Unlock()
		if closed {
			for _, c := range batch {
				r.answer(c, errClosed)
			}
		} else {
			r.send(s, batch)
		}
		clear(batch)
		s.batch = batch
	}
}

// dropPendingLocked removes the n oldest queued calls; the caller holds
// r.mu.
func (r *Redis) dropPendingLocked(n int) {
	k := copy(r.pending, r.pending[n:])
	clear(r.pending[k:])
	r.pending = r.pending[:k]
}

// send runs one pipeline: it drops the calls whose callers gave up,
// sends the rest (retrying NOSCRIPT replies with EVAL once), updates the
// breaker and answers every call.
func (r *Redis) send(s *sender, batch []*call) {
	now := time.Now()
	var deadline time.Time
	live := batch[:0]
	for _, c := range batch {
		switch {
		case c.state.Load() == callAbandoned:
			r.release(c)
		case !r.cutoff(c).After(now):
			r.answer(c, errExpired) // queued too long; its caller falls back
		default:
			live = append(live, c)
			if cut := r.cutoff(c); cut.After(deadline) {
				deadline = cut
			}
		}
	}
	if len(live) == 0 {
		return
	}
	if r.open.Load() {
		// Tripped by an earlier pipeline: these callers must not wait.
		for _, c := range live {
			r.answer(c, errBreakerOpen)
		}
		return
	}
	r.m.batchSize.Observe(float64(len(live)))
	// The pipeline may take until the last cutoff among its calls; one
	// still unanswered then is a failed round trip. (go-redis honours the
	// deadline only with Options.ContextTimeoutEnabled; otherwise its
	// ReadTimeout ends the pipeline, while the callers leave at Timeout.)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if r.exec(ctx, s, live) != nil {
		retry := live[len(live):] // scratch after live, inside batch's array
		for _, c := range live {
			if redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
				c.args[0], c.args[1] = argEval, argSource // EVAL caches it again
				retry = append(retry, c)
			}
		}
		if len(retry) > 0 {
			r.exec(ctx, s, retry)
		}
		clear(retry)
	}

	var ok int
	var failure error
	for _, c := range live {
		if err := c.cmd.Err(); err == nil {
			ok++
		} else if failure == nil {
			failure = err
		}
	}
	r.roundTripDone(ok, failure)
	for _, c := range live {
		r.answer(c, c.cmd.Err())
	}
}

// exec sends one EVALSHA (or EVAL) per call as one pipeline and sets
// each call's cmd. It returns the first error, as Pipeliner.Exec does.
func (r *Redis) exec(ctx context.Context, s *sender, calls []*call) error {
	cmds := s.cmds[:0]
	for _, c := range calls {
		// The reply is five integers: IntSliceCmd reads them into one
		// []int64, where Cmd would box each into an interface.
		c.cmd = redis.NewIntSliceCmd(ctx, c.args...)
		c.cmd.SetFirstKeyPos(3) // the rate key, for cluster and ring routing
		cmds = append(cmds, c.cmd)
	}
	_ = s.pipe.BatchProcess(ctx, cmds...) // only queues; never fails
	_, err := s.pipe.Exec(ctx)
	clear(cmds)
	s.cmds = cmds
	return err
}

// answer gives a queued call its outcome, or recycles it when its caller
// gave up.
func (r *Redis) answer(c *call, err error) {
	c.err = err
	if c.state.CompareAndSwap(callQueued, callDone) {
		c.done <- struct{}{}
		return
	}
	r.release(c)
}
