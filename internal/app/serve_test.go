package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatecore/whitelabel/internal/app"
)

// TestServeDrainsInFlight cancels Serve's context, as SIGTERM does in
// cmd/*, while a slow request is in flight: new connections are refused
// from then on, the request still completes with its full body, and
// Serve returns nil once it has.
func TestServeDrainsInFlight(t *testing.T) {
	body := strings.Repeat("drained ", 8<<10) // 64 KiB, more than one write
	started, finish := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-finish
		io.WriteString(w, body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- app.Serve(ctx, quietLog(), 10*time.Second, &app.Server{Name: "test", Handler: h, Listener: ln})
	}()

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		res, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		got <- result{status: res.StatusCode, body: string(b), err: err}
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never reached the handler")
	}

	cancel() // shutdown begins
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break // refused: the listener is closed
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("new connections still accepted 5s after shutdown began")
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not an assertion
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a request in flight", err)
	default:
	}

	close(finish)
	r := <-got
	if r.err != nil || r.status != http.StatusOK || r.body != body {
		t.Errorf("in-flight request = %d, %d bytes, %v; want 200 with the full %d bytes", r.status, len(r.body), r.err, len(body))
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v, want nil after a clean shutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the last request finished")
	}
}
