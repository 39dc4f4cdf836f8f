package edge

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
)

// withObservability records each request: the in-flight gauge, the
// request counters and histograms (metrics.go) and one access log
// record with these attributes:
//
//	tenant       tenant key, "" when none was resolved
//	request_id   as sent upstream and returned to the client
//	method, host, path, route
//	status       as written; 499 when the client went away first
//	duration     seconds, from the first layer to the last byte written
//	upstream     seconds to the upstream's response headers (0: not called)
//	bytes_in     request body bytes read
//	bytes_out    response body bytes written
//	remote       client address
//	error        private cause, if any
func (s *Server) withObservability(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateFrom(r.Context())
		st.route, st.routeIdx = s.routeOf(r)
		st.recorder = recorder{ResponseWriter: w}
		rec := &st.recorder
		st.rec = rec
		if r.Body != nil && r.Body != http.NoBody {
			st.bodyIn = &countingBody{ReadCloser: r.Body}
			r.Body = st.bodyIn
		}
		s.metrics.inFlight.Inc()
		defer func() {
			s.metrics.inFlight.Dec()
			s.observe(r, st)
		}()
		next.ServeHTTP(rec, r)
	})
}

// observe counts and logs one finished request.
func (s *Server) observe(r *http.Request, st *reqState) {
	dur := s.now().Sub(st.start)
	status := st.rec.status
	if st.status != 0 {
		status = st.status
	}
	if status == 0 {
		status = http.StatusOK
	}
	s.metrics.observeRequest(st, r.Method, status, dur)
	var tenant string
	if st.tenant != nil {
		tenant = st.tenant.key
	}
	var in int64
	if st.bodyIn != nil {
		in = st.bodyIn.n.Load()
	}
	s.recordUsage(st, status, in, dur)
	level := slog.LevelInfo
	if st.err != nil && status >= 500 {
		level = slog.LevelWarn
	}
	// At LOG_LEVEL=warn the access log of a successful request costs
	// this check only.
	ctx := r.Context()
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 13)
	attrs = append(attrs,
		slog.String("tenant", tenant),
		slog.String("request_id", st.requestID),
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.URL.Path),
		slog.String("route", st.route),
		slog.Int("status", status),
		slog.Float64("duration", dur.Seconds()),
		slog.Float64("upstream", st.upstreamDur.Seconds()),
		slog.Int64("bytes_in", in),
		slog.Int64("bytes_out", st.rec.bytes),
		slog.String("remote", r.RemoteAddr),
	)
	if st.err != nil {
		attrs = append(attrs, slog.String("error", st.err.Error()))
	}
	s.log.LogAttrs(ctx, level, "request", attrs...)
}

// recorder observes the status and body size a handler writes. It passes
// Flush and Hijack through (streaming and WebSocket) and unwraps for
// http.ResponseController.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	// noFlush drops flushes: set for an upstream response that had a
	// length the edge removed (injection). ReverseProxy takes a response
	// without a length for a stream and flushes every write, a syscall
	// each; the upstream's length said this one is not, and without
	// injection ReverseProxy would not have flushed it either.
	noFlush bool
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 || w.status < 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *recorder) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := io.Copy(w.ResponseWriter, r)
	w.bytes += n
	return n, err
}

func (w *recorder) Flush() {
	if !w.noFlush {
		http.NewResponseController(w.ResponseWriter).Flush()
	}
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingBody counts the request body bytes read.
// The transport may read it on its own goroutine, even after the
// response, hence the atomic.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
