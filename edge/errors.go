package edge

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/theming"
)

// refusal is an answer the edge gives instead of the upstream's: the
// public error, the page that shows it and, for maintenance, when to
// retry. The sentinels below are the only refusals; they are never
// modified.
type refusal struct {
	err        *whitelabel.Error
	page       theming.PageKind
	retryAfter bool // send Retry-After (Config.MaintenanceRetryAfter)
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

var (
	errUnknownSite     = &refusal{err: &whitelabel.Error{Code: whitelabel.CodeNotFound, Message: "unknown site"}, page: theming.PageUnknownSite}
	errProvisioning    = &refusal{err: &whitelabel.Error{Code: whitelabel.CodeUnavailable, Message: "this site is being set up"}, page: theming.PageProvisioning}
	errMaintenance     = &refusal{err: &whitelabel.Error{Code: whitelabel.CodeUnavailable, Message: "this site is down for maintenance"}, page: theming.PageMaintenance, retryAfter: true}
	errSuspended       = &refusal{err: &whitelabel.Error{Code: whitelabel.CodeForbidden, Message: "this site is suspended"}, page: theming.PageSuspended}
	errDeactivated     = &refusal{err: &whitelabel.Error{Code: whitelabel.CodeGone, Message: "this site has been deactivated"}, page: theming.PageDeactivated}
	errUpstreamDown    = &refusal{err: &whitelabel.Error{Code: whitelabel.CodeUpstreamUnavailable, Message: "the application is unavailable"}, page: theming.PageUpstreamUnavailable}
	errUpstreamTimeout = &refusal{err: &whitelabel.Error{Code: whitelabel.CodeUpstreamTimeout, Message: "the application took too long to answer"}, page: theming.PageUpstreamTimeout}
	errMethod          = &refusal{err: &whitelabel.Error{Code: whitelabel.CodeMethodNotAllowed, Message: "method not allowed"}}
)

// pageOf picks the page for errors that are not refusals.
var pageOf = map[whitelabel.ErrorCode]theming.PageKind{
	whitelabel.CodeNotFound:            theming.PageUnknownSite,
	whitelabel.CodeRateLimited:         theming.PageRateLimited,
	whitelabel.CodeQuotaExceeded:       theming.PageRateLimited,
	whitelabel.CodeUpstreamUnavailable: theming.PageUpstreamUnavailable,
	whitelabel.CodeUpstreamTimeout:     theming.PageUpstreamTimeout,
}

// errorBody is the JSON error document for API clients.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      whitelabel.ErrorCode `json:"code"`
	Message   string               `json:"message"`
	Field     string               `json:"field,omitempty"`
	RequestID string               `json:"request_id,omitempty"`
	// Reset is when a refused (429) request may succeed, RFC 3339.
	Reset string `json:"reset,omitempty"`
}

// writeError is the only place the edge turns an error into a response:
// the code gives the status (whitelabel.HTTPStatus), the Accept header
// chooses a branded HTML page (browsers) or a JSON body (everyone else).
// Only the public message reaches the client; any other error becomes a
// generic 500 and, like every private cause, is recorded in the request
// state for the access log with the request id. The edge's one status
// outside that table, 499 for a client that went away, is never written
// (proxyError only records it).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := stateFrom(r.Context())
	var (
		pub  *whitelabel.Error
		rf   *refusal
		page = theming.PageGeneric
	)
	switch {
	case errors.As(err, &rf):
		pub, page = rf.err, rf.page
		if rf.retryAfter {
			w.Header().Set("Retry-After", strconv.FormatInt(int64((s.cfg.MaintenanceRetryAfter+time.Second-1)/time.Second), 10))
		}
	case errors.As(err, &pub):
		if p, ok := pageOf[pub.Code]; ok {
			page = p
		}
	default:
		pub = &whitelabel.Error{Code: whitelabel.CodeInternal, Message: "internal error"}
	}
	if st != nil && rf == nil {
		st.err = err // refusals carry no private cause; layers record theirs
	}
	status := whitelabel.HTTPStatus(pub.Code)
	var reqID string
	var brand theming.Brand
	var theme *theming.Theme // the tenant's cached theme; nil: Render builds the default
	if st != nil {
		reqID = st.requestID
		if st.tenant != nil && page != theming.PageUnknownSite {
			brand = st.tenant.brand
			theme = st.tenant.themeOf().theme
		}
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if pub.Code == whitelabel.CodeMethodNotAllowed {
		h.Set("Allow", "GET, HEAD")
	}
	var body bytes.Buffer
	if wantsHTML(r) {
		h.Set("Content-Type", "text/html; charset=utf-8")
		if err := theming.Render(&body, theming.Page{Kind: page, Brand: brand, Theme: theme, Status: status, Message: capitalize(pub.Message) + ".", RequestID: reqID}); err != nil {
			s.log.Error("edge: render error page", "error", err, "request_id", reqID)
		}
	} else {
		h.Set("Content-Type", "application/json")
		d := errorDetail{Code: pub.Code, Message: pub.Message, Field: pub.Field, RequestID: reqID}
		if lr := (*limitRefusal)(nil); errors.As(err, &lr) {
			d.Reset = ceilSecond(lr.reset).UTC().Format(time.RFC3339)
		}
		json.NewEncoder(&body).Encode(errorBody{d})
	}
	h.Set("Content-Length", strconv.Itoa(body.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body.Bytes())
	}
}

// wantsHTML reports whether the client prefers a page to JSON: browsers
// send Accept: text/html.
func wantsHTML(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(v, "text/html") {
			return true
		}
	}
	return false
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// ceilSecond rounds t up to a whole second, so that a reset time in
// RFC 3339 seconds is never before the instant it stands for.
func ceilSecond(t time.Time) time.Time {
	if s := t.Truncate(time.Second); !s.Equal(t) {
		return s.Add(time.Second)
	}
	return t
}
