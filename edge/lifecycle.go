package edge

import (
	"net/http"

	"github.com/estatecore/whitelabel"
)

// statusRefusal gives the refusal for a tenant that is not serving, or
// nil for an active one. Unknown statuses are refused as unavailable:
// a status the edge does not know must not open the site.
func statusRefusal(s whitelabel.TenantStatus) *refusal {
	switch s {
	case whitelabel.StatusActive:
		return nil
	case whitelabel.StatusProvisioning:
		return errProvisioning
	case whitelabel.StatusMaintenance:
		return errMaintenance
	case whitelabel.StatusSuspended:
		return errSuspended
	case whitelabel.StatusDeactivated:
		return errDeactivated
	}
	return errProvisioning
}

// lifecycle refuses requests for tenants that are not active:
// provisioning and maintenance 503 (maintenance with Retry-After),
// suspended 403, deactivated 410.
func (s *Server) lifecycle(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rf := statusRefusal(stateFrom(r.Context()).tenant.status); rf != nil {
			s.writeError(w, r, rf)
			return
		}
		next.ServeHTTP(w, r)
	})
}
