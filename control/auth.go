package control

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/estatecore/whitelabel"
)

// Authentication headers.
const (
	headerAPIKey     = "X-API-Key"
	headerAdminToken = "X-Admin-Token"
	headerRequestID  = "X-Request-ID"
)

// reqState is what the adapter learns about a request before the handler
// runs: its ID, where it came from and who is calling.
type reqState struct {
	requestID  string
	clientAddr string
	start      time.Time
	status     int // first status written; 0 while nothing is

	admin   bool
	partner *whitelabel.Partner // the calling partner; nil for admin and public
}

// newReqState takes the client's X-Request-ID if it is well-formed or
// makes one, and echoes it in the response.
func (s *Server) newReqState(w http.ResponseWriter, r *http.Request) *reqState {
	id := r.Header.Get(headerRequestID)
	if !validRequestID(id) {
		id = whitelabel.RandomToken(20)
	}
	w.Header().Set(headerRequestID, id)
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	return &reqState{requestID: id, clientAddr: addr, start: time.Now()}
}

// validRequestID accepts 1–128 characters of letters, digits and -_.:
// so a client's ID can go into logs verbatim.
func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// actor names the caller in audit entries and logs.
func (rs *reqState) actor() string {
	switch {
	case rs.admin:
		return "admin"
	case rs.partner != nil:
		return "partner:" + strconv.FormatInt(rs.partner.ID, 10)
	}
	return "anonymous"
}

// partnerID is the calling partner's ID, or 0 for an admin.
func (rs *reqState) partnerID() int64 {
	if rs.partner == nil {
		return 0
	}
	return rs.partner.ID
}

// authenticate identifies the caller and checks it against the route's
// level. An X-Admin-Token that is present must be right (no fallback to
// the API key), so a misconfigured operator tool fails loudly.
func (s *Server) authenticate(r *http.Request, rs *reqState, level authLevel) error {
	if level == authPublic {
		return nil
	}
	if tok := r.Header.Get(headerAdminToken); tok != "" {
		if !s.adminTokenOK(tok) {
			return whitelabel.ErrUnauthorized
		}
		rs.admin = true
	} else if key := r.Header.Get(headerAPIKey); key != "" {
		p, err := s.partnerForKey(r, key)
		if err != nil {
			return err
		}
		rs.partner = p
	} else {
		return &whitelabel.Error{Code: whitelabel.CodeUnauthorized, Message: "send an X-API-Key (partners) or X-Admin-Token (operators) header"}
	}
	switch {
	case level == authAdmin && !rs.admin:
		return whitelabel.Errorf(whitelabel.CodeForbidden, "", "this operation needs the admin token")
	case level == authPartner && rs.partner == nil:
		return whitelabel.Errorf(whitelabel.CodeForbidden, "", "this operation is only for partners (X-API-Key)")
	}
	return nil
}

// adminTokenOK compares in constant time; hashing first hides the
// token's length too. An empty AdminToken disables admin access.
func (s *Server) adminTokenOK(tok string) bool {
	if s.cfg.AdminToken == "" {
		return false
	}
	a := sha256.Sum256([]byte(tok))
	b := sha256.Sum256([]byte(s.cfg.AdminToken))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// partnerForKey returns the active partner owning plaintext key, or an
// unauthorized error that does not say which check failed.
func (s *Server) partnerForKey(r *http.Request, key string) (*whitelabel.Partner, error) {
	id, ok := whitelabel.ParseAPIKeyID(key)
	if !ok {
		return nil, &whitelabel.Error{Code: whitelabel.CodeUnauthorized, Message: "malformed API key"}
	}
	k, p, err := s.store.APIKey(r.Context(), id)
	if err != nil {
		if whitelabel.ErrorCodeOf(err) == whitelabel.CodeNotFound {
			return nil, whitelabel.ErrUnauthorized
		}
		return nil, err
	}
	if !k.Matches(key, s.now()) || p == nil || !p.IsActive {
		return nil, whitelabel.ErrUnauthorized
	}
	return p, nil
}
