package control

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/idp"
)

// ssoValidateTimeout bounds the validation of a configuration on save
// (OIDC discovery, SAML metadata fetch).
const ssoValidateTimeout = 15 * time.Second

// maskPrefix starts every masked secret in responses. A PUT that sends
// a masked value back keeps the stored secret.
const maskPrefix = "••••"

// ssoPut is the body of PUT /tenants/{id}/sso/{provider}: the
// provider's settings, its secrets and the access policy, flat.
type ssoPut struct {
	Name string `json:"name"`
	whitelabel.SSOSettings
	ClientSecret        string   `json:"client_secret"`
	SPPrivateKey        string   `json:"sp_private_key"`
	ProtectedPaths      []string `json:"protected_paths"`
	PublicPaths         []string `json:"public_paths"`
	AllowedEmailDomains []string `json:"allowed_email_domains"`
	AllowedGroups       []string `json:"allowed_groups"`
	AllowIdPInitiated   bool     `json:"allow_idp_initiated"`
}

// ssoView is an SSO configuration as the API shows it: secrets masked.
type ssoView struct {
	Provider whitelabel.SSOProviderKind `json:"provider"`
	Name     string                     `json:"name"`
	// The settings; tenant_id among them is Azure AD's directory id.
	whitelabel.SSOSettings
	ClientSecret        string    `json:"client_secret,omitempty"` // masked: ••••abcd
	SPPrivateKeySet     bool      `json:"sp_private_key_set,omitempty"`
	ProtectedPaths      []string  `json:"protected_paths"`
	PublicPaths         []string  `json:"public_paths"`
	AllowedEmailDomains []string  `json:"allowed_email_domains"`
	AllowedGroups       []string  `json:"allowed_groups"`
	AllowIdPInitiated   bool      `json:"allow_idp_initiated"`
	CallbackURL         string    `json:"callback_url,omitempty"`    // register with the IdP (per host)
	SPMetadataURL       string    `json:"sp_metadata_url,omitempty"` // saml
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

func mask(secret string) string {
	if secret == "" {
		return ""
	}
	if len(secret) < 12 {
		return maskPrefix
	}
	return maskPrefix + secret[len(secret)-4:]
}

// tenantOrigin is the origin of a tenant's platform subdomain.
func (s *Server) tenantOrigin(t *whitelabel.Tenant) string {
	base := s.cfg.BaseDomain
	if base == "" {
		base = "localhost"
	}
	return "https://" + t.Subdomain + "." + base
}

func (s *Server) ssoViewOf(t *whitelabel.Tenant, c *whitelabel.SSOConfig) ssoView {
	v := ssoView{
		Provider: c.Provider, Name: c.Name, SSOSettings: c.Settings,
		ProtectedPaths: c.ProtectedPaths, PublicPaths: c.PublicPaths,
		AllowedEmailDomains: c.AllowedEmailDomains, AllowedGroups: c.AllowedGroups,
		AllowIdPInitiated: c.AllowIdPInitiated, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	v.IdPMetadataXML = "" // large; the URL or the fact that it is set is enough
	if s.sealer != nil {
		if sec, err := s.sealer.OpenSSOSecrets(c); err == nil {
			v.ClientSecret = mask(sec.ClientSecret)
			v.SPPrivateKeySet = sec.SPPrivateKey != ""
		} else {
			v.ClientSecret = maskPrefix // sealed with a key this instance no longer has
		}
	} else if len(c.SealedSecrets) > 0 {
		v.ClientSecret = maskPrefix
	}
	if p, ok := s.providers.Lookup(c.Provider); ok {
		v.CallbackURL = s.tenantOrigin(t) + idp.CallbackPath(p)
	}
	if c.Provider == whitelabel.SSOSAML {
		v.SPMetadataURL = s.tenantOrigin(t) + idp.SAMLMetadataPath
	}
	return v
}

// ssoStoreOrErr returns the SSO store, or a 503 when there is none.
func (s *Server) ssoStoreOrErr() (whitelabel.SSOConfigStore, error) {
	if s.ssoStore == nil {
		return nil, whitelabel.Errorf(whitelabel.CodeUnavailable, "", "SSO is not supported by this store")
	}
	return s.ssoStore, nil
}

// ssoProvider returns the {provider} path value's provider.
func (s *Server) ssoProvider(r *http.Request) (whitelabel.SSOProviderKind, idp.Provider, error) {
	kind := whitelabel.SSOProviderKind(r.PathValue("provider"))
	p, ok := s.providers.Lookup(kind)
	if !ok {
		var names []string
		for _, k := range s.providers.Kinds() {
			names = append(names, string(k))
		}
		return kind, nil, whitelabel.Invalid("provider", "unknown SSO provider %q (want one of %s)", kind, strings.Join(names, ", "))
	}
	return kind, p, nil
}

func (s *Server) listSSO(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	st, err := s.ssoStoreOrErr()
	if err != nil {
		return err
	}
	list, err := st.ListSSOConfigs(r.Context(), t.ID)
	if err != nil {
		return err
	}
	out := make([]ssoView, 0, len(list))
	for _, c := range list {
		out = append(out, s.ssoViewOf(t, c))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"providers": out})
}

func (s *Server) getSSO(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	st, err := s.ssoStoreOrErr()
	if err != nil {
		return err
	}
	kind, _, err := s.ssoProvider(r)
	if err != nil {
		return err
	}
	c, err := st.GetSSOConfig(r.Context(), t.ID, kind)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.ssoViewOf(t, c))
}

// validateList checks a list of short names (e-mail domains, groups).
func validateList(field string, l []string, domains bool) error {
	if len(l) > 100 {
		return whitelabel.Invalid(field, "at most 100 entries")
	}
	for _, v := range l {
		if v == "" || len(v) > 256 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return whitelabel.Invalid(field, "%q is not a valid entry", v)
		}
		if domains && (strings.ContainsAny(v, "@/ :") || !strings.Contains(v, ".")) {
			return whitelabel.Invalid(field, "%q is not an e-mail domain like acme.com", v)
		}
	}
	return nil
}

func (s *Server) putSSO(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs) // first: another partner's tenant is 404
	if err != nil {
		return err
	}
	st, err := s.ssoStoreOrErr()
	if err != nil {
		return err
	}
	if s.sealer == nil {
		return whitelabel.Errorf(whitelabel.CodeUnavailable, "", "SSO secrets cannot be stored: SECRET_KEY is not configured on the control plane")
	}
	if err := refuseDeactivated(t); err != nil {
		return err
	}
	kind, p, err := s.ssoProvider(r)
	if err != nil {
		return err
	}
	var body ssoPut
	if err := s.decodeJSON(w, r, &body); err != nil {
		return err
	}
	if len(body.Name) > 100 || strings.ContainsFunc(body.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return whitelabel.Invalid("name", "name must be at most 100 printable characters")
	}
	if err := whitelabel.ValidatePathPrefixes("protected_paths", body.ProtectedPaths); err != nil {
		return err
	}
	if err := whitelabel.ValidatePathPrefixes("public_paths", body.PublicPaths); err != nil {
		return err
	}
	if err := validateList("allowed_email_domains", body.AllowedEmailDomains, true); err != nil {
		return err
	}
	if err := validateList("allowed_groups", body.AllowedGroups, false); err != nil {
		return err
	}
	for i, d := range body.AllowedEmailDomains {
		body.AllowedEmailDomains[i] = strings.ToLower(d)
	}

	var old *whitelabel.SSOConfig
	var oldSec whitelabel.SSOSecrets
	if o, err := st.GetSSOConfig(r.Context(), t.ID, kind); err == nil {
		old = o
		if oldSec, err = s.sealer.OpenSSOSecrets(o); err != nil {
			oldSec = whitelabel.SSOSecrets{} // unknown key: the caller must send the secrets again
		}
	} else if whitelabel.ErrorCodeOf(err) != whitelabel.CodeNotFound {
		return err
	}
	sec := whitelabel.SSOSecrets{ClientSecret: body.ClientSecret, SPPrivateKey: body.SPPrivateKey}
	if sec.ClientSecret == "" || strings.HasPrefix(sec.ClientSecret, maskPrefix) {
		sec.ClientSecret = oldSec.ClientSecret
	}
	settings := body.SSOSettings
	if sec.SPPrivateKey == "" && oldSec.SPPrivateKey != "" {
		// Keep the SP key pair, which the IdP has registered.
		sec.SPPrivateKey = oldSec.SPPrivateKey
		if settings.SPCertificate == "" && old != nil {
			settings.SPCertificate = old.Settings.SPCertificate
		}
	}
	c := &whitelabel.SSOConfig{
		TenantID: t.ID, Provider: kind, Name: body.Name, Settings: settings,
		ProtectedPaths: body.ProtectedPaths, PublicPaths: body.PublicPaths,
		AllowedEmailDomains: body.AllowedEmailDomains, AllowedGroups: body.AllowedGroups,
		AllowIdPInitiated: body.AllowIdPInitiated,
	}
	if c.AllowIdPInitiated && kind != whitelabel.SSOSAML {
		return whitelabel.Invalid("allow_idp_initiated", "IdP-initiated sign-in applies to SAML only")
	}
	if c.Name == "" {
		c.Name = idp.DefaultName(kind)
	}
	ic := &idp.Config{SSOConfig: *c, Secrets: sec, BaseURL: s.tenantOrigin(t)}
	vctx, cancel := context.WithTimeout(r.Context(), ssoValidateTimeout)
	err = p.ValidateConfig(vctx, ic)
	cancel()
	if err != nil {
		if whitelabel.ErrorCodeOf(err) == whitelabel.CodeInternal {
			return &whitelabel.Error{Code: whitelabel.CodeInvalid, Field: "provider", Message: "the configuration could not be validated", Err: err}
		}
		return err
	}
	c.Settings = ic.Settings
	if err := s.sealer.SealSSOSecrets(c, ic.Secrets); err != nil {
		return fmt.Errorf("seal sso secrets: %w", err)
	}
	audit := rs.auditEntry("sso.put", t)
	audit.TargetType, audit.TargetID = "sso", fmt.Sprintf("%d/%s", t.ID, kind)
	if old != nil {
		audit.Before = mustJSON(s.ssoViewOf(t, old))
	}
	after := s.ssoViewOf(t, c)
	audit.After = mustJSON(after)
	if err := st.PutSSOConfig(r.Context(), c, audit); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.ssoViewOf(t, c))
}

func (s *Server) deleteSSO(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	st, err := s.ssoStoreOrErr()
	if err != nil {
		return err
	}
	kind, _, err := s.ssoProvider(r)
	if err != nil {
		return err
	}
	old, err := st.GetSSOConfig(r.Context(), t.ID, kind)
	if err != nil {
		return err
	}
	audit := rs.auditEntry("sso.delete", t)
	audit.TargetType, audit.TargetID = "sso", fmt.Sprintf("%d/%s", t.ID, kind)
	audit.Before = mustJSON(s.ssoViewOf(t, old))
	if err := st.DeleteSSOConfig(r.Context(), t.ID, kind, audit); err != nil {
		return err
	}
	return s.listSSO(w, r, rs)
}

// testSSO answers POST …/sso/{provider}/test with the URL a login would
// start at (the reference's initiate_sso_login), without storing a login.
func (s *Server) testSSO(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	st, err := s.ssoStoreOrErr()
	if err != nil {
		return err
	}
	if s.sealer == nil {
		return whitelabel.Errorf(whitelabel.CodeUnavailable, "", "SSO is unavailable: SECRET_KEY is not configured on the control plane")
	}
	kind, p, err := s.ssoProvider(r)
	if err != nil {
		return err
	}
	c, err := st.GetSSOConfig(r.Context(), t.ID, kind)
	if err != nil {
		return err
	}
	sec, err := s.sealer.OpenSSOSecrets(c)
	if err != nil {
		return whitelabel.Errorf(whitelabel.CodeConflict, "", "the stored secrets were sealed with another SECRET_KEY; PUT the configuration again")
	}
	origin := s.tenantOrigin(t)
	ls := &whitelabel.SSOLoginState{State: idp.RandomString(32), TenantID: t.ID, Provider: kind, ReturnTo: "/"}
	ctx, cancel := context.WithTimeout(r.Context(), ssoValidateTimeout)
	defer cancel()
	u, err := p.AuthorizationURL(ctx, &idp.Config{SSOConfig: *c, Secrets: sec, BaseURL: origin}, ls)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{
		"provider":       string(kind),
		"login_url":      u,
		"edge_login_url": origin + "/_edge/login?provider=" + url.QueryEscape(string(kind)),
		"callback_url":   origin + idp.CallbackPath(p),
	})
}

// jwks publishes the public keys that verify X-Edge-Assertion.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	w.Header().Set("Cache-Control", "public, max-age=300")
	if s.sealer == nil {
		return writeJSON(w, http.StatusOK, map[string]any{"keys": []any{}})
	}
	return writeJSON(w, http.StatusOK, s.sealer.JWKS())
}

// ssoSchemas are the OpenAPI component schemas of the SSO routes.
const ssoSchemas = `{
  "SSOConfigPut": {"type": "object", "additionalProperties": false, "description": "Settings per provider: oidc takes issuer, client_id, client_secret, scopes; azure_ad tenant_id, client_id, client_secret; google_workspace hosted_domain, client_id, client_secret; okta domain (and authorization_server), client_id, client_secret; onelogin domain, client_id, client_secret; saml idp_metadata_url or idp_metadata_xml (and optionally sp_private_key with sp_certificate). Omitted or masked secrets keep the stored ones.",
    "properties": {
      "name": {"type": "string", "maxLength": 100},
      "issuer": {"type": "string"}, "client_id": {"type": "string"}, "client_secret": {"type": "string", "writeOnly": true},
      "scopes": {"type": "array", "items": {"type": "string"}},
      "tenant_id": {"type": "string"}, "hosted_domain": {"type": "string"}, "domain": {"type": "string"}, "authorization_server": {"type": "string"},
      "groups_claim": {"type": "string"},
      "idp_metadata_url": {"type": "string"}, "idp_metadata_xml": {"type": "string"},
      "sp_private_key": {"type": "string", "writeOnly": true}, "sp_certificate": {"type": "string"},
      "email_attribute": {"type": "string"}, "groups_attribute": {"type": "string"},
      "protected_paths": {"type": "array", "items": {"type": "string"}}, "public_paths": {"type": "array", "items": {"type": "string"}},
      "allowed_email_domains": {"type": "array", "items": {"type": "string"}}, "allowed_groups": {"type": "array", "items": {"type": "string"}},
      "allow_idp_initiated": {"type": "boolean"}
    }},
  "SSOConfig": {"type": "object", "required": ["provider", "name"],
    "properties": {
      "provider": {"type": "string"}, "name": {"type": "string"},
      "issuer": {"type": "string"}, "client_id": {"type": "string"}, "client_secret": {"type": "string", "description": "masked"},
      "scopes": {"type": "array", "items": {"type": "string"}},
      "tenant_id": {"type": "string", "description": "azure_ad directory id"}, "hosted_domain": {"type": "string"}, "domain": {"type": "string"}, "authorization_server": {"type": "string"},
      "groups_claim": {"type": "string"}, "idp_metadata_url": {"type": "string"}, "sp_certificate": {"type": "string"},
      "sp_private_key_set": {"type": "boolean"},
      "protected_paths": {"type": "array", "items": {"type": "string"}}, "public_paths": {"type": "array", "items": {"type": "string"}},
      "allowed_email_domains": {"type": "array", "items": {"type": "string"}}, "allowed_groups": {"type": "array", "items": {"type": "string"}},
      "allow_idp_initiated": {"type": "boolean"}, "callback_url": {"type": "string"}, "sp_metadata_url": {"type": "string"},
      "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}
    }},
  "SSOList": {"type": "object", "required": ["providers"], "properties": {"providers": {"type": "array", "items": {"$ref": "#/components/schemas/SSOConfig"}}}},
  "SSOTest": {"type": "object", "required": ["provider", "login_url"], "properties": {"provider": {"type": "string"}, "login_url": {"type": "string"}, "edge_login_url": {"type": "string"}, "callback_url": {"type": "string"}}},
  "JWKS": {"type": "object", "required": ["keys"], "properties": {"keys": {"type": "array", "items": {"type": "object"}}}}
}`
