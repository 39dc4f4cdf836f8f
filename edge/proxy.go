package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
)

// newProxy builds the reverse proxy to the upstream: the last handler
// of the chain.
//
// Streaming needs no setting: ReverseProxy flushes every write of
// responses without a length (chunked) and of text/event-stream, and
// passes Upgrade (WebSocket) through by hijacking the connection.
// Responses with a length are copied through a pooled buffer.
func (s *Server) newProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:      s.rewrite,
		Transport:    &retryTransport{next: s.transport},
		ErrorHandler: s.proxyError,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BufferPool:   bufferPool{},
	}
}

// rewrite turns the client's request into the upstream's. ReverseProxy
// has already removed hop-by-hop and Forwarded/X-Forwarded-* headers from
// pr.Out. rewrite removes every header reserved for the edge (whatever
// its case or '_' spelling), then sets the forwarding headers (what
// ProxyRequest.SetXForwarded sets, except that X-Forwarded-For is only the
// peer: the edge is the first hop), the request id and the tenant context
// from the snapshot entry.
//
// Header values are assigned under their canonical names, and their
// slices are shared (the entry's, the request state's, static ones) rather
// than allocated: the outgoing header map is pr.Out's own, and the
// transport only reads it.
func (s *Server) rewrite(pr *httputil.ProxyRequest) {
	st := stateFrom(pr.In.Context())
	pr.SetURL(s.cfg.Upstream)
	// The clone ReverseProxy made is sized for the client's headers; the
	// ten or more set here would grow it (a new table and a rehash).
	h := withoutUntrusted(pr.Out.Header, outHeaders+len(st.identity))
	pr.Out.Header = h
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		st.fwd[0] = ip
		h["X-Forwarded-For"] = st.fwd[0:1:1]
	}
	st.fwd[1] = pr.In.Host
	h["X-Forwarded-Host"] = st.fwd[1:2:2]
	if pr.In.TLS == nil {
		h["X-Forwarded-Proto"] = protoHTTP
	} else {
		h["X-Forwarded-Proto"] = protoHTTPS
	}
	h[headerRequestID] = st.requestIDHdr
	e := st.tenant
	h[headerTenantID] = e.hdrID
	h[headerTenantKey] = e.hdrKey
	h[headerOrganizationID] = e.hdrOrgID
	h[headerTenantPlan] = e.hdrPlan
	h[headerTenantFeatures] = e.hdrFeatures
	for k, v := range st.identity { // reserved names only (see sso)
		h[k] = v
	}
}

// outHeaders is how many headers rewrite sets besides identity:
// X-Forwarded-For, -Host, -Proto, X-Request-Id and the five tenant
// headers; plus User-Agent, which ReverseProxy adds when the client sent
// none.
const outHeaders = 10

// X-Forwarded-Proto values, shared by every request.
var protoHTTP, protoHTTPS = []string{"http"}, []string{"https"}

// proxyError answers a failed round trip, the way Caddy's statusError
// does: a request body over MaxRequestBody 413, client gone 499 (logged,
// nothing written), timeout 504, anything else 502; each with the
// branded page or JSON from writeError.
func (s *Server) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	st := stateFrom(r.Context())
	st.err = err
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		// The client's body passed MaxRequestBody (hygiene.go): its
		// fault, not the upstream's.
		s.writeError(w, r, errBodyTooLarge)
		return
	}
	kind := upstreamErrorKind(r.Context(), err)
	s.metrics.upstreamErrors.WithLabelValues(kind).Inc()
	switch kind {
	case "client_gone":
		st.status = 499
	case "timeout":
		s.writeError(w, r, errUpstreamTimeout)
	default:
		s.writeError(w, r, errUpstreamDown)
	}
}

// upstreamErrorKind classifies a proxy error for metrics and status.
func upstreamErrorKind(ctx context.Context, err error) string {
	var ne net.Error
	switch {
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return "client_gone"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case isConnFailure(err):
		return "refused"
	}
	return "other"
}

// bufferPool recycles the 32 KiB copy buffers of response bodies.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }

// serveProxy is the chain's last handler: ReverseProxy, then the copy of
// a body holdLarge took from it. The held body is closed however the
// handler ends, a panic of either included.
func (s *Server) serveProxy(w http.ResponseWriter, r *http.Request) {
	st := stateFrom(r.Context())
	defer func() {
		if st.large != nil {
			st.large.Close()
		}
	}()
	s.proxy.ServeHTTP(w, r)
	if st.large != nil {
		s.copyLarge(w, r, st, st.large)
	}
}

// Response bodies holdLarge takes: a known length over one 32 KiB copy
// buffer and up to 1 MiB (pages, API answers, small files). Larger
// bodies are downloads, which may go to slow clients for a long time:
// they keep ReverseProxy's copy, so each holds 32 KiB, not 128.
const (
	largeBodyMin = 32 << 10
	largeBodyMax = 1 << 20
)

// holdLarge takes a response body of a known length between largeBodyMin
// and largeBodyMax from ReverseProxy, leaving it an empty body to copy:
// ReverseProxy copies every body through one 32 KiB buffer, a read and a
// write syscall per 32 KiB, and a larger buffer for all would be held by
// every stream (SSE) for its whole life. serveProxy copies the held body
// once ReverseProxy has written the headers (Content-Length included),
// with copyLarge. Streams keep ReverseProxy's copy and flushing: they
// have no length, or are text/event-stream. So do the answers to
// requests with a body: ReverseProxy closes the request body when it
// returns, which would cut an upload the upstream is still reading
// while it answers (a full-duplex handler, or an early refusal).
func holdLarge(resp *http.Response) {
	req := resp.Request
	if resp.ContentLength <= largeBodyMin || resp.ContentLength > largeBodyMax || req == nil ||
		req.Method == http.MethodHead || req.Body != nil && req.Body != http.NoBody ||
		resp.StatusCode < 200 || resp.Body == nil || resp.Body == http.NoBody {
		return
	}
	if isMediaType(resp.Header.Get("Content-Type"), "text/event-stream") {
		return
	}
	stateFrom(req.Context()).large = resp.Body
	resp.Body = http.NoBody
}

// largeBuffers are copyLarge's buffers: after the bytes that came with
// the headers, the rest of a 100 KiB page is one read of the upstream
// and one write to the client.
var largeBuffers = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

// copyLarge copies a held body to the client, writing what each read
// returns at once, so a slow upstream's first bytes (and the headers)
// are not held back. A failure mid-body ends the response as
// ReverseProxy's copy does: the client's connection is aborted
// (http.ErrAbortHandler), so it cannot take the short body for the
// whole.
func (s *Server) copyLarge(w io.Writer, r *http.Request, st *reqState, body io.Reader) {
	bp := largeBuffers.Get().(*[]byte)
	defer largeBuffers.Put(bp)
	buf := *bp
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				st.err = fmt.Errorf("write response body: %w", werr)
				panic(http.ErrAbortHandler)
			}
		}
		switch {
		case rerr == io.EOF:
			return
		case rerr != nil:
			st.err = fmt.Errorf("read upstream body: %w", rerr)
			if r.Context().Err() == nil {
				s.log.Warn("edge: upstream body failed mid-copy", "error", rerr, "request_id", st.requestID)
			}
			panic(http.ErrAbortHandler)
		}
	}
}
