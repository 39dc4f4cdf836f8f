package idp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/estatecore/whitelabel"
)

// SAML is the SAML 2.0 provider: one service provider per tenant host
// (metadata at SAMLMetadataPath, ACS at SAMLACSPath), SP-initiated with
// the HTTP-Redirect binding, responses by HTTP-POST, signed assertions
// required (a signed Response around an unsigned Assertion is refused). IdP-initiated responses are refused unless the
// configuration allows them.
type SAML struct {
	o Options
}

var (
	_ Provider         = (*SAML)(nil)
	_ MetadataProvider = (*SAML)(nil)
)

// NewSAML returns the SAML provider.
func NewSAML(o Options) *SAML { return &SAML{o: o.withDefaults()} }

// CallbackPath is SAMLACSPath.
func (p *SAML) CallbackPath() string { return SAMLACSPath }

// maxMetadata bounds IdP metadata, fetched or given.
const maxMetadata = 1 << 20

// ValidateConfig loads the IdP metadata (from idp_metadata_xml, or
// fetched from idp_metadata_url and then kept in idp_metadata_xml so the
// edge never fetches it), requires an SSO endpoint and a signing
// certificate in it, and makes the SP key and certificate when none is
// given.
func (p *SAML) ValidateConfig(ctx context.Context, c *Config) error {
	s := &c.Settings
	if s.Issuer != "" || s.ClientID != "" || c.Secrets.ClientSecret != "" {
		return whitelabel.Invalid("issuer", "OpenID Connect settings do not apply to provider saml")
	}
	if s.IdPMetadataURL != "" {
		u, err := checkURL("idp_metadata_url", s.IdPMetadataURL, p.o)
		if err != nil {
			return err
		}
		if s.IdPMetadataXML == "" {
			b, err := p.fetch(ctx, u)
			if err != nil {
				return &whitelabel.Error{Code: whitelabel.CodeInvalid, Field: "idp_metadata_url",
					Message: "the IdP metadata could not be fetched: " + publicCause(err), Err: err}
			}
			s.IdPMetadataXML = string(b)
		}
	}
	if s.IdPMetadataXML == "" {
		return whitelabel.Invalid("idp_metadata_url", "idp_metadata_url or idp_metadata_xml is required")
	}
	if len(s.IdPMetadataXML) > maxMetadata {
		return whitelabel.Invalid("idp_metadata_xml", "IdP metadata exceeds %d bytes", maxMetadata)
	}
	if _, err := parseIdPMetadata(s.IdPMetadataXML); err != nil {
		return err
	}
	key, cert, err := spKeyPair(c)
	if err != nil {
		return err
	}
	if c.Secrets.SPPrivateKey == "" {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		c.Secrets.SPPrivateKey = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}
	s.SPCertificate = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	if s.GroupsAttribute == "" {
		s.GroupsAttribute = "groups"
	}
	return nil
}

func (p *SAML) fetch(ctx context.Context, u *url.URL) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	res, err := p.o.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u.Redacted(), res.Status)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, maxMetadata+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxMetadata {
		return nil, fmt.Errorf("metadata exceeds %d bytes", maxMetadata)
	}
	return b, nil
}

// parseIdPMetadata parses IdP metadata and checks that it has an SSO
// endpoint and a signing certificate.
func parseIdPMetadata(raw string) (*saml.EntityDescriptor, error) {
	md, err := samlsp.ParseMetadata([]byte(raw))
	if err != nil {
		return nil, &whitelabel.Error{Code: whitelabel.CodeInvalid, Field: "idp_metadata_xml", Message: "the IdP metadata is not valid SAML metadata", Err: err}
	}
	if len(md.IDPSSODescriptors) == 0 {
		return nil, whitelabel.Invalid("idp_metadata_xml", "the metadata describes no identity provider (IDPSSODescriptor)")
	}
	hasSSO, hasCert := false, false
	for _, d := range md.IDPSSODescriptors {
		for _, e := range d.SingleSignOnServices {
			if e.Binding == saml.HTTPRedirectBinding || e.Binding == saml.HTTPPostBinding {
				hasSSO = true
			}
		}
		for _, kd := range d.KeyDescriptors {
			if (kd.Use == "" || kd.Use == "signing") && len(kd.KeyInfo.X509Data.X509Certificates) > 0 {
				hasCert = true
			}
		}
	}
	if !hasSSO {
		return nil, whitelabel.Invalid("idp_metadata_xml", "the IdP metadata has no HTTP-Redirect or HTTP-POST SingleSignOnService")
	}
	if !hasCert {
		return nil, whitelabel.Invalid("idp_metadata_xml", "the IdP metadata has no signing certificate: assertions could not be verified")
	}
	return md, nil
}

// spKeyPair returns the SP's key and certificate: parsed from the
// configuration, or a new RSA-2048 key with a ten-year self-signed
// certificate when none is configured.
func spKeyPair(c *Config) (crypto.Signer, *x509.Certificate, error) {
	var key crypto.Signer
	if c.Secrets.SPPrivateKey == "" {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, err
		}
		key = k
	} else {
		k, err := parseKey(c.Secrets.SPPrivateKey)
		if err != nil {
			return nil, nil, err
		}
		key = k
	}
	if c.Settings.SPCertificate != "" {
		cert, err := parseCert(c.Settings.SPCertificate)
		if err == nil && publicKeysEqual(cert.PublicKey, key.Public()) {
			return key, cert, nil
		}
		if c.Secrets.SPPrivateKey != "" && err != nil {
			return nil, nil, whitelabel.Invalid("sp_certificate", "sp_certificate is not a PEM certificate")
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: fmt.Sprintf("whitelabel tenant %d SAML SP", c.TenantID)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("make SP certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

func parseKey(p string) (crypto.Signer, error) {
	bad := whitelabel.Invalid("sp_private_key", "sp_private_key is not a PEM RSA or PKCS#8 private key")
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		return nil, bad
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	return nil, bad
}

func parseCert(p string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(p))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

// serviceProvider builds the tenant host's SP from c.
func (p *SAML) serviceProvider(c *Config) (*saml.ServiceProvider, error) {
	md, err := parseIdPMetadata(c.Settings.IdPMetadataXML)
	if err != nil {
		return nil, err
	}
	key, err := parseKey(c.Secrets.SPPrivateKey)
	if err != nil {
		return nil, err
	}
	cert, err := parseCert(c.Settings.SPCertificate)
	if err != nil {
		return nil, fmt.Errorf("sp certificate: %w", err)
	}
	base, err := url.Parse(strings.TrimSuffix(c.BaseURL, "/"))
	if err != nil {
		return nil, err
	}
	mdURL, acsURL := *base, *base
	mdURL.Path, acsURL.Path = SAMLMetadataPath, SAMLACSPath
	return &saml.ServiceProvider{
		EntityID:          mdURL.String(),
		Key:               key,
		Certificate:       cert,
		HTTPClient:        p.o.HTTPClient,
		MetadataURL:       mdURL,
		AcsURL:            acsURL,
		IDPMetadata:       md,
		AllowIDPInitiated: c.AllowIdPInitiated,
	}, nil
}

// Metadata returns the SP metadata for the tenant host, to register with
// the IdP.
func (p *SAML) Metadata(ctx context.Context, c *Config) ([]byte, error) {
	sp, err := p.serviceProvider(c)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(sp.Metadata()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// AuthorizationURL makes an AuthnRequest (its ID kept in st.RequestID)
// and returns the IdP's HTTP-Redirect URL with st.State as RelayState.
func (p *SAML) AuthorizationURL(ctx context.Context, c *Config, st *whitelabel.SSOLoginState) (string, error) {
	sp, err := p.serviceProvider(c)
	if err != nil {
		return "", err
	}
	loc := sp.GetSSOBindingLocation(saml.HTTPRedirectBinding)
	if loc == "" {
		return "", whitelabel.Errorf(whitelabel.CodeUnavailable, "", "the IdP offers no HTTP-Redirect sign-on endpoint")
	}
	req, err := sp.MakeAuthenticationRequest(loc, saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		return "", fmt.Errorf("make AuthnRequest: %w", err)
	}
	st.RequestID = req.ID
	u, err := req.Redirect(st.State, sp)
	if err != nil {
		return "", fmt.Errorf("make AuthnRequest: %w", err)
	}
	return u.String(), nil
}

// ProcessCallback verifies the posted SAMLResponse: the Assertion's own
// signature by the IdP's certificate (a signed Response is not enough), audience, destination, validity window and, for an
// SP-initiated login, InResponseTo. The response itself never reaches a
// log: only the private cause crewjam/saml found.
func (p *SAML) ProcessCallback(ctx context.Context, c *Config, st *whitelabel.SSOLoginState, r *http.Request) (*Identity, error) {
	sp, err := p.serviceProvider(c)
	if err != nil {
		return nil, err
	}
	var ids []string
	if st != nil {
		ids = []string{st.RequestID}
	} else if !c.AllowIdPInitiated {
		return nil, refused("unsolicited SAML responses are not accepted")
	}
	a, err := sp.ParseResponse(r, ids)
	if err != nil {
		return nil, refusedErr(ScrubSAML(err), "the SAML response was refused")
	}
	// crewjam/saml accepts an unsigned Assertion inside a signed
	// Response. We require the Assertion's own signature: crewjam
	// verifies a Signature an Assertion carries (refusing a bad one even
	// in a signed Response) and returns it in a.Signature, so a nil one
	// means the IdP did not sign the Assertion.
	if a.Signature == nil {
		return nil, refused("the SAML assertion is not signed; configure the IdP to sign assertions")
	}
	id := &Identity{}
	if a.Subject != nil && a.Subject.NameID != nil {
		id.Subject = a.Subject.NameID.Value
		if a.Subject.NameID.Format == string(saml.EmailAddressNameIDFormat) {
			id.Email = a.Subject.NameID.Value
		}
	}
	emailAttr := c.Settings.EmailAttribute
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			vals := make([]string, 0, len(at.Values))
			for _, v := range at.Values {
				vals = append(vals, v.Value)
			}
			if len(vals) == 0 {
				continue
			}
			name := at.Name
			switch {
			case emailAttr != "" && (name == emailAttr || at.FriendlyName == emailAttr):
				id.Email = vals[0]
			case emailAttr == "" && id.Email == "" && (name == "email" || name == "mail" || at.FriendlyName == "mail" ||
				name == "urn:oid:0.9.2342.19200300.100.1.3" || name == "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"):
				id.Email = vals[0]
			case name == c.Settings.GroupsAttribute || at.FriendlyName == c.Settings.GroupsAttribute ||
				name == "eduPersonAffiliation" || at.FriendlyName == "eduPersonAffiliation":
				id.Groups = append(id.Groups, vals...)
			case name == "cn" || at.FriendlyName == "cn" || name == "displayName" || name == "uid":
				if id.Name == "" {
					id.Name = vals[0]
				}
			}
		}
	}
	if id.Subject == "" {
		return nil, refused("the SAML assertion names no subject")
	}
	return id, nil
}

// ScrubSAML returns err with any SAMLResponse it carries removed:
// crewjam/saml's InvalidResponseError holds the whole response (with the
// user's attributes), which must not reach logs. Only its private cause
// is kept.
func ScrubSAML(err error) error {
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) {
		if ire.PrivateErr != nil {
			return fmt.Errorf("invalid SAML response: %w", ire.PrivateErr)
		}
		return errors.New("invalid SAML response")
	}
	return err
}
