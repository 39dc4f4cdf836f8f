package edge

import (
	"net/http"
	"strings"

	"golang.org/x/net/idna"
)

// tenantKeyHeader selects the tenant on the API host.
const tenantKeyHeader = "X-Tenant-Key"

// resolve finds the request's tenant in the current snapshot and stores
// it, with the snapshot, in the request state. Unknown hosts get the
// unknown-site page here and never reach the upstream.
//
// The tenant comes from the Host header only: <subdomain>.<BaseDomain>
// or a serving custom domain, and on APIHost from X-Tenant-Key.
// X-Forwarded-Host is never consulted: the edge is the first hop, so any
// forwarding header is the client's word.
func (s *Server) resolve(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateFrom(r.Context())
		st.tenant = s.lookup(s.snap.Load(), r)
		if st.tenant == nil {
			s.writeError(w, r, errUnknownSite)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// lookup returns the tenant r is for in snap, or nil.
func (s *Server) lookup(snap *snapshot, r *http.Request) *tenantEntry {
	host, ok := normalizeHost(r.Host)
	if !ok {
		return nil
	}
	if host == s.cfg.APIHost {
		key := r.Header.Get(tenantKeyHeader)
		if key == "" {
			return nil
		}
		return snap.lookupKey(lowerASCII(key))
	}
	return snap.lookupHost(host)
}

// maxHostLen is the longest DNS name (253) plus a trailing dot.
const maxHostLen = 254

// normalizeHost turns a Host header into the form snapshot keys use:
// the port and one trailing dot removed, ASCII lower case, and
// internationalized names in punycode (IDNA 2008 lookup rules). It
// reports false for anything that cannot be a DNS name we serve (IP
// literals, illegal characters, over-long names). The common case, an
// already lower-case ASCII name, does not allocate.
func normalizeHost(h string) (string, bool) {
	if h == "" || h[0] == '[' { // empty, or an IPv6 literal
		return "", false
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		for j := i + 1; j < len(h); j++ {
			if h[j] < '0' || h[j] > '9' {
				return "", false
			}
		}
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > maxHostLen {
		return "", false
	}
	upper, nonASCII := false, false
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_':
		case 'A' <= c && c <= 'Z':
			upper = true
		case c >= 0x80:
			nonASCII = true
		default:
			return "", false
		}
	}
	if nonASCII {
		a, err := idna.Lookup.ToASCII(h)
		if err != nil || a == "" || len(a) > maxHostLen {
			return "", false
		}
		return normalizeHost(a)
	}
	if upper {
		h = strings.ToLower(h)
	}
	if h[0] == '.' || h[len(h)-1] == '.' || strings.Contains(h, "..") {
		return "", false
	}
	return h, true
}

// lowerASCII lower-cases s without allocating when it already is.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
