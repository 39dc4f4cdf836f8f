package sso

import (
	"net/http"
	"strings"

	jwtpkg "github.com/go-jose/go-jose/v4/jwt"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/idp"
	"github.com/estatecore/whitelabel/internal/sealer"
)

// Identity headers the gate sets for the upstream. The edge strips every
// client-sent X-Auth-* and X-Edge-* header (any case, '_' for '-') before
// setting them.
const (
	HeaderUser      = "X-Auth-User"
	HeaderEmail     = "X-Auth-Email"
	HeaderGroups    = "X-Auth-Groups"
	HeaderName      = "X-Auth-Name"
	HeaderProvider  = "X-Auth-Provider"
	HeaderAssertion = "X-Edge-Assertion"
)

// session returns r's session if its cookie names an unexpired session
// of this tenant on this host; nil otherwise. Sessions read from the
// store are cached for SessionCacheTTL (cache.go). A session of another
// tenant or host is ignored: it is worthless here.
func (g *Gate) session(r *http.Request, tc *whitelabel.TenantConfig) (*whitelabel.SSOSession, error) {
	v := cookieValue(r, sessionCookie)
	if v == "" {
		return nil, nil
	}
	id, now := hashID(v), g.cfg.Now()
	s := g.sessions.get(id, now)
	if s == nil {
		ctx, cancel := g.storeCtx(r.Context())
		defer cancel()
		var err error
		s, err = g.cfg.Sessions.GetSession(ctx, id, now)
		if whitelabel.ErrorCodeOf(err) == whitelabel.CodeNotFound {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		g.sessions.put(s, now)
	}
	if s.TenantID != tc.Tenant.ID || s.Host != hostOf(r) {
		return nil, nil
	}
	// A provider removed from the tenant ends its sessions.
	found := false
	for _, c := range tc.SSO {
		if c.Provider == s.Provider {
			found = true
		}
	}
	if !found {
		return nil, nil
	}
	return s, nil
}

// createSession stores a session for id and sets its cookie.
func (g *Gate) createSession(w http.ResponseWriter, r *http.Request, tc *whitelabel.TenantConfig, kind whitelabel.SSOProviderKind, id *idp.Identity) error {
	raw := idp.RandomString(32)
	now := g.cfg.Now()
	s := &whitelabel.SSOSession{
		ID: hashID(raw), TenantID: tc.Tenant.ID, Host: hostOf(r), Provider: kind,
		Subject: id.Subject, Email: id.Email, Name: id.Name, Groups: id.Groups, IDToken: id.IDToken,
		CreatedAt: now, ExpiresAt: now.Add(g.cfg.SessionTTL),
	}
	ctx, cancel := g.storeCtx(r.Context())
	defer cancel()
	if err := g.cfg.Sessions.CreateSession(ctx, s); err != nil {
		return err
	}
	setCookie(w, r, sessionCookie, raw, int(g.cfg.SessionTTL.Seconds()))
	return nil
}

// identityHeaders are the upstream headers for s, with a fresh
// X-Edge-Assertion.
func (g *Gate) identityHeaders(r *http.Request, tc *whitelabel.TenantConfig, s *whitelabel.SSOSession) (http.Header, error) {
	tok, err := g.cfg.Sealer.SignAssertion(sealer.Assertion{
		Claims: jwtpkg.Claims{
			Issuer:   g.cfg.Issuer,
			Audience: jwtpkg.Audience{g.cfg.Audience},
			Subject:  s.Subject,
			ID:       idp.RandomString(12),
		},
		Tenant: tc.Tenant.ID, TenantKey: tc.Tenant.TenantKey,
		Email: s.Email, Name: s.Name, Groups: s.Groups, Provider: string(s.Provider),
	}, g.cfg.Now(), g.cfg.AssertionTTL)
	if err != nil {
		return nil, err
	}
	h := http.Header{
		HeaderUser:      {headerValue(s.Subject)},
		HeaderProvider:  {string(s.Provider)},
		HeaderAssertion: {tok},
	}
	if s.Email != "" {
		h[HeaderEmail] = []string{headerValue(s.Email)}
	}
	if s.Name != "" {
		h[HeaderName] = []string{headerValue(s.Name)}
	}
	if len(s.Groups) > 0 {
		gs := make([]string, len(s.Groups))
		for i, g := range s.Groups {
			gs[i] = headerValue(strings.ReplaceAll(g, ",", " "))
		}
		h[HeaderGroups] = []string{strings.Join(gs, ",")}
	}
	return h, nil
}

// headerValue drops characters that cannot appear in a header value.
func headerValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
