package edge

import (
	"net/http"
	"net/textproto"

	"github.com/estatecore/whitelabel"
)

// Gate is the SSO layer's contract, implemented by edge/sso.Gate.
type Gate interface {
	// Check is called for each request of a tenant that has SSO
	// configurations, after the lifecycle gate and before the proxy. It
	// either answers r itself (sign-in redirects, callbacks, the login
	// page, 401) and reports handled, or returns the identity headers
	// the proxy sets upstream (nil for an anonymous request to a public
	// path). Only names reserved for the edge (X-Auth-*, X-Edge-*) are
	// kept; the client's own copies are always removed. tc is shared
	// and must not be modified.
	Check(w http.ResponseWriter, r *http.Request, tc *whitelabel.TenantConfig) (identity http.Header, handled bool)
}

var errSSOUnavailable = &refusal{err: &whitelabel.Error{Code: whitelabel.CodeUnavailable, Message: "sign-in is not available on this edge"}}

// sso runs the Gate for tenants with SSO configurations. Without a Gate
// such tenants are refused: a protected site must never be served open.
func (s *Server) sso(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateFrom(r.Context())
		tc := &st.tenant.cfg
		if len(tc.SSO) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if s.cfg.SSO == nil {
			s.writeError(w, r, errSSOUnavailable)
			return
		}
		id, handled := s.cfg.SSO.Check(w, r, tc)
		if handled {
			return
		}
		for k, v := range id {
			if !isTrustedName(k) {
				continue
			}
			if st.identity == nil {
				st.identity = make(http.Header, len(id))
			}
			st.identity[textproto.CanonicalMIMEHeaderKey(k)] = v
		}
		next.ServeHTTP(w, r)
	})
}
