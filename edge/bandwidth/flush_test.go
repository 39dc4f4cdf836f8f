package bandwidth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/estatecore/whitelabel/internal/testenv"
)

// switchDialer reaches Redis until down is set; then new connections are
// refused and existing ones fail, as if Redis had gone away.
type switchDialer struct{ down atomic.Bool }

var errDown = errors.New("redis switched off by the test")

func (d *switchDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.down.Load() {
		return nil, errDown
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &switchConn{Conn: c, d: d}, nil
}

type switchConn struct {
	net.Conn
	d *switchDialer
}

func (c *switchConn) Read(p []byte) (int, error) {
	if c.d.down.Load() {
		return 0, errDown
	}
	return c.Conn.Read(p)
}

func (c *switchConn) Write(p []byte) (int, error) {
	if c.d.down.Load() {
		return 0, errDown
	}
	return c.Conn.Write(p)
}

// redisClient connects to the test Redis through d (nil: directly).
func redisClient(t *testing.T, d *switchDialer) *redis.Client {
	t.Helper()
	opt := &redis.Options{Addr: testenv.RedisAddr(t), MaxRetries: -1}
	if d != nil {
		opt.Dialer = d.dial
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// uniquePrefix keeps parallel and repeated runs apart on the shared Redis.
func uniquePrefix(t *testing.T) string {
	return fmt.Sprintf("wl:bwtest:%s:%d:", t.Name(), time.Now().UnixNano())
}

func TestFlushSharesFleetTotal(t *testing.T) {
	prefix := uniquePrefix(t)
	now := time.Now()
	a := newMeter(t, Config{Redis: redisClient(t, nil), KeyPrefix: prefix})
	b := newMeter(t, Config{Redis: redisClient(t, nil), KeyPrefix: prefix})
	a.Add(9, now, 1000)
	b.Used(9, now) // b serves the tenant too, with no bytes yet
	if err := a.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Used(9, now); got != 1000 {
		t.Errorf("b.Used after both flushed = %d, want a's 1000", got)
	}
	b.Add(9, now, 24)
	if err := b.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	a.Used(9, now)
	if err := a.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Used(9, now); got != 1024 {
		t.Errorf("a.Used = %d, want 1024", got)
	}

	// The key is named by the month and expires an hour after it ends.
	rc := redisClient(t, nil)
	key := prefix + "{9}:" + now.UTC().Format("2006-01")
	if v, err := rc.Get(t.Context(), key).Int64(); err != nil || v != 1024 {
		t.Errorf("GET %s = %d, %v; want 1024", key, v, err)
	}
	exp, err := rc.ExpireTime(t.Context(), key).Result()
	wantExp := monthStart(monthOf(now) + 1).Add(time.Hour).Unix()
	if err != nil || int64(exp/time.Second) != wantExp {
		t.Errorf("EXPIRETIME %s = %v, %v; want %d", key, exp, err, wantExp)
	}
}

func TestFlushRedisDown(t *testing.T) {
	prefix := uniquePrefix(t)
	now := time.Now()
	var d switchDialer
	m := newMeter(t, Config{Redis: redisClient(t, &d), KeyPrefix: prefix, Timeout: 200 * time.Millisecond})
	m.Add(4, now, 10)
	if err := m.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	d.down.Store(true)
	m.Add(4, now, 5)
	if err := m.Flush(t.Context()); err == nil {
		t.Fatal("Flush with Redis down = nil error")
	}
	m.Add(4, now, 1)
	if got, _ := m.Used(4, now); got != 16 {
		t.Errorf("Used while Redis is down = %d, want 16 (counted locally)", got)
	}
	d.down.Store(false)
	if err := m.Flush(t.Context()); err != nil {
		t.Fatalf("Flush after Redis returned: %v", err)
	}
	key := prefix + "{4}:" + now.UTC().Format("2006-01")
	if v, err := redisClient(t, nil).Get(t.Context(), key).Int64(); err != nil || v != 16 {
		t.Errorf("GET %s = %d, %v; want 16 (nothing lost, nothing doubled)", key, v, err)
	}
	if got, _ := m.Used(4, now); got != 16 {
		t.Errorf("Used after recovery = %d, want 16", got)
	}
}

func TestRunFlushesInBackground(t *testing.T) {
	prefix := uniquePrefix(t)
	now := time.Now()
	a := newMeter(t, Config{Redis: redisClient(t, nil), KeyPrefix: prefix, FlushInterval: 20 * time.Millisecond})
	b := newMeter(t, Config{Redis: redisClient(t, nil), KeyPrefix: prefix, FlushInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{}, 2)
	for _, m := range []*Meter{a, b} {
		go func() { m.Run(ctx); done <- struct{}{} }()
	}
	a.Add(1, now, 500)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got, _ := b.Used(1, now); got == 500 {
			break
		}
		if time.Now().After(deadline) {
			got, _ := b.Used(1, now)
			t.Fatalf("b.Used = %d after 5s, want 500 from a's background flush", got)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not an assertion
	}
	// Bytes counted just before shutdown reach Redis by Run's last flush.
	a.Add(1, now, 1)
	cancel()
	<-done
	<-done
	key := prefix + "{1}:" + now.UTC().Format("2006-01")
	if v, err := redisClient(t, nil).Get(t.Context(), key).Result(); err != nil || v != strconv.Itoa(501) {
		t.Errorf("GET %s = %s, %v; want 501", key, v, err)
	}
}
