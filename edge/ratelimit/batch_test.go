package ratelimit

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/internal/testenv"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
)

// holdPipelines makes l act as if l.maxSlowSenders pipelines were in
// flight, so that every Allow queues, however long. The returned release lets one
// sender take the queue, maxBatch calls per pipeline. It first waits
// for the senders of earlier calls to finish: one still running would
// take the calls queued here. A test that stops before release releases at cleanup, so
// that Close does not wait for the pretend pipelines forever.
func holdPipelines(t *testing.T, l *Redis) (release func()) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		if l.senders == 0 {
			l.senders += l.maxSlowSenders
			l.wg.Add(1) // for the pretend worker that release starts
			l.mu.Unlock()
			break
		}
		n := l.senders
		l.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("%d senders still running after 10s, want 0", n)
		}
		time.Sleep(time.Millisecond) // polling interval, not an assertion
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			l.mu.Lock()
			l.senders -= l.maxSlowSenders - 1
			l.mu.Unlock()
			go func() { // a worker running the last pretend sender, even after Close
				defer l.wg.Done()
				l.sendLoop(&sender{pipe: l.cfg.Client.Pipeline()})
			}()
		})
	}
	t.Cleanup(release) // runs before newTestRedis's Close: cleanups run last-in first-out
	return release
}

// waitQueued waits until n calls are queued on l.
func waitQueued(t *testing.T, l *Redis, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		k := len(l.pending)
		l.mu.Unlock()
		if k >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls queued after 10s, want %d", k, n)
		}
		time.Sleep(time.Millisecond) // polling interval, not an assertion
	}
}

// allowAll runs one Allow per request, each in its own goroutine, all
// started together, and returns the decisions in the order of reqs. When
// hold is set, the calls are queued first and sent together.
func allowAll(t *testing.T, l *Redis, reqs []Request, hold bool) []Decision {
	t.Helper()
	var release func()
	if hold {
		release = holdPipelines(t, l)
	}
	out := make([]Decision, len(reqs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Go(func() {
			<-start
			d, err := l.Allow(context.Background(), req)
			if err != nil {
				t.Errorf("Allow: %v", err)
			}
			out[i] = d
		})
	}
	close(start)
	if hold {
		waitQueued(t, l, len(reqs))
		release()
	}
	wg.Wait()
	return out
}

// TestRedisPipelineConcurrent sends concurrent decisions for tenants
// with different limits and checks that each caller gets a decision of
// its own tenant and that each tenant's burst is admitted exactly.
func TestRedisPipelineConcurrent(t *testing.T) {
	srv := testenv.StartRedis(t)
	c := srv.Client(t)
	m0 := futureMonth()
	tenants := []struct {
		id      int64
		burst   int
		preload int64 // monthly count before the test: identifies the tenant in MonthlyUsed
	}{
		{1, 3, 1000},
		{2, 17, 2000},
		{3, 40, 3000},
		{4, 1, 4000},
	}
	for _, tt := range []struct {
		name string
		hold bool // queue all calls first, so they fill whole pipelines
	}{
		{"queued first", true},
		{"as they come", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prefix := "wl:rl:" + strconv.FormatBool(tt.hold) + ":"
			l := newTestRedis(t, c, RedisConfig{KeyPrefix: prefix, Timeout: 10 * time.Second, Fallback: FallbackClosed})
			for _, tn := range tenants {
				key := prefix + "{" + strconv.FormatInt(tn.id, 10) + "}:m:" + m0.Format("2006-01")
				if err := c.Set(t.Context(), key, tn.preload, time.Hour).Err(); err != nil {
					t.Fatal(err)
				}
			}
			var reqs []Request
			for i := range 200 {
				tn := tenants[i%len(tenants)]
				reqs = append(reqs, Request{TenantID: tn.id, Rate: 0.001, Burst: tn.burst, Now: m0})
			}
			decisions := allowAll(t, l, reqs, tt.hold)

			type tally struct {
				allowed         int
				used, remaining map[int64]bool // of the allowed decisions
			}
			got := map[int64]*tally{}
			for _, tn := range tenants {
				got[tn.id] = &tally{used: map[int64]bool{}, remaining: map[int64]bool{}}
			}
			for i, d := range decisions {
				tn := tenants[i%len(tenants)]
				if d.Degraded {
					t.Fatalf("caller %d (tenant %d): degraded decision %+v", i, tn.id, d)
				}
				if d.MonthlyUsed < tn.preload || d.MonthlyUsed > tn.preload+int64(tn.burst) {
					t.Errorf("caller %d (tenant %d): MonthlyUsed = %d, want within [%d, %d]: another tenant's reply",
						i, tn.id, d.MonthlyUsed, tn.preload, tn.preload+int64(tn.burst))
				}
				if d.Remaining < 0 || d.Remaining >= int64(tn.burst) {
					t.Errorf("caller %d (tenant %d): Remaining = %d, want below its burst %d", i, tn.id, d.Remaining, tn.burst)
				}
				g := got[tn.id]
				switch {
				case d.Allowed:
					g.allowed++
					g.used[d.MonthlyUsed] = true
					g.remaining[d.Remaining] = true
				case d.Code != whitelabel.CodeRateLimited || d.RetryAfter <= 0:
					t.Errorf("caller %d (tenant %d): refused with code %q, RetryAfter %v; want rate_limited with a wait", i, tn.id, d.Code, d.RetryAfter)
				}
			}
			for _, tn := range tenants {
				g := got[tn.id]
				if g.allowed != tn.burst {
					t.Errorf("tenant %d: %d allowed of 50, want its burst %d", tn.id, g.allowed, tn.burst)
				}
				// Every allowed decision saw its own increment and its own
				// token: the replies were not mixed up within the tenant.
				for k := range int64(tn.burst) {
					if !g.used[tn.preload+k+1] || !g.remaining[k] {
						t.Errorf("tenant %d: allowed decisions' MonthlyUsed %v and Remaining %v, want each of %d..%d and 0..%d once",
							tn.id, g.used, g.remaining, tn.preload+1, tn.preload+int64(tn.burst), tn.burst-1)
						break
					}
				}
			}
			pipelines, sent := batchCounts(t, l)
			t.Logf("%d decisions in %d pipelines", int(sent), pipelines)
			if sent != 200 {
				t.Errorf("%v decisions sent, want 200", sent)
			}
			if sent <= float64(pipelines) {
				t.Errorf("%d pipelines for %v decisions: no pipeline carried more than one", pipelines, sent)
			}
			if tt.hold && pipelines < 2 {
				t.Errorf("%d pipeline for 200 queued calls, want them split (TestRedisPipelineBatchLen)", pipelines)
			}
		})
	}
}

// TestBatchLen checks how many queued calls a pipeline takes: maxBatch
// until backlogRounds rounds of them are queued for every sender, then
// 1/backlogRounds of a sender's share of the queue, never more than
// maxBacklogBatch.
func TestBatchLen(t *testing.T) {
	l := &Redis{maxSenders: 2}
	rounds := backlogRounds * 2 * maxBatch // 128
	for _, tt := range []struct{ queued, want int }{
		{0, 0}, {1, 1}, {maxBatch, maxBatch}, {2 * maxBatch, maxBatch}, {rounds, maxBatch},
		{rounds + 8, maxBatch + 1}, {200, 25}, {backlogRounds * 2 * maxBacklogBatch, maxBacklogBatch}, {5000, maxBacklogBatch},
	} {
		l.pending = make([]*call, tt.queued)
		if got := l.batchLen(); got != tt.want {
			t.Errorf("%d queued: batchLen = %d, want %d", tt.queued, got, tt.want)
		}
	}
}

// TestRedisPipelineBatchLen queues calls while the pipelines are busy
// and counts the pipelines that carry them, by size: a queue of up to
// backlogRounds pipelines per sender goes in pipelines of maxBatch, a
// longer one partly in larger pipelines, and every decision is made
// once.
func TestRedisPipelineBatchLen(t *testing.T) {
	srv := testenv.StartRedis(t)
	c := srv.Client(t)
	for _, tt := range []struct {
		queued    int
		pipelines uint64
		overBatch uint64 // pipelines of more than maxBatch
	}{
		{queued: 2 * maxBatch, pipelines: 2, overBatch: 0},
		{queued: backlogRounds * 2 * maxBatch, pipelines: backlogRounds * 2, overBatch: 0},
		// 300 queued, 2 senders: 37, 32, 28, 25, 22, 19, 17 of what is
		// left (each over 128), then 16 at a time and 8.
		{queued: 300, pipelines: 15, overBatch: 7},
	} {
		t.Run(strconv.Itoa(tt.queued), func(t *testing.T) {
			l := newTestRedis(t, c, RedisConfig{KeyPrefix: "wl:rl:bl" + strconv.Itoa(tt.queued) + ":", Timeout: 10 * time.Second, Fallback: FallbackClosed})
			l.maxSenders = 2
			reqs := make([]Request, tt.queued)
			for i := range reqs {
				reqs[i] = Request{TenantID: int64(1 + i%7), Rate: 1000, Burst: 1000}
			}
			for i, d := range allowAll(t, l, reqs, true) {
				if d.Degraded || !d.Allowed {
					t.Fatalf("call %d: decision %+v, want allowed by Redis", i, d)
				}
			}
			var m dto.Metric
			if err := l.m.batchSize.Write(&m); err != nil {
				t.Fatal(err)
			}
			h := m.GetHistogram()
			var upToBatch uint64
			for _, b := range h.GetBucket() {
				if b.GetUpperBound() == maxBatch {
					upToBatch = b.GetCumulativeCount()
				}
			}
			if h.GetSampleCount() != tt.pipelines || h.GetSampleSum() != float64(tt.queued) || h.GetSampleCount()-upToBatch != tt.overBatch {
				t.Errorf("%v decisions in %d pipelines, %d of them over %d; want %d in %d, %d over",
					h.GetSampleSum(), h.GetSampleCount(), h.GetSampleCount()-upToBatch, maxBatch, tt.queued, tt.pipelines, tt.overBatch)
			}
		})
	}
}

// TestRedisPipelineSlowQueue holds the only usual pipeline in flight:
// a call queued once the oldest queued call has waited past slowQueue
// starts an extra sender, which decides both. Without it both would wait
// for their Timeout and be refused by the closed fallback.
func TestRedisPipelineSlowQueue(t *testing.T) {
	srv := testenv.StartRedis(t)
	l := newTestRedis(t, srv.Client(t), RedisConfig{KeyPrefix: "wl:rl:slowq:", Timeout: 5 * time.Second, Fallback: FallbackClosed})
	l.maxSenders, l.maxSlowSenders = 1, 2
	l.mu.Lock()
	l.senders++ // the pretend pipeline in flight
	l.wg.Add(1)
	l.mu.Unlock()
	t.Cleanup(func() { // before newTestRedis's Close
		l.mu.Lock()
		l.senders--
		l.mu.Unlock()
		l.wg.Done()
	})
	ctx := context.Background()
	first := make(chan Decision, 1)
	go func() {
		d, _ := l.Allow(ctx, Request{TenantID: 1, Rate: 10, Burst: 10})
		first <- d
	}()
	waitQueued(t, l, 1)
	time.Sleep(2 * slowQueue) // the queued call waits past slowQueue; not a timing assertion
	second, _ := l.Allow(ctx, Request{TenantID: 2, Rate: 10, Burst: 10})
	for i, d := range []Decision{<-first, second} {
		if d.Degraded || !d.Allowed {
			t.Errorf("call %d: %+v, want allowed by Redis", i+1, d)
		}
	}
}

// TestRedisPipelineNoScript flushes Redis's script cache: the next
// decisions, alone and in a pipeline, get NOSCRIPT and are retried with
// EVAL, without a degraded decision or an error.
func TestRedisPipelineNoScript(t *testing.T) {
	srv := testenv.StartRedis(t)
	c := srv.Client(t)
	l := newTestRedis(t, c, RedisConfig{Timeout: 10 * time.Second, Fallback: FallbackClosed})
	req := Request{TenantID: 1, Rate: 1000, Burst: 1000}
	flush := func() {
		t.Helper()
		if err := c.ScriptFlush(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	flush() // a fresh server has no script either; be explicit
	for i := range 3 {
		d, err := l.Allow(t.Context(), req)
		if err != nil || d.Degraded || !d.Allowed {
			t.Fatalf("call %d after SCRIPT FLUSH: Allow = %+v, %v; want allowed by Redis", i, d, err)
		}
		flush()
	}
	reqs := make([]Request, 20)
	for i := range reqs {
		reqs[i] = Request{TenantID: int64(10 + i%3), Rate: 1000, Burst: 1000}
	}
	for i, d := range allowAll(t, l, reqs, true) {
		if d.Degraded || !d.Allowed {
			t.Errorf("pipelined call %d after SCRIPT FLUSH: %+v; want allowed by Redis", i, d)
		}
	}
	if v := metricValue(t, l.m.redisErrors); v != 0 {
		t.Errorf("redis errors = %v, want 0: NOSCRIPT is not a failure", v)
	}
	if ok, err := allowScript.Exists(t.Context(), c).Result(); err != nil || !ok[0] {
		t.Errorf("SCRIPT EXISTS = %v, %v; want the script cached again", ok, err)
	}
}

// hungRedis returns the address of a server that accepts connections
// and never answers; it closes them when the test ends.
func hungRedis(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			cn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, cn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, cn := range conns {
			cn.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// TestRedisPipelineHungServer checks that a Redis that never answers
// costs a caller at most Timeout, whether or not the client honours
// context deadlines, that failed pipelines open the breaker, and that an
// open breaker sends nothing.
func TestRedisPipelineHungServer(t *testing.T) {
	const timeout = 100 * time.Millisecond
	allowBounded := func(t *testing.T, l *Redis, n int) {
		t.Helper()
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				start := time.Now()
				d, err := l.Allow(context.Background(), Request{TenantID: 1, Rate: 10})
				if took := time.Since(start); took > timeout+time.Second {
					t.Errorf("Allow took %v with Timeout %v", took, timeout)
				}
				if err != nil || !d.Degraded || !d.Allowed {
					t.Errorf("Allow = %+v, %v; want allowed by FallbackOpen", d, err)
				}
			})
		}
		wg.Wait()
	}

	t.Run("client honours deadlines", func(t *testing.T) {
		// Only the context deadline, not ReadTimeout, may end a pipeline.
		c := redis.NewClient(&redis.Options{Addr: hungRedis(t), MaxRetries: -1, ContextTimeoutEnabled: true,
			ReadTimeout: time.Minute, WriteTimeout: time.Minute})
		t.Cleanup(func() { c.Close() })
		l := newTestRedis(t, c, RedisConfig{Timeout: timeout, BreakerFailures: 2, BreakerBackoff: time.Hour, Fallback: FallbackOpen})
		allowBounded(t, l, 20)
		deadline := time.Now().Add(10 * time.Second)
		for !l.Degraded() {
			if d, _ := l.Allow(context.Background(), Request{TenantID: 1, Rate: 10}); !d.Degraded {
				t.Fatalf("Allow = %+v from a server that never answers", d)
			}
			if time.Now().After(deadline) {
				t.Fatal("breaker did not open")
			}
		}
		errs := metricValue(t, l.m.redisErrors)
		sent, _ := batchCounts(t, l)
		for range 100 {
			if d, _ := l.Allow(context.Background(), Request{TenantID: 1, Rate: 10}); !d.Degraded {
				t.Fatalf("Allow with the breaker open = %+v, want degraded", d)
			}
		}
		if v := metricValue(t, l.m.redisErrors); v != errs {
			t.Errorf("redis errors went from %v to %v with the breaker open", errs, v)
		}
		if n, _ := batchCounts(t, l); n != sent {
			t.Errorf("%d pipelines sent with the breaker open, want 0", n-sent)
		}
	})

	t.Run("client ignores deadlines", func(t *testing.T) {
		// The pipelines hang until ReadTimeout; the callers must not.
		c := redis.NewClient(&redis.Options{Addr: hungRedis(t), MaxRetries: -1,
			ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
		t.Cleanup(func() { c.Close() })
		l := newTestRedis(t, c, RedisConfig{Timeout: timeout, Fallback: FallbackOpen})
		allowBounded(t, l, 20)
		allowBounded(t, l, 20)            // queued behind the hung pipelines this time
		if err := l.Close(); err != nil { // waits for the hung pipelines
			t.Errorf("Close = %v", err)
		}
		checkNoOwnGoroutines(t)
	})
}

// TestRedisPipelineCallerGone cancels a queued caller: it returns at
// once with a fallback decision, and the breaker does not count it.
func TestRedisPipelineCallerGone(t *testing.T) {
	srv := testenv.StartRedis(t)
	l := newTestRedis(t, srv.Client(t), RedisConfig{Timeout: 10 * time.Second, BreakerFailures: 1, Fallback: FallbackClosed})
	release := holdPipelines(t, l)
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan Decision)
	go func() {
		d, _ := l.Allow(ctx, Request{TenantID: 1, Rate: 10})
		got <- d
	}()
	waitQueued(t, l, 1)
	cancel()
	if d := <-got; !d.Degraded {
		t.Errorf("Allow after its caller left = %+v, want the fallback's", d)
	}
	release() // finds the abandoned call and recycles it
	if l.Degraded() || l.failures.Load() != 0 {
		t.Errorf("breaker open %v with %d failures after a caller left, want closed with 0", l.Degraded(), l.failures.Load())
	}
	if d, _ := l.Allow(t.Context(), Request{TenantID: 1, Rate: 10}); d.Degraded || !d.Allowed {
		t.Errorf("Allow after the abandoned call = %+v, want allowed by Redis", d)
	}
}

// TestRedisClose checks that Close answers the queued calls with the
// fallback, waits for the pipelines in flight, leaves no goroutine
// behind, and that Allow decides by the fallback afterwards.
func TestRedisClose(t *testing.T) {
	srv := testenv.StartRedis(t)
	l := newTestRedis(t, srv.Client(t), RedisConfig{Timeout: 10 * time.Second, Fallback: FallbackClosed})
	if d, _ := l.Allow(t.Context(), Request{TenantID: 1}); d.Degraded {
		t.Fatalf("Allow before Close = %+v, want a Redis decision", d)
	}

	release := holdPipelines(t, l)
	var wg sync.WaitGroup
	queued := make([]Decision, 5)
	for i := range queued {
		wg.Go(func() { queued[i], _ = l.Allow(context.Background(), Request{TenantID: 1}) })
	}
	waitQueued(t, l, len(queued))
	closed := make(chan error)
	go func() { closed <- l.Close() }()
	// Close waits for the pipelines in flight; let the pretend one end.
	for {
		l.mu.Lock()
		c := l.closed
		l.mu.Unlock()
		if c {
			break
		}
		runtime.Gosched()
	}
	release()
	if err := <-closed; err != nil {
		t.Errorf("Close = %v", err)
	}
	wg.Wait()
	for i, d := range queued {
		if !d.Degraded || d.Allowed || d.Code != whitelabel.CodeRateLimited {
			t.Errorf("call %d queued at Close: %+v, want refused by FallbackClosed", i, d)
		}
	}
	checkNoOwnGoroutines(t)

	d, err := l.Allow(t.Context(), Request{TenantID: 1})
	if err != nil || !d.Degraded || d.Allowed {
		t.Errorf("Allow after Close = %+v, %v; want refused by FallbackClosed", d, err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.senders != 0 || len(l.pending) != 0 {
		t.Errorf("after Close: %d senders running and %d calls queued, want none", l.senders, len(l.pending))
	}
}

// ownGoroutines counts the goroutines running a method of Redis.
func ownGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("edge/ratelimit.(*Redis)")) {
			n++
		}
	}
	return n
}

// checkNoOwnGoroutines fails t unless the limiter's goroutines are gone
// soon. Close returns once they called wg.Done, a moment before they
// have finished returning, so their stacks may linger briefly; a leaked
// one stays.
func checkNoOwnGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := ownGoroutines()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines in the limiter 5s after Close, want 0", n)
			return
		}
		time.Sleep(time.Millisecond) // polling interval, not an assertion
	}
}

// TestRedisPipelineRing sends pipelines through a ring of two servers,
// which splits each by key: each tenant still gets its burst.
func TestRedisPipelineRing(t *testing.T) {
	a, b := testenv.StartRedis(t), testenv.StartRedis(t)
	ring := redis.NewRing(&redis.RingOptions{
		Addrs:      map[string]string{"a": a.Addr(), "b": b.Addr()},
		MaxRetries: -1,
	})
	t.Cleanup(func() { ring.Close() })
	l := newTestRedis(t, ring, RedisConfig{Timeout: 10 * time.Second, Fallback: FallbackClosed})
	var reqs []Request
	for i := range 100 {
		reqs = append(reqs, Request{TenantID: int64(1 + i%10), Rate: 0.001, Burst: 1 + i%10})
	}
	allowed := map[int64]int{}
	for i, d := range allowAll(t, l, reqs, true) {
		if d.Degraded {
			t.Fatalf("call %d: degraded decision %+v", i, d)
		}
		if d.Allowed {
			allowed[reqs[i].TenantID]++
		}
	}
	for id := range int64(10) {
		if got := allowed[id+1]; got != int(id)+1 {
			t.Errorf("tenant %d: %d allowed of 10, want its burst %d", id+1, got, id+1)
		}
	}
	if n, sent := batchCounts(t, l); sent != 100 {
		t.Errorf("%v decisions in %d pipelines, want 100", sent, n)
	}
	for _, srv := range []*testenv.RedisServer{a, b} {
		if n, err := srv.Client(t).DBSize(t.Context()).Result(); err != nil || n == 0 {
			t.Errorf("shard %s holds %d keys (%v), want some: the pipeline was not split", srv.Addr(), n, err)
		}
	}
}

// TestRedisPipelineStress races callers that leave (ctx canceled) or
// time out against the senders answering them, with a Timeout short
// enough for both to happen often; run it with -race. Every call must
// return, and Close must leave nothing behind.
func TestRedisPipelineStress(t *testing.T) {
	srv := testenv.StartRedis(t)
	// The breaker stays out of it: a dial within the short Timeout may fail.
	l := newTestRedis(t, srv.Client(t), RedisConfig{Timeout: 2 * time.Millisecond, BreakerFailures: 1 << 20})
	var redisDecided, fellBack atomic.Int64
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := range 100 {
				ctx, cancel := context.WithCancel(context.Background())
				if i%3 == 0 {
					go cancel() // leaves at some point while queued or sent
				}
				d, err := l.Allow(ctx, Request{TenantID: int64(g % 8), Rate: 1e6, Burst: 1000})
				cancel()
				if err != nil || !d.Allowed {
					t.Errorf("Allow = %+v, %v; want allowed", d, err)
					return
				}
				if d.Degraded {
					fellBack.Add(1)
				} else {
					redisDecided.Add(1)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d decided by Redis, %d by the fallback", redisDecided.Load(), fellBack.Load())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	checkNoOwnGoroutines(t)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.senders != 0 || len(l.pending) != 0 {
		t.Errorf("after Close: %d senders running and %d calls queued, want none", l.senders, len(l.pending))
	}
}

// TestRedisSendersReuseWorkers checks that pipelines run on parked worker
// goroutines, not on a goroutine each: a goroutine per pipeline grew its
// stack through go-redis every time. Sequential decisions need one
// worker, concurrent ones at most one per sender that may run at once,
// and Close stops them all.
func TestRedisSendersReuseWorkers(t *testing.T) {
	srv := testenv.StartRedis(t)
	l := newTestRedis(t, srv.Client(t), RedisConfig{KeyPrefix: "wl:rl:workers:", Timeout: 5 * time.Second, Fallback: FallbackClosed})
	workers := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.workers
	}
	for i := range 50 {
		d, _ := l.Allow(t.Context(), Request{TenantID: 1, Rate: 1000, Burst: 1000})
		if d.Degraded || !d.Allowed {
			t.Fatalf("decision %d = %+v, want allowed by Redis", i, d)
		}
		// The sender stops once the queue is empty; wait for that, so
		// the next decision needs a sender again.
		deadline := time.Now().Add(5 * time.Second)
		for {
			l.mu.Lock()
			running := l.senders
			l.mu.Unlock()
			if running == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sender still running 5s after decision %d", i)
			}
			runtime.Gosched()
		}
	}
	if n := workers(); n != 1 {
		t.Errorf("after 50 sequential decisions: %d workers started, want 1", n)
	}

	var reqs []Request
	for i := range 300 {
		reqs = append(reqs, Request{TenantID: int64(2 + i%7), Rate: 1000, Burst: 1000})
	}
	for i, d := range allowAll(t, l, reqs, false) {
		if d.Degraded || !d.Allowed {
			t.Fatalf("concurrent decision %d = %+v, want allowed by Redis", i, d)
		}
	}
	if n := workers(); n < 1 || n > l.maxSlowSenders {
		t.Errorf("after 300 concurrent decisions: %d workers started, want 1 to %d", n, l.maxSlowSenders)
	}
	if n := ownGoroutines(); n > l.maxSlowSenders {
		t.Errorf("%d goroutines in the limiter while idle, want at most %d", n, l.maxSlowSenders)
	}
	l.Close()
	checkNoOwnGoroutines(t)
}
