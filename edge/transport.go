package edge

import (
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// newTransport returns the pooled HTTP/1.1 transport to the upstream:
// every phase has a timeout (dial and TLS UpstreamDialTimeout, response
// headers UpstreamTimeout, idle connections 90s) and the keep-alive pool
// holds MaxIdleConnsPerHost connections. HTTP/2 is not attempted, so
// WebSocket upgrades work over https upstreams too. Compression is the
// client's business: the transport neither asks the upstream for gzip
// nor decodes it, so encodings pass through as negotiated end to end.
//
// Plain-HTTP body-less reads take h1Transport (upstream.go), which does
// the same on the handler's goroutine; the rest take the http.Transport.
func newTransport(c Config) http.RoundTripper {
	d := &net.Dialer{Timeout: c.UpstreamDialTimeout, KeepAlive: 30 * time.Second}
	std := &http.Transport{
		Proxy:                 nil, // never an environment proxy between edge and app
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     false,
		DisableCompression:    true,
		MaxIdleConns:          0, // no global cap: MaxIdleConnsPerHost bounds the one upstream
		MaxIdleConnsPerHost:   c.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   c.UpstreamDialTimeout,
		ResponseHeaderTimeout: c.UpstreamTimeout,
		ExpectContinueTimeout: time.Second,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        32 << 10,
	}
	if c.Upstream.Scheme != "http" {
		return std
	}
	host := c.Upstream.Host
	if c.Upstream.Port() == "" {
		host = net.JoinHostPort(c.Upstream.Hostname(), "80")
	}
	return &h1Transport{
		next: std, host: host, dial: d.DialContext,
		responseHeaderTimeout: c.UpstreamTimeout, idleTimeout: 90 * time.Second,
		maxIdle: c.MaxIdleConnsPerHost, now: time.Now,
	}
}

// retryTransport retries an idempotent request without a body once when
// the first attempt failed to connect or lost the connection before any
// response: the request cannot have had an effect, so a second attempt
// (usually on a fresh connection) is safe. It also records the time to
// response headers in the request state.
type retryTransport struct {
	next http.RoundTripper
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	if err != nil && req.Context().Err() == nil && retryable(req) && isConnFailure(err) {
		resp, err = t.next.RoundTrip(req)
	}
	if st := stateFrom(req.Context()); st != nil {
		st.upstreamDur = time.Since(start)
	}
	return resp, err
}

// retryable reports whether req may be sent twice.
func retryable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return req.Body == nil || req.Body == http.NoBody
	}
	return false
}

// isConnFailure reports whether err means the connection was refused or
// dropped before a response.
func isConnFailure(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE)
}
