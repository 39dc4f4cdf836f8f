package edge

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"sync"
	"time"
)

// h1Transport sends the proxy's body-less reads (GET, HEAD, OPTIONS
// without a body or an Upgrade) to a plain-HTTP upstream on the calling
// goroutine: it writes the request and reads the response headers on
// the handler's own goroutine, over a pooled keep-alive connection.
// http.Transport hands each request to a writer goroutine and each
// response to a reader goroutine of the connection, through channels and
// a select: three goroutine switches and a dozen allocations per
// request, a tenth of the edge's CPU on small pages. Everything else
// (bodies, upgrades, other methods, https upstreams) goes to next, an
// http.Transport, unchanged.
//
// What http.Transport does that this keeps: a connection is reused only
// after its response body was read to the end and neither side asked to
// close; the response header wait is bounded (responseHeaderTimeout),
// and so are dialing (the dialer's) and writing; the caller's context
// cancels any phase, closing the connection; idle connections are capped
// (maxIdle) and closed after idleTimeout; 1xx responses are passed to the
// request's ClientTrace (ReverseProxy forwards 103 Early Hints that way)
// and skipped. A request that fails on a reused connection before any
// response byte (the upstream closed it while idle) is sent once more on
// a new connection: it has no body and a safe method, so it is
// replayable. What it does not do: proxies, HTTP/2, TLS; those requests
// take next.
type h1Transport struct {
	next                  http.RoundTripper
	host                  string // host:port to dial
	dial                  func(ctx context.Context, network, addr string) (net.Conn, error)
	responseHeaderTimeout time.Duration
	idleTimeout           time.Duration
	maxIdle               int
	now                   func() time.Time

	mu   sync.Mutex
	idle []*h1Conn // LIFO: the most recently used last
}

// h1Conn is one upstream connection with its buffers.
type h1Conn struct {
	t      *h1Transport
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
	reused bool
}

// fastPath reports whether req may take the synchronous path.
func (t *h1Transport) fastPath(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return false
	}
	if req.Body != nil && req.Body != http.NoBody || req.ContentLength > 0 || req.URL.Scheme != "http" {
		return false
	}
	_, upgrade := req.Header["Upgrade"]
	return !upgrade && len(req.TransferEncoding) == 0
}

func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.fastPath(req) {
		return t.next.RoundTrip(req)
	}
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		// The resend dials: after an upstream restart every pooled
		// connection is dead, and another one from the pool would fail
		// the same way.
		c, err := t.get(ctx, attempt == 0)
		if err != nil {
			return nil, err
		}
		resp, err := c.roundTrip(ctx, req)
		if err == nil {
			return resp, nil
		}
		c.close()
		var pe *preResponseError
		if attempt > 0 || !c.reused || !errors.As(err, &pe) || ctx.Err() != nil {
			return nil, err
		}
	}
}

// aLongTimeAgo is the deadline that fails a connection's pending read or
// write at once.
var aLongTimeAgo = time.Unix(1, 0)

// preResponseError is a failure before any byte of the response.
type preResponseError struct{ err error }

func (e *preResponseError) Error() string { return e.err.Error() }
func (e *preResponseError) Unwrap() error { return e.err }

// roundTrip writes req on c and reads the response headers.
func (c *h1Conn) roundTrip(ctx context.Context, req *http.Request) (*http.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The caller's context cancels the exchange by failing the
	// connection's pending read or write; a cancelled exchange's
	// connection is never reused.
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(aLongTimeAgo) })
	t := c.t
	if t.responseHeaderTimeout > 0 {
		c.nc.SetDeadline(t.now().Add(t.responseHeaderTimeout))
	}
	err := req.Write(c.bw)
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		stop()
		return nil, &preResponseError{ctxErr(ctx, fmt.Errorf("write request: %w", err))}
	}
	var resp *http.Response
	for {
		if _, err = c.br.Peek(1); err != nil {
			stop()
			return nil, &preResponseError{ctxErr(ctx, fmt.Errorf("read response: %w", err))}
		}
		resp, err = http.ReadResponse(c.br, req)
		if err != nil {
			stop()
			return nil, ctxErr(ctx, fmt.Errorf("read response: %w", err))
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		// 1xx: pass it on, then wait for the final response.
		if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				stop()
				return nil, err
			}
		}
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// Not asked for (fastPath excludes Upgrade): not HTTP any more.
		stop()
		return nil, errors.New("read response: unexpected 101 Switching Protocols")
	}
	// The body may take as long as it takes (a stream); the caller's
	// context still cancels it, until the body releases the connection.
	if t.responseHeaderTimeout > 0 {
		c.nc.SetDeadline(time.Time{})
		if ctx.Err() != nil {
			c.nc.SetDeadline(aLongTimeAgo) // cancelled just now: undo the clearing
		}
	}
	b := &h1Body{ctx: ctx, c: c, rc: resp.Body, keep: !resp.Close && !req.Close, stop: stop}
	if resp.Body == http.NoBody {
		b.release(b.keep)
		return resp, nil
	}
	resp.Body = b
	return resp, nil
}

// ctxErr prefers the context's error, so a cancelled request reads as
// cancelled rather than as a connection failure.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}

// h1Body is a response body on a pooled connection: the connection goes
// back to the pool when the body was read to its end, and is closed when
// the body is closed early.
type h1Body struct {
	ctx  context.Context
	c    *h1Conn
	rc   io.ReadCloser
	keep bool
	done bool // the connection was released or closed
	stop func() bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.release(b.keep)
	} else if err != nil {
		b.release(false)
		if cerr := b.ctx.Err(); cerr != nil {
			// Cancelled: the deadline the cancellation set is not the
			// cause, and ReverseProxy does not log context.Canceled.
			err = cerr
		}
	}
	return n, err
}

func (b *h1Body) Close() error {
	if !b.done {
		b.release(false) // unread bytes: the connection is not reusable
	}
	return nil
}

func (b *h1Body) release(keep bool) {
	b.done = true
	if !b.stop() {
		keep = false // cancelled: the deadline is in the past
	}
	if keep {
		b.c.t.put(b.c)
	} else {
		b.c.close()
	}
}

// get returns the most recently used idle connection when pooled is
// true and there is one, or dials one.
func (t *h1Transport) get(ctx context.Context, pooled bool) (*h1Conn, error) {
	t.mu.Lock()
	stale := t.expireLocked(t.now())
	var c *h1Conn
	if n := len(t.idle); pooled && n > 0 {
		c = t.idle[n-1]
		t.idle[n-1] = nil
		t.idle = t.idle[:n-1]
	}
	t.mu.Unlock()
	closeAll(stale)
	if c != nil {
		c.reused = true
		return c, nil
	}
	nc, err := t.dial(ctx, "tcp", t.host)
	if err != nil {
		return nil, &preResponseError{fmt.Errorf("dial upstream: %w", err)}
	}
	return &h1Conn{t: t, nc: nc, br: bufio.NewReaderSize(nc, 32<<10), bw: bufio.NewWriterSize(nc, 4<<10)}, nil
}

// put returns c to the idle pool, or closes it when the pool is full.
func (t *h1Transport) put(c *h1Conn) {
	if c.br.Buffered() > 0 {
		c.close() // bytes past the response: the stream is out of step
		return
	}
	now := t.now()
	c.idleAt = now
	t.mu.Lock()
	stale := t.expireLocked(now)
	full := len(t.idle) >= t.maxIdle
	if !full {
		t.idle = append(t.idle, c)
	}
	t.mu.Unlock()
	if full {
		c.close()
	}
	closeAll(stale)
}

// expireLocked removes the connections idle for idleTimeout or longer
// from the pool and returns them, to be closed outside the lock. The
// pool is in the order connections were put back, so they are a prefix.
func (t *h1Transport) expireLocked(now time.Time) []*h1Conn {
	i := 0
	for i < len(t.idle) && now.Sub(t.idle[i].idleAt) >= t.idleTimeout {
		i++
	}
	if i == 0 {
		return nil
	}
	stale := slices.Clone(t.idle[:i])
	n := copy(t.idle, t.idle[i:])
	clear(t.idle[n:])
	t.idle = t.idle[:n]
	return stale
}

func closeAll(cs []*h1Conn) {
	for _, c := range cs {
		c.close()
	}
}

func (c *h1Conn) close() { c.nc.Close() }

// CloseIdleConnections closes the idle pool's connections and next's.
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	closeAll(idle)
	if ci, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
