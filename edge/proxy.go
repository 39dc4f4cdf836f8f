package edge

import (
	"context"
	"errors"
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
