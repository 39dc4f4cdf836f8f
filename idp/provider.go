package idp

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/estatecore/whitelabel"
)

// Config is one SSO configuration ready to use: the stored configuration
// with its secrets opened, and the origin of the host the login runs on.
type Config struct {
	whitelabel.SSOConfig
	// Secrets are the opened SealedSecrets.
	Secrets whitelabel.SSOSecrets
	// BaseURL is the origin users see the tenant at, e.g.
	// "https://acme.example.com". Callback, ACS and metadata URLs are
	// made from it, so each host a tenant is served on must be
	// registered with the IdP.
	BaseURL string
}

// Identity is who signed in.
type Identity struct {
	Subject string   // stable id at the provider (OIDC sub, SAML NameID)
	Email   string   // "" when the provider did not assert one (or marked it unverified)
	Name    string   // display name, if any
	Groups  []string // group names or ids, as the provider sends them
	// IDToken is the raw OIDC ID token, kept for RP-initiated logout.
	IDToken string
}

// Provider is one kind of identity provider. Methods must honour ctx and
// be safe for concurrent use. Errors a user or an operator can act on are
// *whitelabel.Error values (CodeInvalid from ValidateConfig, naming the
// field; CodeUnauthorized from ProcessCallback for a refused login); any
// other error is internal.
type Provider interface {
	// ValidateConfig checks c when it is saved: required settings,
	// reachable discovery or metadata. It may fill derived settings
	// (the presets' issuer, SAML's SP certificate and fetched metadata)
	// and secrets (a generated SAML SP key), which the caller then
	// stores.
	ValidateConfig(ctx context.Context, c *Config) error
	// AuthorizationURL returns the URL that starts a login. st holds the
	// State (already random, used as OAuth state or SAML RelayState);
	// the provider fills what it must remember (nonce, PKCE verifier,
	// SAML request id), and the caller stores st for the callback.
	AuthorizationURL(ctx context.Context, c *Config, st *whitelabel.SSOLoginState) (string, error)
	// ProcessCallback finishes a login from the provider's callback
	// request r. st is the login state that the callback named, already
	// consumed; nil for an unsolicited (IdP-initiated) SAML response.
	ProcessCallback(ctx context.Context, c *Config, st *whitelabel.SSOLoginState, r *http.Request) (*Identity, error)
}

// CallbackPather is implemented by providers whose callback is not
// DefaultCallbackPath.
type CallbackPather interface {
	CallbackPath() string
}

// LogoutURLer is implemented by providers that offer RP-initiated logout.
type LogoutURLer interface {
	// LogoutURL returns where to send the browser to end the session at
	// the provider too, then come back to postLogout; "" when the
	// provider has no such endpoint.
	LogoutURL(ctx context.Context, c *Config, s *whitelabel.SSOSession, postLogout string) (string, error)
}

// MetadataProvider is implemented by providers that publish metadata for
// the IdP (SAML's service provider metadata).
type MetadataProvider interface {
	Metadata(ctx context.Context, c *Config) ([]byte, error)
}

// Paths the edge serves for SSO.
const (
	DefaultCallbackPath = "/_edge/callback"
	OIDCCallbackPath    = "/_edge/oidc/callback"
	SAMLACSPath         = "/_edge/saml/acs"
	SAMLMetadataPath    = "/_edge/saml/metadata"
)

// CallbackPath returns the path p's callbacks arrive on.
func CallbackPath(p Provider) string {
	if cp, ok := p.(CallbackPather); ok {
		return cp.CallbackPath()
	}
	return DefaultCallbackPath
}

// Options configure the built-in providers.
type Options struct {
	// HTTPClient fetches discovery documents, keys, tokens and metadata.
	// Nil means a client with Timeout.
	HTTPClient *http.Client
	// Timeout bounds each fetch made while validating or logging in.
	// Zero means 10s.
	Timeout time.Duration
	// Now is the clock for token checks. Nil means time.Now.
	Now func() time.Time
	// AllowInsecureLoopback accepts http:// issuers and metadata URLs on
	// loopback hosts (127.0.0.1, ::1, localhost), for tests and
	// development. Others must be https.
	AllowInsecureLoopback bool
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: o.Timeout}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Registry maps provider kinds to providers. It is safe for concurrent
// use.
type Registry struct {
	mu sync.RWMutex
	m  map[whitelabel.SSOProviderKind]Provider
}

// NewRegistry returns a registry holding the built-in providers.
func NewRegistry(o Options) *Registry {
	o = o.withDefaults()
	r := &Registry{m: map[whitelabel.SSOProviderKind]Provider{}}
	for _, k := range []whitelabel.SSOProviderKind{whitelabel.SSOOIDC, whitelabel.SSOAzureAD,
		whitelabel.SSOGoogleWorkspace, whitelabel.SSOOkta, whitelabel.SSOOneLogin} {
		r.m[k] = NewOIDC(k, o)
	}
	r.m[whitelabel.SSOSAML] = NewSAML(o)
	return r
}

// Register adds or replaces the provider of kind, which must be a valid
// name (see whitelabel.ValidateSSOProviderName).
func (r *Registry) Register(kind whitelabel.SSOProviderKind, p Provider) error {
	if err := whitelabel.ValidateSSOProviderName(kind); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[kind] = p
	return nil
}

// Lookup returns the provider of kind.
func (r *Registry) Lookup(kind whitelabel.SSOProviderKind) (Provider, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.m[kind]
	return p, ok
}

// Kinds returns the registered kinds, sorted.
func (r *Registry) Kinds() []whitelabel.SSOProviderKind {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]whitelabel.SSOProviderKind, 0, len(r.m))
	for k := range r.m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// DefaultName is the login-page label of a kind without a Name.
func DefaultName(kind whitelabel.SSOProviderKind) string {
	switch kind {
	case whitelabel.SSOOIDC:
		return "Single sign-on"
	case whitelabel.SSOSAML:
		return "SAML single sign-on"
	case whitelabel.SSOAzureAD:
		return "Microsoft"
	case whitelabel.SSOGoogleWorkspace:
		return "Google"
	case whitelabel.SSOOkta:
		return "Okta"
	case whitelabel.SSOOneLogin:
		return "OneLogin"
	}
	return string(kind)
}

// RandomString returns n random bytes, base64url without padding.
func RandomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("idp: crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// checkURL parses a provider URL: https, or http on a loopback host when
// allowed.
func checkURL(field, raw string, o Options) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, whitelabel.Invalid(field, "%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !o.AllowInsecureLoopback || !isLoopback(u.Hostname()) {
			return nil, whitelabel.Invalid(field, "%s must use https", field)
		}
	default:
		return nil, whitelabel.Invalid(field, "%s must use https", field)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// domainRE-free check for a DNS host name like acme.okta.com.
func validHostName(s string) bool {
	if s == "" || len(s) > 253 || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return strings.Contains(s, ".")
}

// refused is the error of a login the provider or a check refused; msg is
// public.
func refused(format string, args ...any) *whitelabel.Error {
	return &whitelabel.Error{Code: whitelabel.CodeUnauthorized, Message: fmt.Sprintf(format, args...)}
}

// refusedErr is refused with a private cause.
func refusedErr(cause error, format string, args ...any) *whitelabel.Error {
	e := refused(format, args...)
	e.Err = cause
	return e
}
