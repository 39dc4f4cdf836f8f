package whitelabel

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"
)

// SSOProviderKind names an identity provider type. A tenant holds at most
// one SSO configuration per kind.
type SSOProviderKind string

// Built-in provider kinds. The presets (azure_ad, google_workspace, okta,
// onelogin) are OIDC with the issuer derived from a few fields.
const (
	SSOOIDC            SSOProviderKind = "oidc"
	SSOSAML            SSOProviderKind = "saml"
	SSOAzureAD         SSOProviderKind = "azure_ad"
	SSOGoogleWorkspace SSOProviderKind = "google_workspace"
	SSOOkta            SSOProviderKind = "okta"
	SSOOneLogin        SSOProviderKind = "onelogin"
)

// SSOSettings are the public settings of an SSO configuration: what the
// API returns. Which fields apply depends on the provider kind; the
// provider's ValidateConfig checks them and fills the derived ones
// (Issuer for the presets, SPCertificate for SAML).
type SSOSettings struct {
	Issuer              string   `json:"issuer,omitempty"`               // oidc; derived for presets
	ClientID            string   `json:"client_id,omitempty"`            // every OIDC kind
	Scopes              []string `json:"scopes,omitempty"`               // OIDC; default openid, email, profile
	TenantID            string   `json:"tenant_id,omitempty"`            // azure_ad: the directory (tenant) id
	HostedDomain        string   `json:"hosted_domain,omitempty"`        // google_workspace: checked against the hd claim
	Domain              string   `json:"domain,omitempty"`               // okta, onelogin: e.g. acme.okta.com
	AuthorizationServer string   `json:"authorization_server,omitempty"` // okta: custom authorization server id ("default")
	GroupsClaim         string   `json:"groups_claim,omitempty"`         // OIDC: claim holding groups; default "groups"
	IdPMetadataURL      string   `json:"idp_metadata_url,omitempty"`     // saml
	IdPMetadataXML      string   `json:"idp_metadata_xml,omitempty"`     // saml; fetched from the URL when only that is given
	SPCertificate       string   `json:"sp_certificate,omitempty"`       // saml: the SP's PEM certificate (public)
	EmailAttribute      string   `json:"email_attribute,omitempty"`      // saml: attribute holding the e-mail; default NameID or "email"
	GroupsAttribute     string   `json:"groups_attribute,omitempty"`     // saml: attribute holding groups; default "groups"
}

// SSOSecrets are the secret settings of an SSO configuration. They are
// sealed (encrypted) before they reach a store and never returned by the
// API.
type SSOSecrets struct {
	ClientSecret string `json:"client_secret,omitempty"`  // OIDC kinds
	SPPrivateKey string `json:"sp_private_key,omitempty"` // saml: PEM (PKCS#8 or PKCS#1)
}

// SSOConfig is one identity provider a tenant's site is protected with.
type SSOConfig struct {
	TenantID int64           `json:"tenant_id"`
	Provider SSOProviderKind `json:"provider"`
	// Name is shown on the login page; default a name for the kind.
	Name     string      `json:"name"`
	Settings SSOSettings `json:"settings"`
	// SealedSecrets is the sealed JSON of SSOSecrets. Stores keep it as
	// opaque bytes; only holders of SECRET_KEY can open it.
	SealedSecrets []byte `json:"sealed_secrets,omitempty"`
	// ProtectedPaths are the path prefixes that need a signed-in user;
	// empty means every path ("/"). PublicPaths are exceptions within
	// them. The edge combines the lists of all a tenant's configs.
	ProtectedPaths []string `json:"protected_paths"`
	PublicPaths    []string `json:"public_paths"`
	// AllowedEmailDomains and AllowedGroups, when not empty, restrict
	// who may sign in: the e-mail's domain must be listed, and the user
	// must be in at least one listed group.
	AllowedEmailDomains []string `json:"allowed_email_domains"`
	AllowedGroups       []string `json:"allowed_groups"`
	// AllowIdPInitiated accepts SAML responses the IdP sends unasked.
	// Off by default: unsolicited responses are easier to replay.
	AllowIdPInitiated bool      `json:"allow_idp_initiated"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// Clone returns a deep copy of c.
func (c *SSOConfig) Clone() *SSOConfig {
	n := *c
	n.Settings.Scopes = slices.Clone(c.Settings.Scopes)
	n.SealedSecrets = slices.Clone(c.SealedSecrets)
	n.ProtectedPaths = slices.Clone(c.ProtectedPaths)
	n.PublicPaths = slices.Clone(c.PublicPaths)
	n.AllowedEmailDomains = slices.Clone(c.AllowedEmailDomains)
	n.AllowedGroups = slices.Clone(c.AllowedGroups)
	return &n
}

// ValidateSSOProviderName checks that kind is a lower-case name of 1–63
// of [a-z0-9_], starting with a letter (built-in or custom).
func ValidateSSOProviderName(kind SSOProviderKind) error {
	return ValidateName("provider", string(kind))
}

// ValidatePathPrefixes checks a list of path prefixes: each starts with
// "/", holds no "..", "//", "\" or control characters, and is at most
// 256 bytes; at most 64 entries.
func ValidatePathPrefixes(field string, paths []string) error {
	if len(paths) > 64 {
		return Invalid(field, "at most 64 paths")
	}
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") || len(p) > 256 || strings.Contains(p, "..") ||
			strings.Contains(p, "//") || strings.ContainsAny(p, "\\?#") || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return Invalid(field, "%q is not a path prefix (start with /, no .., //, \\, ? or #)", p)
		}
		if u, err := url.Parse(p); err != nil || u.Path != p {
			return Invalid(field, "%q is not a plain path", p)
		}
	}
	return nil
}

// PathMatches reports whether path falls under prefix, segment by
// segment: path equals prefix, or continues it with a new segment
// ("/public" matches "/public" and "/public/x", never "/publicity"), or
// prefix ends in "/" and path starts with it ("/public/" matches
// "/public/x" but not "/public"; "/" matches every path). Both are
// compared as given: the edge refuses requests whose path is not clean
// (no ".", ".." or empty segments, no encoded "/"), so that a path
// matched here is the path the upstream serves.
func PathMatches(prefix, path string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || strings.HasSuffix(prefix, "/") || path[len(prefix)] == '/'
}

// SSOSession is a signed-in user at one tenant host. The edge keeps only
// its random id in a cookie; the rest stays server-side.
type SSOSession struct {
	// ID is the lookup key: the edge stores a hash of the cookie value,
	// so the stored ids cannot be replayed as cookies.
	ID       string          `json:"id"`
	TenantID int64           `json:"tenant_id"`
	Host     string          `json:"host"` // the host the session is valid on
	Provider SSOProviderKind `json:"provider"`
	Subject  string          `json:"subject"`
	Email    string          `json:"email,omitempty"`
	Name     string          `json:"name,omitempty"`
	Groups   []string        `json:"groups,omitempty"`
	// IDToken is kept for RP-initiated logout (id_token_hint).
	IDToken   string    `json:"id_token,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// SSOLoginState is one login in progress, from the redirect to the
// provider until its callback. It is keyed by its random State value, so
// logins in several tabs do not overwrite each other, and it is used
// once.
type SSOLoginState struct {
	State    string          `json:"state"`
	TenantID int64           `json:"tenant_id"`
	Host     string          `json:"host"`
	Browser  string          `json:"browser"` // the browser's login cookie; caps states per browser
	Provider SSOProviderKind `json:"provider"`
	// Nonce and CodeVerifier are OIDC's nonce and PKCE verifier;
	// RequestID is the SAML AuthnRequest ID.
	Nonce        string    `json:"nonce,omitempty"`
	CodeVerifier string    `json:"code_verifier,omitempty"`
	RequestID    string    `json:"request_id,omitempty"`
	ReturnTo     string    `json:"return_to"` // a path on Host
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// SSOConfigStore persists tenants' SSO configurations. Every mutation
// bumps the config version and records a ChangeSSO keyed by the provider,
// so edges pick it up from the change feed (TenantConfig.SSO).
type SSOConfigStore interface {
	// PutSSOConfig creates or replaces the configuration of
	// (c.TenantID, c.Provider), filling CreatedAt (kept on replace) and
	// UpdatedAt. A missing tenant is CodeNotFound.
	PutSSOConfig(ctx context.Context, c *SSOConfig, audit *AuditEntry) error
	// GetSSOConfig returns one configuration, or CodeNotFound.
	GetSSOConfig(ctx context.Context, tenantID int64, provider SSOProviderKind) (*SSOConfig, error)
	// ListSSOConfigs returns a tenant's configurations ordered by
	// provider (none for an unknown tenant).
	ListSSOConfigs(ctx context.Context, tenantID int64) ([]*SSOConfig, error)
	// DeleteSSOConfig removes one configuration, or returns CodeNotFound.
	DeleteSSOConfig(ctx context.Context, tenantID int64, provider SSOProviderKind, audit *AuditEntry) error
}

// SessionStore keeps the edge's SSO sessions and logins in progress. Its
// writes are not configuration: they bump no version and record no
// change. Expired entries are never returned.
type SessionStore interface {
	// CreateSession stores s; an existing ID is CodeConflict.
	CreateSession(ctx context.Context, s *SSOSession) error
	// GetSession returns the unexpired session with id, or CodeNotFound.
	GetSession(ctx context.Context, id string, now time.Time) (*SSOSession, error)
	// DeleteSession removes a session; a missing one is not an error.
	DeleteSession(ctx context.Context, id string) error
	// DeleteTenantSessions removes every session of a tenant.
	DeleteTenantSessions(ctx context.Context, tenantID int64) error
	// PutLoginState stores st and then removes the oldest states of the
	// same (TenantID, Browser) beyond maxPerBrowser, and expired ones.
	PutLoginState(ctx context.Context, st *SSOLoginState, maxPerBrowser int) error
	// ConsumeLoginState removes and returns the state with the given
	// value, atomically, so a state is used at most once. A missing,
	// already used or expired state is CodeNotFound.
	ConsumeLoginState(ctx context.Context, state string, now time.Time) (*SSOLoginState, error)
	// DeleteExpiredSSO removes sessions and states that expired before
	// now, and reports how many.
	DeleteExpiredSSO(ctx context.Context, now time.Time) (int64, error)
}

// SSOStore is everything SSO keeps in the store. store/sqlite and
// store/postgres implement it beside whitelabel.Store.
type SSOStore interface {
	SSOConfigStore
	SessionStore
}
