package edge

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// connCounter counts the connections an httptest.Server accepted and
// closed.
type connCounter struct{ opened, closed atomic.Int32 }

func (c *connCounter) hook(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		c.opened.Add(1)
	case http.StateClosed, http.StateHijacked:
		c.closed.Add(1)
	}
}

// TestUpstreamKeepAlive: body-less reads share one upstream connection,
// whatever the response (a body, HEAD, 204, 304); a response that asks
// to close is the connection's last; a POST goes through http.Transport
// and still works.
func TestUpstreamKeepAlive(t *testing.T) {
	var conns connCounter
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.WriteHeader(http.StatusNotModified)
		case "/close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		default:
			io.WriteString(w, "page "+r.URL.Path)
		}
	}))
	up.Config.ConnState = conns.hook
	up.Start()
	defer up.Close()
	e := startEdge(t, activeSource(), up.URL, nil)

	for i := range 20 {
		for _, tc := range []struct{ method, path, body string }{
			{"GET", "/a", "page /a"}, {"HEAD", "/a", ""}, {"GET", "/204", ""}, {"GET", "/304", ""}, {"OPTIONS", "/b", "page /b"},
		} {
			resp, body := e.do(t, tc.method, "acme.example.test", tc.path, nil)
			if resp.StatusCode >= 400 || body != tc.body {
				t.Fatalf("round %d %s %s: %d %q, want %q", i, tc.method, tc.path, resp.StatusCode, body, tc.body)
			}
		}
	}
	if n := conns.opened.Load(); n != 1 {
		t.Errorf("100 sequential reads opened %d upstream connections, want 1", n)
	}
	if _, body := e.do(t, "GET", "acme.example.test", "/close", nil); body != "bye" {
		t.Fatalf("GET /close: %q", body)
	}
	waitFor(t, "the upstream connection to close", 5*time.Second, func() bool { return conns.closed.Load() == 1 })
	if _, body := e.do(t, "GET", "acme.example.test", "/a", nil); body != "page /a" {
		t.Fatalf("GET after a closed connection: %q", body)
	}
	if n := conns.opened.Load(); n != 2 {
		t.Errorf("after Connection: close, %d connections opened, want 2", n)
	}
	req, _ := http.NewRequest("POST", e.URL+"/post", strings.NewReader("payload"))
	req.Host = "acme.example.test"
	if resp, b := e.send(t, req); b != "page /post" {
		t.Errorf("POST: %d %q", resp.StatusCode, b)
	}
}

// TestUpstreamClosedIdle: an upstream that closes each connection after
// one response, without saying so, leaves a dead connection in the pool;
// the next read finds it dead before any response and is sent again on a
// new one.
func TestUpstreamClosedIdle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted, served, closed atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer closed.Add(1)
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				served.Add(1)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
			}()
		}
	}()
	e := startEdge(t, activeSource(), "http://"+ln.Addr().String(), nil)
	for i := range 5 {
		resp, body := e.do(t, "GET", "acme.example.test", "/", nil)
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q, want 200 ok", i, resp.StatusCode, body)
		}
		// The upstream has closed the connection before the next
		// request takes it from the pool: that one is dead.
		waitFor(t, "the upstream to close", 5*time.Second, func() bool { return closed.Load() == int32(i+1) })
	}
	if n := served.Load(); n != 5 {
		t.Errorf("upstream served %d requests, want 5", n)
	}
	if n := accepted.Load(); n < 5 {
		t.Errorf("upstream accepted %d connections, want one per request", n)
	}
}

// TestUpstreamRestarted: when the upstream drops every kept-alive
// connection at once (a restart), the next read is sent once more on a
// newly dialed connection, not on another dead one from the pool.
func TestUpstreamRestarted(t *testing.T) {
	const pooled = 6 // more than the two resends (ours, then retryTransport's) could skip
	var conns connCounter
	var inFlight atomic.Int32
	release := make(chan struct{})
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" && inFlight.Add(1) == pooled {
			close(release) // all in flight at once: each holds its own connection
		}
		if r.URL.Path == "/hold" {
			<-release
		}
		io.WriteString(w, "ok")
	}))
	up.Config.ConnState = conns.hook
	up.Start()
	defer up.Close()
	e := startEdge(t, activeSource(), up.URL, nil)
	done := make(chan string, pooled)
	for range pooled {
		go func() {
			resp, body := e.do(t, "GET", "acme.example.test", "/hold", nil)
			done <- strconv.Itoa(resp.StatusCode) + " " + body
		}()
	}
	for range pooled {
		if got := <-done; got != "200 ok" {
			t.Fatalf("filling the pool: %q, want 200 ok", got)
		}
	}
	if n := conns.opened.Load(); n != pooled {
		t.Fatalf("%d upstream connections opened, want %d", n, pooled)
	}
	up.CloseClientConnections()
	waitFor(t, "the upstream to close its connections", 5*time.Second, func() bool { return conns.closed.Load() == pooled })
	for i := range pooled {
		if resp, body := e.do(t, "GET", "acme.example.test", "/", nil); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d after the restart: %d %q, want 200 ok", i, resp.StatusCode, body)
		}
	}
}

// TestUpstreamBodyClosedEarly: a body closed before its end closes its
// connection instead of pooling it out of step; the next request gets a
// fresh one.
func TestUpstreamBodyClosedEarly(t *testing.T) {
	var conns connCounter
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" { // a start, then nothing until the client leaves
			io.WriteString(w, strings.Repeat("x", 100))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		io.WriteString(w, strings.Repeat("x", 1<<20))
	}))
	up.Config.ConnState = conns.hook
	up.Start()
	defer up.Close()
	tr := newTransport(Config{Upstream: mustURL(t, up.URL), UpstreamDialTimeout: time.Second, UpstreamTimeout: time.Second, MaxIdleConnsPerHost: 4})
	if _, ok := tr.(*h1Transport); !ok {
		t.Fatalf("newTransport for an http upstream = %T, want *h1Transport", tr)
	}
	get := func() *http.Response {
		req, _ := http.NewRequest("GET", up.URL+"/big", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := get()
	buf := make([]byte, 100)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, "the abandoned connection to close", 5*time.Second, func() bool { return conns.closed.Load() == 1 })

	// A body whose request is cancelled mid-way reports the context's
	// error, not the deadline that interrupted the read.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", up.URL+"/stream", nil)
	cresp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(cresp.Body, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.Copy(io.Discard, cresp.Body); err != context.Canceled {
		t.Errorf("reading a cancelled body: %v, want context.Canceled", err)
	}
	cresp.Body.Close()
	waitFor(t, "the cancelled connection to close", 5*time.Second, func() bool { return conns.closed.Load() == 2 })
	resp = get()
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != 1<<20 {
		t.Fatalf("second body: %d bytes, %v", n, err)
	}
	resp = get()
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if o, c := conns.opened.Load(), conns.closed.Load(); o != 3 || c != 2 {
		t.Errorf("connections opened %d, closed %d; want 3 and 2 (the third one reused)", o, c)
	}
}

// TestUpstreamCancelled: cancelling the request while the upstream
// thinks ends the round trip at once with the context's error, and the
// connection is not reused.
func TestUpstreamCancelled(t *testing.T) {
	var conns connCounter
	release := make(chan struct{})
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	}))
	up.Config.ConnState = conns.hook
	up.Start()
	defer up.Close()
	defer close(release)
	tr := newTransport(Config{Upstream: mustURL(t, up.URL), UpstreamDialTimeout: time.Second, UpstreamTimeout: time.Minute, MaxIdleConnsPerHost: 4})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", up.URL+"/slow", nil)
		_, err := tr.RoundTrip(req)
		errc <- err
	}()
	waitFor(t, "the upstream to get the request", 5*time.Second, func() bool { return conns.opened.Load() == 1 })
	cancel()
	select {
	case err := <-errc:
		if err == nil || ctx.Err() == nil || !strings.Contains(err.Error(), "canceled") {
			t.Fatalf("cancelled round trip returned %v, want the context's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled round trip did not return")
	}
	req, _ := http.NewRequest("GET", up.URL+"/fast", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" || conns.opened.Load() != 2 {
		t.Errorf("after a cancel: %q over %d connections, want ok over 2", b, conns.opened.Load())
	}
}

// TestEarlyHintsThroughEdge: a 103 Early Hints from the upstream reaches
// the client before the page.
func TestEarlyHintsThroughEdge(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "page")
	})
	e := startEdge(t, activeSource(), up.URL, nil)
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		if code == http.StatusEarlyHints {
			hints = append(hints, h.Get("Link"))
		}
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", e.URL+"/", nil)
	req.Host = "acme.example.test"
	if resp, b := e.send(t, req); resp.StatusCode != 200 || b != "page" {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}
	if len(hints) != 1 || hints[0] != "</app.css>; rel=preload; as=style" {
		t.Errorf("early hints seen by the client: %q", hints)
	}
}

// TestUpstreamIdleExpiry: a pooled connection idle for idleTimeout is
// closed, not reused; a fresher one is reused.
func TestUpstreamIdleExpiry(t *testing.T) {
	var conns connCounter
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	up.Config.ConnState = conns.hook
	up.Start()
	defer up.Close()
	tr := newTransport(Config{Upstream: mustURL(t, up.URL), UpstreamDialTimeout: time.Second, UpstreamTimeout: time.Second, MaxIdleConnsPerHost: 4}).(*h1Transport)
	clock := time.Now()
	tr.now = func() time.Time { return clock }
	get := func() {
		req, _ := http.NewRequest("GET", up.URL+"/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get()
	clock = clock.Add(tr.idleTimeout - time.Second)
	get() // reused: idle for less than the timeout
	if n := conns.opened.Load(); n != 1 {
		t.Fatalf("%d connections after a reuse, want 1", n)
	}
	clock = clock.Add(tr.idleTimeout)
	get() // the pooled one expired: closed, and a new one dialled
	if n := conns.opened.Load(); n != 2 {
		t.Errorf("%d connections after the idle timeout, want 2", n)
	}
	waitFor(t, "the expired connection to close", 5*time.Second, func() bool { return conns.closed.Load() == 1 })
}
