package idp

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/estatecore/whitelabel"
)

// OIDC is the OpenID Connect provider (authorization code flow with PKCE,
// state and nonce; ID token verified by go-oidc) and, with a preset, the
// Azure AD, Google Workspace, Okta and OneLogin providers.
type OIDC struct {
	kind whitelabel.SSOProviderKind
	o    Options

	mu    sync.Mutex
	cache map[string]cachedProvider // issuer → discovery
}

type cachedProvider struct {
	p       *oidc.Provider
	fetched time.Time
}

// discoveryTTL is how long a fetched discovery document is reused. Keys
// are refreshed by go-oidc on their own when an unknown kid shows up.
const discoveryTTL = time.Hour

var (
	_ Provider    = (*OIDC)(nil)
	_ LogoutURLer = (*OIDC)(nil)
)

// NewOIDC returns the OIDC provider for kind: "oidc" or one of the
// presets (azure_ad, google_workspace, okta, onelogin).
func NewOIDC(kind whitelabel.SSOProviderKind, o Options) *OIDC {
	return &OIDC{kind: kind, o: o.withDefaults(), cache: map[string]cachedProvider{}}
}

// CallbackPath is OIDCCallbackPath.
func (p *OIDC) CallbackPath() string { return OIDCCallbackPath }

var (
	azureTenantRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$|^[a-z0-9][a-z0-9.-]{0,250}[a-z0-9]$`)
	okaAuthzRE    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// applyPreset derives the issuer of a preset from its fields.
func (p *OIDC) applyPreset(s *whitelabel.SSOSettings) error {
	switch p.kind {
	case whitelabel.SSOAzureAD:
		tid := strings.ToLower(s.TenantID)
		switch {
		case tid == "":
			return whitelabel.Invalid("tenant_id", "tenant_id (the Azure AD directory id) is required")
		case tid == "common" || tid == "organizations" || tid == "consumers":
			return whitelabel.Invalid("tenant_id", "tenant_id must be your directory's id or domain, not %q: the multi-tenant issuers fail strict issuer checks", tid)
		case !azureTenantRE.MatchString(tid):
			return whitelabel.Invalid("tenant_id", "%q is not an Azure AD directory id", s.TenantID)
		}
		s.TenantID = tid
		s.Issuer = "https://login.microsoftonline.com/" + tid + "/v2.0"
	case whitelabel.SSOGoogleWorkspace:
		hd := strings.ToLower(s.HostedDomain)
		if !validHostName(hd) {
			return whitelabel.Invalid("hosted_domain", "hosted_domain (your Google Workspace domain, e.g. acme.com) is required")
		}
		s.HostedDomain = hd
		s.Issuer = "https://accounts.google.com"
	case whitelabel.SSOOkta:
		d := strings.ToLower(s.Domain)
		if !validHostName(d) {
			return whitelabel.Invalid("domain", "domain (your Okta domain, e.g. acme.okta.com) is required")
		}
		s.Domain = d
		s.Issuer = "https://" + d
		if s.AuthorizationServer != "" {
			if !okaAuthzRE.MatchString(s.AuthorizationServer) {
				return whitelabel.Invalid("authorization_server", "%q is not an Okta authorization server id", s.AuthorizationServer)
			}
			s.Issuer += "/oauth2/" + s.AuthorizationServer
		}
	case whitelabel.SSOOneLogin:
		d := strings.ToLower(s.Domain)
		if !validHostName(d) {
			return whitelabel.Invalid("domain", "domain (your OneLogin domain, e.g. acme.onelogin.com) is required")
		}
		s.Domain = d
		s.Issuer = "https://" + d + "/oidc/2"
	default:
		if s.Issuer == "" {
			return whitelabel.Invalid("issuer", "issuer is required")
		}
	}
	return nil
}

// ValidateConfig checks the settings, derives a preset's issuer, and
// fetches the discovery document, whose issuer must equal the configured
// one exactly.
func (p *OIDC) ValidateConfig(ctx context.Context, c *Config) error {
	s := &c.Settings
	if err := p.applyPreset(s); err != nil {
		return err
	}
	if _, err := checkURL("issuer", s.Issuer, p.o); err != nil {
		return err
	}
	if s.ClientID == "" {
		return whitelabel.Invalid("client_id", "client_id is required")
	}
	if c.Secrets.ClientSecret == "" {
		return whitelabel.Invalid("client_secret", "client_secret is required")
	}
	if s.IdPMetadataURL != "" || s.IdPMetadataXML != "" || s.SPCertificate != "" {
		return whitelabel.Invalid("idp_metadata_url", "SAML settings do not apply to provider %s", p.kind)
	}
	if len(s.Scopes) == 0 {
		s.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	if !slices.Contains(s.Scopes, oidc.ScopeOpenID) {
		return whitelabel.Invalid("scopes", "scopes must include openid")
	}
	for _, sc := range s.Scopes {
		if sc == "" || len(sc) > 128 || strings.ContainsAny(sc, " \t\r\n\"\\") {
			return whitelabel.Invalid("scopes", "%q is not a scope", sc)
		}
	}
	if s.GroupsClaim == "" {
		s.GroupsClaim = "groups"
	}
	if _, err := p.discover(ctx, s.Issuer, true); err != nil {
		return &whitelabel.Error{Code: whitelabel.CodeInvalid, Field: "issuer",
			Message: fmt.Sprintf("OpenID discovery for %s failed: %s", s.Issuer, publicCause(err)), Err: err}
	}
	return nil
}

// publicCause shortens a discovery error for the API caller, who
// configured the URL and may see what went wrong with it.
func publicCause(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "issuer did not match") {
		return "the discovery document names a different issuer (it must match exactly, including any trailing slash)"
	}
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return msg
}

func (p *OIDC) clientCtx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, p.o.HTTPClient)
}

// discover returns the issuer's discovery document, cached for
// discoveryTTL unless fresh is set.
func (p *OIDC) discover(ctx context.Context, issuer string, fresh bool) (*oidc.Provider, error) {
	now := p.o.Now()
	if !fresh {
		p.mu.Lock()
		c, ok := p.cache[issuer]
		p.mu.Unlock()
		if ok && now.Sub(c.fetched) < discoveryTTL {
			return c.p, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	// The key set go-oidc keeps uses this context for its later fetches;
	// it must outlive this call.
	prov, err := oidc.NewProvider(p.clientCtx(context.WithoutCancel(ctx)), issuer)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.cache[issuer] = cachedProvider{p: prov, fetched: now}
	p.mu.Unlock()
	return prov, nil
}

func (p *OIDC) oauth2Config(c *Config, prov *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     c.Settings.ClientID,
		ClientSecret: c.Secrets.ClientSecret,
		Endpoint:     prov.Endpoint(),
		RedirectURL:  strings.TrimSuffix(c.BaseURL, "/") + OIDCCallbackPath,
		Scopes:       c.Settings.Scopes,
	}
}

// AuthorizationURL fills st's nonce and PKCE verifier and returns the
// provider's authorization URL (S256 challenge; hd for Google).
func (p *OIDC) AuthorizationURL(ctx context.Context, c *Config, st *whitelabel.SSOLoginState) (string, error) {
	prov, err := p.discover(ctx, c.Settings.Issuer, false)
	if err != nil {
		return "", &whitelabel.Error{Code: whitelabel.CodeUnavailable, Message: "the identity provider cannot be reached", Err: err}
	}
	st.Nonce = RandomString(24)
	st.CodeVerifier = oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(st.CodeVerifier), oidc.Nonce(st.Nonce)}
	if p.kind == whitelabel.SSOGoogleWorkspace {
		opts = append(opts, oauth2.SetAuthURLParam("hd", c.Settings.HostedDomain))
	}
	return p.oauth2Config(c, prov).AuthCodeURL(st.State, opts...), nil
}

// idClaims are the ID token claims the edge uses.
type idClaims struct {
	Email         string `json:"email"`
	EmailVerified *bool  `json:"email_verified"`
	Name          string `json:"name"`
	PreferredName string `json:"preferred_username"`
	HD            string `json:"hd"`
}

// ProcessCallback exchanges the code (with the PKCE verifier), verifies
// the ID token (signature, issuer, audience, expiry) and its nonce, and,
// for Google Workspace, the hd claim.
func (p *OIDC) ProcessCallback(ctx context.Context, c *Config, st *whitelabel.SSOLoginState, r *http.Request) (*Identity, error) {
	if st == nil {
		return nil, refused("unsolicited OpenID Connect callback")
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return nil, refusedErr(fmt.Errorf("idp error %q: %s", e, q.Get("error_description")), "the identity provider refused the sign-in (%s)", sanitize(e))
	}
	code := q.Get("code")
	if code == "" {
		return nil, refused("the callback carries no authorization code")
	}
	prov, err := p.discover(ctx, c.Settings.Issuer, false)
	if err != nil {
		return nil, &whitelabel.Error{Code: whitelabel.CodeUnavailable, Message: "the identity provider cannot be reached", Err: err}
	}
	cctx, cancel := context.WithTimeout(p.clientCtx(ctx), p.o.Timeout)
	defer cancel()
	tok, err := p.oauth2Config(c, prov).Exchange(cctx, code, oauth2.VerifierOption(st.CodeVerifier))
	if err != nil {
		return nil, refusedErr(err, "the authorization code was refused")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, refused("the identity provider returned no ID token")
	}
	idt, err := prov.Verifier(&oidc.Config{ClientID: c.Settings.ClientID, Now: p.o.Now}).Verify(cctx, raw)
	if err != nil {
		return nil, refusedErr(err, "the ID token is not valid")
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 || st.Nonce == "" {
		return nil, refused("the ID token's nonce does not match this sign-in")
	}
	var cl idClaims
	var all map[string]json.RawMessage
	if err := idt.Claims(&cl); err != nil {
		return nil, refusedErr(err, "the ID token's claims cannot be read")
	}
	if err := idt.Claims(&all); err != nil {
		return nil, refusedErr(err, "the ID token's claims cannot be read")
	}
	if p.kind == whitelabel.SSOGoogleWorkspace && !strings.EqualFold(cl.HD, c.Settings.HostedDomain) {
		return nil, refused("the Google account is not part of %s", c.Settings.HostedDomain)
	}
	id := &Identity{Subject: idt.Subject, Email: cl.Email, Name: cl.Name, IDToken: raw}
	if cl.EmailVerified != nil && !*cl.EmailVerified {
		id.Email = ""
	}
	if id.Name == "" {
		id.Name = cl.PreferredName
	}
	id.Groups = stringList(all[c.Settings.GroupsClaim])
	return id, nil
}

// LogoutURL returns the provider's end_session_endpoint with
// id_token_hint and post_logout_redirect_uri, or "" without one.
func (p *OIDC) LogoutURL(ctx context.Context, c *Config, s *whitelabel.SSOSession, postLogout string) (string, error) {
	prov, err := p.discover(ctx, c.Settings.Issuer, false)
	if err != nil {
		return "", err
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := prov.Claims(&meta); err != nil || meta.EndSession == "" {
		return "", nil
	}
	u, err := url.Parse(meta.EndSession)
	if err != nil {
		return "", nil
	}
	q := u.Query()
	if s != nil && s.IDToken != "" {
		q.Set("id_token_hint", s.IDToken)
	}
	q.Set("client_id", c.Settings.ClientID)
	q.Set("post_logout_redirect_uri", postLogout)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// stringList reads a claim that is a string or an array of strings.
func stringList(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var l []string
	if json.Unmarshal(raw, &l) == nil {
		return l
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return strings.Split(s, ",")
	}
	return nil
}

// sanitize keeps an IdP-sent error code printable and short.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, s)
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}
