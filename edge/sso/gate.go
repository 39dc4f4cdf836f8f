package sso

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/idp"
	"github.com/estatecore/whitelabel/internal/sealer"
)

// Config configures a Gate. Zero fields take the defaults named here.
type Config struct {
	// Registry holds the providers. Required.
	Registry *idp.Registry
	// Sessions keeps sessions and logins in progress. Required.
	Sessions whitelabel.SessionStore
	// Sealer opens the configurations' secrets and signs assertions.
	// Required.
	Sealer *sealer.Sealer
	// SessionTTL is how long a session lasts after sign-in. Default 8h.
	SessionTTL time.Duration
	// LoginTTL is how long a login may take at the IdP. Default 10m.
	LoginTTL time.Duration
	// AssertionTTL is the lifetime of each X-Edge-Assertion. Default 60s.
	AssertionTTL time.Duration
	// MaxLoginsPerBrowser caps the logins in progress per browser and
	// tenant; older ones are dropped. Default 10.
	MaxLoginsPerBrowser int
	// Issuer is the iss claim of X-Edge-Assertion. Default
	// "whitelabel-edge".
	Issuer string
	// Audience is the aud claim of X-Edge-Assertion: the upstream checks
	// it. Default "whitelabel-upstream".
	Audience string
	// StoreTimeout bounds each call to Sessions. Default 5s.
	StoreTimeout time.Duration
	// SessionCacheTTL is how long a session read from Sessions is used
	// without reading it again: signed-in users keep their access for
	// that long while the store is down. Logout on this edge removes the
	// session from its cache at once, but other edges may honour a
	// revoked session for up to SessionCacheTTL. Default 30s; negative
	// disables the cache.
	SessionCacheTTL time.Duration
	// SessionCacheSize bounds the sessions cached. Default 10000.
	SessionCacheSize int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives refused logins and store errors. Default
	// slog.Default(). SAML responses never reach it.
	Logger *slog.Logger
}

// Gate is the SSO layer. Its methods are safe for concurrent use.
type Gate struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	opened map[openKey]whitelabel.SSOSecrets // opened secrets per config version

	sessions *sessionCache // nil: disabled
}

type openKey struct {
	tenant   int64
	provider whitelabel.SSOProviderKind
	updated  int64
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*Gate, error) {
	switch {
	case cfg.Registry == nil:
		return nil, errors.New("sso: Registry is required")
	case cfg.Sessions == nil:
		return nil, errors.New("sso: Sessions is required")
	case cfg.Sealer == nil:
		return nil, errors.New("sso: Sealer is required (set SECRET_KEY)")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.SessionTTL, 8*time.Hour)
	def(&cfg.LoginTTL, 10*time.Minute)
	def(&cfg.AssertionTTL, 60*time.Second)
	def(&cfg.StoreTimeout, 5*time.Second)
	if cfg.MaxLoginsPerBrowser <= 0 {
		cfg.MaxLoginsPerBrowser = 10
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "whitelabel-edge"
	}
	if cfg.Audience == "" {
		cfg.Audience = "whitelabel-upstream"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	g := &Gate{cfg: cfg, log: cfg.Logger, opened: map[openKey]whitelabel.SSOSecrets{}}
	if cfg.SessionCacheTTL == 0 {
		cfg.SessionCacheTTL = 30 * time.Second
	}
	if cfg.SessionCacheSize <= 0 {
		cfg.SessionCacheSize = 10000
	}
	if cfg.SessionCacheTTL > 0 {
		g.sessions = &sessionCache{ttl: cfg.SessionCacheTTL, max: cfg.SessionCacheSize, m: map[string]cachedSession{}}
	}
	g.cfg = cfg
	return g, nil
}

// Paths the gate answers.
const (
	LoginPath  = "/_edge/login"
	LogoutPath = "/_edge/logout"
)

// Check gates one request of tenant tc (which has SSO configurations).
// It either answers r itself and reports handled, or returns the
// identity headers for the upstream (nil for an anonymous request to a
// public path). tc is shared and must not be modified.
func (g *Gate) Check(w http.ResponseWriter, r *http.Request, tc *whitelabel.TenantConfig) (identity http.Header, handled bool) {
	switch r.URL.Path {
	case LoginPath:
		g.login(w, r, tc)
		return nil, true
	case LogoutPath:
		g.logout(w, r, tc)
		return nil, true
	case idp.OIDCCallbackPath, idp.DefaultCallbackPath, idp.SAMLACSPath:
		g.callback(w, r, tc)
		return nil, true
	case idp.SAMLMetadataPath:
		g.samlMetadata(w, r, tc)
		return nil, true
	}
	sess, err := g.session(r, tc)
	if err != nil {
		g.fail(w, r, tc, err)
		return nil, true
	}
	if sess != nil {
		h, err := g.identityHeaders(r, tc, sess)
		if err != nil {
			g.fail(w, r, tc, err)
			return nil, true
		}
		return h, false
	}
	if !Protected(tc.SSO, r.URL.Path) {
		return nil, false
	}
	g.requireLogin(w, r, tc)
	return nil, true
}

// Protected reports whether path needs a signed-in user under cfgs: it
// falls under some config's ProtectedPaths (none listed means "/") and
// under no config's PublicPaths (whitelabel.PathMatches, whole
// segments). /_edge/ paths never do: the edge answers those it serves
// and refuses the rest with 404 (edge/hygiene.go). path must be clean;
// the edge refuses requests whose path is not.
func Protected(cfgs []whitelabel.SSOConfig, path string) bool {
	if strings.HasPrefix(path, "/_edge/") {
		return false
	}
	prot := false
	for _, c := range cfgs {
		for _, p := range c.PublicPaths {
			if whitelabel.PathMatches(p, path) {
				return false
			}
		}
		if len(c.ProtectedPaths) == 0 {
			prot = true
		}
		for _, p := range c.ProtectedPaths {
			if whitelabel.PathMatches(p, path) {
				prot = true
			}
		}
	}
	return prot
}

// storeCtx bounds one store call.
func (g *Gate) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, g.cfg.StoreTimeout)
}

// configFor returns tc's configuration of kind, opened, for the origin
// of r.
func (g *Gate) configFor(r *http.Request, tc *whitelabel.TenantConfig, kind whitelabel.SSOProviderKind) (*idp.Config, idp.Provider, error) {
	for i := range tc.SSO {
		c := &tc.SSO[i]
		if c.Provider != kind {
			continue
		}
		p, ok := g.cfg.Registry.Lookup(kind)
		if !ok {
			return nil, nil, fmt.Errorf("sso: no provider registered for %q", kind)
		}
		sec, err := g.open(c)
		if err != nil {
			return nil, nil, err
		}
		return &idp.Config{SSOConfig: *c, Secrets: sec, BaseURL: origin(r)}, p, nil
	}
	return nil, nil, whitelabel.NotFound("sign-in method")
}

// open returns c's secrets, opening them once per config version.
func (g *Gate) open(c *whitelabel.SSOConfig) (whitelabel.SSOSecrets, error) {
	k := openKey{c.TenantID, c.Provider, c.UpdatedAt.UnixNano()}
	g.mu.Lock()
	sec, ok := g.opened[k]
	g.mu.Unlock()
	if ok {
		return sec, nil
	}
	sec, err := g.cfg.Sealer.OpenSSOSecrets(c)
	if err != nil {
		return sec, err
	}
	g.mu.Lock()
	if len(g.opened) > 10000 {
		clear(g.opened)
	}
	g.opened[k] = sec
	g.mu.Unlock()
	return sec, nil
}

// origin is the scheme and host r came to.
func origin(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// hostOf is r's host, lower-case, port kept: sessions are bound to it.
func hostOf(r *http.Request) string { return strings.ToLower(strings.TrimSuffix(r.Host, ".")) }
