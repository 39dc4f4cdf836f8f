package edge

import "net/http"

// Headers the edge sets for the upstream. The upstream trusts them, so
// the client's versions are removed first (see stripUntrusted).
const (
	headerTenantID       = "X-Tenant-Id"
	headerTenantKey      = "X-Tenant-Key"
	headerOrganizationID = "X-Organization-Id"
	headerTenantPlan     = "X-Tenant-Plan"
	headerTenantFeatures = "X-Tenant-Features"
	headerRequestID      = "X-Request-Id"
)

// trustedNames are the header names, lower case with dashes, that only
// the edge may send upstream: the tenant context, the request id and the
// forwarding headers it sets itself.
var trustedNames = []string{
	"x-tenant-id", "x-tenant-key", "x-organization-id", "x-tenant-plan", "x-tenant-features",
	"x-request-id", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "forwarded", "x-real-ip",
}

// trustedPrefixes are header name prefixes reserved for the edge: identity
// (X-Auth-*, set by the SSO layer) and the edge's own (X-Edge-*).
var trustedPrefixes = []string{"x-auth-", "x-edge-"}

// stripUntrusted deletes from h every header an upstream could mistake
// for one the edge set: the names in trustedNames and any name starting
// with a trustedPrefixes entry, compared case-insensitively and with '_'
// equal to '-', because many app servers (CGI, WSGI, Rack, PHP) map both
// to the same variable, so X_Tenant_Id would read as X-Tenant-Id.
func stripUntrusted(h http.Header) {
	for name := range h {
		if isTrustedName(name) {
			delete(h, name)
		}
	}
}

// withoutUntrusted returns a copy of h without the headers stripUntrusted
// deletes, with room for extra more: cheaper than stripping a clone that
// the caller would then grow. The value slices are h's.
func withoutUntrusted(h http.Header, extra int) http.Header {
	out := make(http.Header, len(h)+extra)
	for name, v := range h {
		if !isTrustedName(name) {
			out[name] = v
		}
	}
	return out
}

// isTrustedName reports whether name is reserved for the edge.
func isTrustedName(name string) bool {
	if len(name) < len("x-edge-") { // the shortest reserved name or prefix
		return false
	}
	for _, p := range trustedPrefixes {
		if len(name) >= len(p) && foldEqual(name[:len(p)], p) {
			return true
		}
	}
	for _, t := range trustedNames {
		if len(name) == len(t) && foldEqual(name, t) {
			return true
		}
	}
	return false
}

// foldEqual reports whether s equals want (lower case, dashes) ignoring
// ASCII case and treating '_' as '-'. len(s) must equal len(want).
func foldEqual(s, want string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}
