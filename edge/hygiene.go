package edge

import (
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/estatecore/whitelabel"
)

// DefaultMaxRequestBody is Config.MaxRequestBody's default: 32 MiB.
const DefaultMaxRequestBody = 32 << 20

var (
	errUncleanPath  = &refusal{err: &whitelabel.Error{Code: whitelabel.CodeInvalid, Message: "the request path is not in canonical form"}}
	errBodyTooLarge = &refusal{err: &whitelabel.Error{Code: whitelabel.CodeTooLarge, Message: "the request body is too large"}}
	errEdgeNotFound = &refusal{err: &whitelabel.Error{Code: whitelabel.CodeNotFound, Message: "not found"}}
)

// hygiene refuses requests every later layer would otherwise have to
// second-guess. It runs right after tenant resolution (so its pages are
// branded), before anything that looks at the path:
//
//   - a path that is not canonical (see cleanPath) is 400: the SSO gate's
//     public and protected prefixes, route costs and metrics routes all
//     compare the path as received, while the upstream may resolve
//     "/public/../admin" to "/admin";
//   - a Content-Length over Config.MaxRequestBody is 413, and a body of
//     unknown length is cut at it (the proxy then answers 413, see
//     proxyError).
func (s *Server) hygiene(next http.Handler) http.Handler {
	max := s.cfg.MaxRequestBody
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !cleanPath(r.URL) {
			s.writeError(w, r, errUncleanPath)
			return
		}
		if max > 0 && r.Body != nil && r.Body != http.NoBody {
			if r.ContentLength > max {
				// The rest of the body is not read: close the connection.
				w.Header().Set("Connection", "close")
				s.writeError(w, r, errBodyTooLarge)
				return
			}
			if r.ContentLength < 0 {
				r.Body = http.MaxBytesReader(w, r.Body, max)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// cleanPath reports whether u's path is canonical: it starts with "/",
// equals path.Clean of itself (so no "." or ".." segments and no "//"),
// but for one trailing "/", holds no NUL or "\", and its escaped form
// encodes no ".", "/" or "\" (%2e, %2f, %5c in either case), which
// servers behind the edge may decode into a different path than the one
// the edge checked.
func cleanPath(u *url.URL) bool {
	p := u.Path
	if p == "" || p[0] != '/' || u.Opaque != "" {
		return false
	}
	if c := path.Clean(p); c != p && (c == "/" || c+"/" != p) {
		return false
	}
	if strings.ContainsAny(p, "\x00\\") {
		return false
	}
	for _, raw := range [...]string{u.RawPath, u.EscapedPath()} {
		if strings.IndexByte(raw, '%') < 0 {
			continue
		}
		l := strings.ToLower(raw)
		if strings.Contains(l, "%2e") || strings.Contains(l, "%2f") || strings.Contains(l, "%5c") || strings.Contains(l, "%00") {
			return false
		}
	}
	return true
}

// edgeReserved answers 404 for every /_edge/ path no earlier layer
// answered: the edge's own endpoints (health, theme, assets, sign-in)
// are served before it, and nothing else under /_edge/ may reach the
// upstream, whatever the tenant's SSO settings.
func (s *Server) edgeReserved(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_edge/") || r.URL.Path == "/_edge" {
			s.writeError(w, r, errEdgeNotFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}
