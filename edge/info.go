package edge

import (
	"net/http"
	"strconv"
)

// Paths the edge answers itself.
const (
	infoPath    = "/api/white-label/current/info"
	healthzPath = "/_edge/healthz"
	readyzPath  = "/_edge/readyz"
)

// currentInfo answers GET /api/white-label/current/info from the
// snapshot: the resolved tenant's public info (display name, key,
// status, brand, enabled features). It sits before lifecycle, so a
// suspended or provisioning tenant's front end can still learn its
// status.
func (s *Server) currentInfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != infoPath {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.writeError(w, r, errMethod)
			return
		}
		body := stateFrom(r.Context()).tenant.info
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		h.Set("Cache-Control", "no-cache")
		h.Set("Vary", "Host, X-Tenant-Key")
		if r.Method == http.MethodHead {
			return
		}
		w.Write(body)
	})
}

// edgeEndpoints answers /_edge/healthz (the process is up) and
// /_edge/readyz (a snapshot is loaded) on any host, before tenant
// resolution and outside the access log and metrics.
func (s *Server) edgeEndpoints(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case healthzPath:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte("ok\n"))
		case readyzPath:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if !s.Ready() {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte("no snapshot\n"))
				return
			}
			w.Write([]byte("ready\n"))
		default:
			next.ServeHTTP(w, r)
		}
	})
}
