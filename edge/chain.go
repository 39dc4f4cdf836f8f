package edge

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/estatecore/whitelabel/edge/ratelimit"
)

// middleware is one layer of the chain.
type middleware = func(http.Handler) http.Handler

// layers returns the edge's request chain, outermost first. This is the
// one place its order is written:
//
//  1. request state and request id (withRequestState)
//  2. /_edge/ health endpoints, unlogged (edgeEndpoints)
//  3. access log and metrics (withObservability)
//  4. tenant resolution; unknown hosts stop here (resolve)
//  5. path hygiene and the request body cap: unclean paths are 400,
//     bodies over MaxRequestBody 413 (hygiene, hygiene.go); after
//     resolution so the refusal carries the tenant's brand
//  6. /api/white-label/current/info from the snapshot (currentInfo)
//  7. lifecycle gate (lifecycle), then /_edge/theme.css and
//     /_edge/assets/ (themeEndpoints, theme.go): before limits and SSO,
//     because the login page needs them
//  8. quotas (limits, limits.go): the monthly bandwidth quota, an
//     in-memory check (bandwidth.go), then the rate limit and monthly API
//     quota; a tenant out of bytes spends no API quota
//  9. SSO gate for tenants with SSO configurations (sso, sso.go)
//  10. any /_edge/ path no layer above answered: 404, never the upstream
//     (edgeReserved, hygiene.go)
//
// The proxy (serveProxy) is the handler at the end. There is no theme
// layer: the proxy's ModifyResponse injects the theme into HTML
// responses (inject.go).
func (s *Server) layers() []middleware {
	return []middleware{
		s.withRequestState,
		s.edgeEndpoints,
		s.withObservability,
		s.resolve,
		s.hygiene,
		s.currentInfo,
		s.lifecycle,
		s.themeEndpoints,
		s.limits,
		s.sso,
		s.edgeReserved,
	}
}

// buildChain wraps the proxy in layers, the first outermost.
func (s *Server) buildChain() http.Handler {
	ls := s.layers()
	var h http.Handler = http.HandlerFunc(s.serveProxy)
	for i := len(ls) - 1; i >= 0; i-- {
		h = ls[i](h)
	}
	return h
}

// reqState is one request's state, stored once in its context by the
// first layer and filled in by later ones, so the chain adds no context
// values per layer. Layers of one request run on one goroutine, except
// upstreamDur, which the proxy's transport may set from its own.
type reqState struct {
	start     time.Time
	requestID string
	// requestIDHdr is requestID as a header value, set in the response
	// and the upstream request; nothing may append to it.
	requestIDHdr []string
	// fwd holds the X-Forwarded-For and -Host values of the upstream
	// request (see rewrite), so setting them allocates nothing.
	fwd      [2]string
	tenant   *tenantEntry // set by resolve; nil until then or for unknown hosts
	route    string
	routeIdx int       // route's index for metrics (routeOf)
	rec      *recorder // the observed ResponseWriter (&recorder); nil for /_edge/
	bodyIn   *countingBody
	recorder recorder // rec's storage: one allocation for the request's state
	// upstreamDur is the time from sending the request upstream to
	// its response headers (0 if the upstream was not called).
	upstreamDur time.Duration
	// err is the private cause of a failure, for the access log only.
	err error
	// status overrides the recorded status when nothing could be
	// written (499: the client went away).
	status int
	// limitVals backs the RateLimit and Retry-After values the limits
	// layer sets, so a limited answer allocates only their text.
	limitVals ratelimit.Values
	// identity holds the headers the SSO gate set for the upstream
	// (X-Auth-*, X-Edge-Assertion); nil for anonymous requests.
	identity http.Header
	// large is a response body holdLarge took from ReverseProxy, for
	// serveProxy to copy (proxy.go); nil otherwise.
	large io.ReadCloser
}

type stateKey struct{}

// stateCtx is the request's context with its state: one allocation where
// context.WithValue and a separate reqState would be two. Value answers
// stateKey{} with &st, so stateFrom finds it behind derived contexts too.
type stateCtx struct {
	context.Context
	st reqState
}

func (c *stateCtx) Value(key any) any {
	if _, ok := key.(stateKey); ok {
		return &c.st
	}
	return c.Context.Value(key)
}

// stateFrom returns the request's state; nil outside the chain.
func stateFrom(ctx context.Context) *reqState {
	if c, ok := ctx.(*stateCtx); ok { // the layers' own requests
		return &c.st
	}
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

// withRequestState starts the request's state: its start time and its
// request id, taken from the client's X-Request-ID if that is a safe
// token (1–128 of [A-Za-z0-9._-]) and generated otherwise, and echoed in
// the response.
func (s *Server) withRequestState(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := &stateCtx{Context: r.Context()}
		st := &ctx.st
		st.start = s.now()
		// The client's value, if valid, is kept as sent: its slice is
		// reused for the response, which nothing appends to.
		if v := r.Header[headerRequestID]; len(v) > 0 && validRequestID(v[0]) {
			st.requestID = v[0]
			st.requestIDHdr = v[:1:1]
		} else {
			st.requestID = newRequestID()
			st.requestIDHdr = []string{st.requestID}
		}
		w.Header()[headerRequestID] = st.requestIDHdr
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
