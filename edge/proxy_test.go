package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/estatecore/whitelabel"
)

func activeSource() *fakeSource { return newFakeSource(tenant(1, "acme", whitelabel.StatusActive)) }

func TestUpstreamDown(t *testing.T) {
	// A listener closed right away: its port refuses connections.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	e := startEdge(t, activeSource(), "http://"+addr, nil)
	resp, body := e.do(t, "GET", "acme.example.test", "/", nil)
	if resp.StatusCode != http.StatusBadGateway || errorCode(t, body) != string(whitelabel.CodeUpstreamUnavailable) {
		t.Fatalf("got %d %s, want 502 upstream_unavailable", resp.StatusCode, body)
	}
	resp, body = e.do(t, "GET", "acme.example.test", "/", map[string]string{"Accept": "text/html"})
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "acme Brand") || !strings.Contains(body, "Temporarily unavailable") {
		t.Fatalf("got %d %s, want the branded 502 page", resp.StatusCode, body)
	}
}

func TestUpstreamSlow(t *testing.T) {
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	e := startEdge(t, activeSource(), up.URL, func(c *Config) { c.UpstreamTimeout = 50 * time.Millisecond })
	resp, body := e.do(t, "GET", "acme.example.test", "/slow", nil)
	if resp.StatusCode != http.StatusGatewayTimeout || errorCode(t, body) != string(whitelabel.CodeUpstreamTimeout) {
		t.Fatalf("got %d %s, want 504 upstream_timeout", resp.StatusCode, body)
	}
	if n := len(up.requests()); n != 1 {
		t.Errorf("upstream saw %d requests, want 1 (a timeout is not retried)", n)
	}
}

// TestRetryOnce: a connection dropped before any response is retried
// once for idempotent requests without a body, never for a POST.
func TestRetryOnce(t *testing.T) {
	var drop atomic.Bool
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if drop.CompareAndSwap(true, false) {
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					tc.SetLinger(0) // RST, not FIN
				}
				c.Close()
			}
			return
		}
		io.WriteString(w, "upstream ok")
	})
	e := startEdge(t, activeSource(), up.URL, nil)

	drop.Store(true)
	resp, body := e.do(t, "GET", "acme.example.test", "/", nil)
	if resp.StatusCode != 200 || body != "upstream ok" {
		t.Fatalf("GET after a dropped connection: %d %s, want 200 from the retry", resp.StatusCode, body)
	}
	if n := len(up.requests()); n != 2 {
		t.Errorf("upstream saw %d requests, want 2", n)
	}

	drop.Store(true)
	req, _ := http.NewRequest("POST", e.URL+"/", strings.NewReader("payload"))
	req.Host = "acme.example.test"
	resp2, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusBadGateway {
		t.Fatalf("POST after a dropped connection: %d, want 502 (not retried)", resp2.StatusCode)
	}
	if n := len(up.requests()); n != 3 {
		t.Errorf("upstream saw %d requests, want 3 (POST sent once)", n)
	}
}

func TestWebSocketThroughEdge(t *testing.T) {
	up := newUpstream(t, websocket.Handler(func(c *websocket.Conn) {
		req := c.Request()
		websocket.Message.Send(c, "tenant "+req.Header.Get("X-Tenant-Id"))
		io.Copy(c, c)
	}).ServeHTTP)
	e := startEdge(t, activeSource(), up.URL, nil)

	cfg, err := websocket.NewConfig("ws://acme.example.test/ws", "http://acme.example.test/")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	ws, err := websocket.NewClient(cfg, conn)
	if err != nil {
		t.Fatalf("WebSocket handshake through the edge: %v", err)
	}
	var msg string
	if err := websocket.Message.Receive(ws, &msg); err != nil || msg != "tenant 1" {
		t.Fatalf("first message %q, %v; want %q", msg, err, "tenant 1")
	}
	for _, m := range []string{"hello", "world"} {
		if err := websocket.Message.Send(ws, m); err != nil {
			t.Fatal(err)
		}
		if err := websocket.Message.Receive(ws, &msg); err != nil || msg != m {
			t.Fatalf("echo %q, %v; want %q", msg, err, m)
		}
	}
}

func TestSSEThroughEdge(t *testing.T) {
	next := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			io.WriteString(w, "data: event "+string(rune('0'+i))+"\n\n")
			http.NewResponseController(w).Flush()
			select {
			case <-next: // the client saw this event before the next is written
			case <-r.Context().Done():
				return
			}
		}
	})
	e := startEdge(t, activeSource(), up.URL, nil)
	req, _ := http.NewRequest("GET", e.URL+"/events", nil)
	req.Host = "acme.example.test"
	req.Header.Set("Accept", "text/event-stream")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil || line != "data: event "+string(rune('0'+i))+"\n" {
			t.Fatalf("event %d: %q, %v", i, line, err)
		}
		br.ReadString('\n')
		next <- struct{}{}
	}
}

// TestGracefulDrain: a request in flight when Shutdown starts completes.
func TestGracefulDrain(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		io.WriteString(w, "slow but complete")
	})
	e := startEdge(t, activeSource(), up.URL, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e.Handler()}
	go srv.Serve(l)

	type result struct {
		code int
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+l.Addr().String()+"/", nil)
		req.Host = "acme.example.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- result{resp.StatusCode, string(b), err}
	}()
	<-arrived
	shutdown := make(chan error, 1)
	go func() { shutdown <- srv.Shutdown(context.Background()) }()
	// Shutdown closes the listener first; once new connections are refused
	// it is draining, with our request still in flight.
	waitFor(t, "listener closed", 5*time.Second, func() bool {
		c, err := net.Dial("tcp", l.Addr().String())
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
	close(release)
	r := <-got
	if r.err != nil || r.code != 200 || r.body != "slow but complete" {
		t.Fatalf("in-flight request: %d %q %v, want 200 complete", r.code, r.body, r.err)
	}
	if err := <-shutdown; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestClientGone: a client that leaves while the upstream works is
// logged as 499 and the upstream's request is cancelled.
func TestClientGone(t *testing.T) {
	cancelled := make(chan struct{})
	arrived := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
		close(cancelled)
	})
	e := startEdge(t, activeSource(), up.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.URL+"/", nil)
	req.Host = "acme.example.test"
	go func() { <-arrived; cancel() }()
	_, err := e.srv.Client().Do(req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("client error %v, want context.Canceled", err)
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream request was not cancelled when the client left")
	}
	waitFor(t, "client_gone counted", 5*time.Second, func() bool {
		return counterValue(t, e.cfg.Registry, "whitelabel_edge_upstream_errors_total", map[string]string{"kind": "client_gone"}) == 1
	})
}

// lockedBuffer is a log sink the edge's goroutines may write at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLargeBody: bodies of a known length over 32 KiB, which the edge
// copies itself (holdLarge), arrive whole with their length, injected
// or not (and so does the answer to a POST, which ReverseProxy copies);
// the upstream connection is reused after each, so every body was read
// to its end; HEAD keeps the length without a body; and an upstream that
// dies mid-body aborts the client's connection (it never takes the
// short body for the whole) and logs why.
func TestLargeBody(t *testing.T) {
	file := make([]byte, 300<<10)
	rand.Read(file)
	page := "<!doctype html><html><head><title>big</title></head><body>" + strings.Repeat("<p>row</p>\n", 20000) + "</body></html>"
	var conns connCounter
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/file":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(len(file)))
			if r.Method != "HEAD" {
				w.Write(file)
			}
		case "/page":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Length", strconv.Itoa(len(page)))
			io.WriteString(w, page)
		case "/cut": // promises 200 KiB, sends 50 KiB, then drops the connection
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(200<<10))
			w.Write(file[:50<<10])
			w.(http.Flusher).Flush()
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				c.Close()
			}
		}
	}))
	up.Config.ConnState = conns.hook
	up.Start()
	defer up.Close()
	var logs lockedBuffer
	e := startEdge(t, activeSource(), up.URL, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})

	for i := range 3 {
		resp, body := e.do(t, "GET", "acme.example.test", "/file", nil)
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(file)) || body != string(file) {
			t.Fatalf("GET /file: %d, length %d, %d bytes (equal %v); want 200 and the %d bytes", resp.StatusCode, resp.ContentLength, len(body), body == string(file), len(file))
		}
		resp, body = e.do(t, "GET", "acme.example.test", "/page", nil)
		snip := themeSnippet(t, e)
		want := strings.Replace(page, "</head>", snip+"</head>", 1)
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(want)) || body != want {
			t.Fatalf("GET /page: %d, length %d, %d bytes (equal %v); want 200 and the %d bytes of the injected page", resp.StatusCode, resp.ContentLength, len(body), body == want, len(want))
		}
		resp, body = e.do(t, "HEAD", "acme.example.test", "/file", nil)
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(file)) || body != "" {
			t.Fatalf("HEAD /file: %d, length %d, %d bytes; want 200, length %d, no body", resp.StatusCode, resp.ContentLength, len(body), len(file))
		}
		if i == 0 {
			req, _ := http.NewRequest("POST", e.URL+"/file", strings.NewReader("form"))
			req.Host = "acme.example.test"
			resp, body = e.send(t, req)
			if resp.StatusCode != 200 || body != string(file) {
				t.Fatalf("POST /file: %d, %d bytes (equal %v)", resp.StatusCode, len(body), body == string(file))
			}
		}
	}
	// One connection for the fast path's reads, one for the POST's
	// http.Transport: every large body was read to its end and released.
	if o, c := conns.opened.Load(), conns.closed.Load(); o != 2 || c != 0 {
		t.Errorf("upstream connections opened %d, closed %d; want 2 and 0 (reused)", o, c)
	}

	req, _ := http.NewRequest("GET", e.URL+"/cut", nil)
	req.Host = "acme.example.test"
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || len(got) >= 200<<10 {
		t.Fatalf("GET /cut: read %d bytes, error %v; want the connection aborted before 200 KiB", len(got), err)
	}
	if !bytes.Equal(got, file[:len(got)]) {
		t.Errorf("GET /cut: the %d bytes read are not the upstream's", len(got))
	}
	waitFor(t, "the access log of /cut", 5*time.Second, func() bool {
		return strings.Contains(logs.String(), `"path":"/cut"`)
	})
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"path":"/cut"`) && !strings.Contains(line, "read upstream body") {
			t.Errorf("access log of /cut has no cause: %s", line)
		}
	}
}

// TestLargeBodyNotHeldBack: the large-body copy does not hold back what
// ReverseProxy's copy passed on: a slow upstream's headers and first
// bytes reach the client before the rest exists.
func TestLargeBodyNotHeldBack(t *testing.T) {
	const total = 200 << 10
	answer := bytes.Repeat([]byte("0123456789abcdef"), total/16)
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(total))
		w.Write(answer[:64<<10]) // 64 KiB, then the rest once the test has seen the start
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		case <-time.After(30 * time.Second):
		}
		w.Write(answer[64<<10:])
	})
	e := startEdge(t, activeSource(), up.URL, nil)

	// within runs f, failing the test if it has not returned after 10 s.
	within := func(what string, f func()) {
		t.Helper()
		done := make(chan struct{})
		go func() { defer close(done); f() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			close(release)
			t.Fatalf("%s: still waiting after 10 s", what)
		}
	}
	req, _ := http.NewRequest("GET", e.URL+"/slow", nil)
	req.Host = "acme.example.test"
	var resp *http.Response
	var err error
	within("headers of a slow page", func() { resp, err = e.srv.Client().Do(req) })
	if err != nil {
		t.Fatal(err)
	}
	// Without flushes (the length says it is not a stream) a few KiB
	// may wait in net/http's buffers, as with ReverseProxy's own copy;
	// half of what the upstream sent must be through.
	start := make([]byte, 32<<10)
	within("the first 32 KiB of a slow page", func() { _, err = io.ReadFull(resp.Body, start) })
	if err != nil || !bytes.Equal(start, answer[:32<<10]) {
		t.Fatalf("first 32 KiB: %v", err)
	}
	close(release)
	rest, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(rest, answer[32<<10:]) {
		t.Fatalf("rest of the slow page: %d bytes, %v", len(rest), err)
	}
}

// TestHoldLarge: which upstream responses the edge copies itself. Only
// bodies of a known length over 32 KiB and up to 1 MiB, answering a
// request without a body (ReverseProxy closes that when it returns, which
// would cut an upload still being sent), that are not event streams.
func TestHoldLarge(t *testing.T) {
	tests := []struct {
		name   string
		method string
		body   io.Reader
		status int
		ct     string
		length int64
		held   bool
	}{
		{"page", "GET", nil, 200, "text/html", 100 << 10, true},
		{"1 MiB file", "GET", nil, 200, "application/octet-stream", 1 << 20, true},
		{"partial content", "GET", nil, 206, "application/octet-stream", 64 << 10, true},
		{"32 KiB", "GET", nil, 200, "text/html", 32 << 10, false},
		{"download over 1 MiB", "GET", nil, 200, "application/octet-stream", 1<<20 + 1, false},
		{"unknown length", "GET", nil, 200, "text/html", -1, false},
		{"event stream", "GET", nil, 200, "text/event-stream; charset=utf-8", 100 << 10, false},
		{"HEAD", "HEAD", nil, 200, "text/html", 100 << 10, false},
		{"answer to an upload", "POST", strings.NewReader("upload"), 200, "text/html", 100 << 10, false},
		{"POST without a body", "POST", nil, 200, "text/html", 100 << 10, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := &stateCtx{Context: context.Background()}
			req, _ := http.NewRequestWithContext(ctx, tc.method, "http://up.test/", tc.body)
			body := io.NopCloser(strings.NewReader("x"))
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{"Content-Type": {tc.ct}},
				ContentLength: tc.length, Body: body, Request: req}
			holdLarge(resp)
			if held := ctx.st.large != nil; held != tc.held {
				t.Fatalf("held %v, want %v", held, tc.held)
			}
			if tc.held && (ctx.st.large != body || resp.Body != http.NoBody) {
				t.Errorf("held body %v, response body %v; want the upstream's held and NoBody left", ctx.st.large, resp.Body)
			}
			if !tc.held && resp.Body != body {
				t.Errorf("response body replaced although not held")
			}
		})
	}
}
