package testenv

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServer is a redis-server process a test starts for itself, on a
// free loopback port and without persistence, so that it can stop and
// restart it without touching the shared Redis of RedisAddr. It is not
// safe for concurrent use.
type RedisServer struct {
	t    testing.TB
	bin  string
	port int
	addr string
	cmd  *exec.Cmd
}

// StartRedis starts a private redis-server and stops it when the test
// ends. Without a redis-server binary the test is skipped, or fails when
// services are Required.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "redis-server not found: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &RedisServer{t: t, bin: bin, port: port, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// Addr returns the server's host:port; it stays the same across Restart.
func (s *RedisServer) Addr() string { return s.addr }

// Stop kills the server abruptly (SIGKILL), as a crash would, and waits
// for it to exit. Stopping a stopped server does nothing.
func (s *RedisServer) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Restart starts a stopped server again on the same port, empty, and
// returns once it answers PING. It stops a running one first.
func (s *RedisServer) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Client returns a client of the server that fails fast (no retries,
// 200 ms timeouts), as outage tests need; it is closed when t ends.
func (s *RedisServer) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr: s.addr, MaxRetries: -1, PoolSize: 32,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// start runs redis-server and waits up to 10s for it to answer.
func (s *RedisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer: %v", s.addr, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not an assertion
	}
}
