package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"strings"

	"golang.org/x/net/idna"

	"github.com/estatecore/whitelabel"
)

// Custom domain proof: a TXT record at ChallengePrefix+"."+domain holding
// the domain's verification token, a CNAME to the tenant's hostname, or
// the token served at ChallengePath+token over plain HTTP.
const (
	ChallengePrefix = "_whitelabel-challenge"
	ChallengePath   = "/.well-known/whitelabel-challenge/"
)

// domainView is a custom domain as the API shows it: the stored fields,
// its Unicode form, and what the tenant must publish to prove control.
type domainView struct {
	*whitelabel.TenantDomain
	UnicodeDomain string             `json:"unicode_domain"`
	Instructions  domainInstructions `json:"instructions"`
}

// domainInstructions says how to prove control of a domain; any one of
// the three proofs is enough.
type domainInstructions struct {
	TXT   txtInstruction   `json:"txt"`
	CNAME cnameInstruction `json:"cname"`
	HTTP  httpInstruction  `json:"http"`
}

type txtInstruction struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cnameInstruction struct {
	Name   string `json:"name"`
	Target string `json:"target"`
}

type httpInstruction struct {
	URL  string `json:"url"`
	Body string `json:"body"`
}

func (s *Server) domainView(t *whitelabel.Tenant, d *whitelabel.TenantDomain) *domainView {
	u, err := idna.Display.ToUnicode(d.Domain)
	if err != nil {
		u = d.Domain
	}
	v := &domainView{TenantDomain: d, UnicodeDomain: u}
	v.Instructions.TXT = txtInstruction{Name: ChallengePrefix + "." + d.Domain, Value: d.VerificationToken}
	v.Instructions.CNAME = cnameInstruction{Name: d.Domain, Target: s.tenantHostname(t)}
	v.Instructions.HTTP = httpInstruction{URL: "http://" + d.Domain + ChallengePath + d.VerificationToken, Body: d.VerificationToken}
	return v
}

// tenantHostname is the name a custom domain's CNAME points at.
func (s *Server) tenantHostname(t *whitelabel.Tenant) string {
	if s.cfg.BaseDomain == "" {
		return t.Subdomain
	}
	return t.Subdomain + "." + s.cfg.BaseDomain
}

// domainIDNA maps user input like "Bücher.Example" to its lookup form;
// checkHostname then applies the stricter rules a registered name needs.
var domainIDNA = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.ValidateLabels(true),
	idna.StrictDomainName(true), idna.VerifyDNSLength(true), idna.Transitional(false))

// NormalizeDomain turns a custom domain as a partner typed it into the
// stored form (lower-case ASCII, punycode for IDNs, no trailing dot), or
// returns a CodeInvalid error for field "domain" saying what is wrong: not
// a host name, an IP address, a wildcard, too long, a single label, or
// baseDomain or a name under it (tenants already have their subdomain).
func NormalizeDomain(raw, baseDomain string) (string, error) {
	invalid := func(format string, args ...any) error { return whitelabel.Invalid("domain", format, args...) }
	h := strings.TrimSpace(raw)
	switch {
	case h == "":
		return "", invalid("domain is required")
	case strings.Contains(h, "*"):
		return "", invalid("wildcard domains are not supported; add each host name")
	case strings.Contains(h, "://") || strings.ContainsAny(h, "/?#@"):
		return "", invalid("give a bare host name such as properties.example.com, without scheme or path")
	case strings.HasPrefix(h, "[") || net.ParseIP(h) != nil:
		return "", invalid("an IP address cannot be a custom domain")
	case strings.Contains(h, ":"):
		return "", invalid("give a host name without a port")
	}
	h = strings.TrimSuffix(h, ".")
	a, err := domainIDNA.ToASCII(h)
	if err != nil {
		return "", invalid("%q is not a valid host name: %s", raw, strings.TrimPrefix(err.Error(), "idna: "))
	}
	a = strings.ToLower(a)
	if err := checkHostname(a); err != nil {
		return "", invalid("%q is not a valid host name: %s", raw, err.Error())
	}
	if net.ParseIP(a) != nil {
		return "", invalid("an IP address cannot be a custom domain")
	}
	base := strings.TrimSuffix(strings.ToLower(baseDomain), ".")
	if base != "" && (a == base || strings.HasSuffix(a, "."+base)) {
		return "", invalid("%s is the platform's own domain; tenants already have <subdomain>.%s", a, base)
	}
	return a, nil
}

// hostError is a reason a name is not a host name.
type hostError string

func (e hostError) Error() string { return string(e) }

// checkHostname checks an ASCII name: at most 253 characters, at least
// two labels of 1–63 letters, digits and inner hyphens, and a top-level
// label that is not all digits.
func checkHostname(a string) error {
	if len(a) > 253 {
		return hostError("longer than 253 characters")
	}
	labels := strings.Split(a, ".")
	if len(labels) < 2 {
		return hostError("a custom domain needs at least two labels, like example.com")
	}
	for _, l := range labels {
		if l == "" {
			return hostError("empty label")
		}
		if len(l) > 63 {
			return hostError("label longer than 63 characters")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return hostError("label starts or ends with a hyphen")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return hostError("labels may hold only letters, digits and hyphens")
			}
		}
	}
	tld := labels[len(labels)-1]
	if strings.Trim(tld, "0123456789") == "" {
		return hostError("the top-level label cannot be all digits")
	}
	return nil
}

// newVerificationToken returns a fresh random token.
func newVerificationToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "wl-" + hex.EncodeToString(b)
}

// domainAudit starts the audit entry of a domain mutation.
func domainAudit(actor, action string, t *whitelabel.Tenant, domain string) *whitelabel.AuditEntry {
	return &whitelabel.AuditEntry{
		Actor:      actor,
		Action:     action,
		TargetType: "domain",
		TargetID:   domain,
		PartnerID:  t.PartnerID,
		TenantID:   t.ID,
	}
}

func (rs *reqState) domainAudit(action string, t *whitelabel.Tenant, domain string) *whitelabel.AuditEntry {
	e := domainAudit(rs.actor(), action, t, domain)
	e.RequestID, e.ClientAddr = rs.requestID, rs.clientAddr
	return e
}

func (s *Server) createDomain(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs) // first: another partner's tenant is 404 whatever the body
	if err != nil {
		return err
	}
	var req struct {
		Domain string `json:"domain"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	name, err := NormalizeDomain(req.Domain, s.cfg.BaseDomain)
	if err != nil {
		return err
	}
	if t.Status == whitelabel.StatusDeactivated {
		return whitelabel.Errorf(whitelabel.CodeConflict, "status", "tenant is deactivated and can no longer be changed")
	}
	if f, ok := s.plans.EffectiveFlags(t)[whitelabel.QuotaCustomDomains]; ok && f.Value == false {
		return whitelabel.Errorf(whitelabel.CodeForbidden, "domain", "the custom_domains feature is not enabled for this tenant")
	}
	existing, err := s.store.ListDomains(r.Context(), t.ID)
	if err != nil {
		return err
	}
	if q, ok := s.plans.EffectiveQuotas(t)[whitelabel.QuotaCustomDomains]; ok && int64(len(existing)) >= q.Limit {
		return whitelabel.Errorf(whitelabel.CodeQuotaExceeded, "domain", "the tenant has %d of %d custom domains allowed by its custom_domains quota", len(existing), q.Limit)
	}
	d := &whitelabel.TenantDomain{
		TenantID:          t.ID,
		Domain:            name,
		Status:            whitelabel.DomainPending,
		VerificationToken: newVerificationToken(),
	}
	audit := rs.domainAudit(whitelabel.AuditDomainCreate, t, name)
	audit.After = mustJSON(d)
	if err := s.store.CreateDomain(r.Context(), d, audit); err != nil {
		return err
	}
	s.nudgeVerifier()
	w.Header().Set("Location", tenantLocation(t.ID)+"/domains/"+name)
	return writeJSON(w, http.StatusCreated, s.domainView(t, d))
}

func (s *Server) listDomains(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	ds, err := s.store.ListDomains(r.Context(), t.ID)
	if err != nil {
		return err
	}
	resp := struct {
		Domains []*domainView `json:"domains"`
	}{Domains: []*domainView{}}
	for _, d := range ds {
		resp.Domains = append(resp.Domains, s.domainView(t, d))
	}
	return writeJSON(w, http.StatusOK, resp)
}

// loadDomain returns the tenant at {id} and its domain {domain}, if the
// caller may see the tenant. A domain of another tenant is not found.
func (s *Server) loadDomain(ctx context.Context, r *http.Request, rs *reqState) (*whitelabel.Tenant, *whitelabel.TenantDomain, error) {
	t, err := s.loadTenant(ctx, r, rs)
	if err != nil {
		return nil, nil, err
	}
	name, err := NormalizeDomain(r.PathValue("domain"), "")
	if err != nil {
		return nil, nil, whitelabel.NotFound("domain")
	}
	d, err := s.store.GetDomain(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	if d.TenantID != t.ID {
		return nil, nil, whitelabel.NotFound("domain")
	}
	return t, d, nil
}

func (s *Server) getDomain(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, d, err := s.loadDomain(r.Context(), r, rs)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.domainView(t, d))
}

// verifyDomain checks the domain now and applies the result: a pending,
// failed or moved domain whose proof is found turns verified; an active
// one stays active. The response is the domain after the check, with the
// reason in last_check_error when the proof was not found.
func (s *Server) verifyDomain(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, d, err := s.loadDomain(r.Context(), r, rs)
	if err != nil {
		return err
	}
	if s.verifier == nil {
		return whitelabel.Errorf(whitelabel.CodeUnavailable, "", "domain verification is not available with this store")
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Verify.Timeout)
	defer cancel()
	d, err = s.verifier.checkNow(ctx, t, d, rs.domainAudit("", t, d.Domain))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.domainView(t, d))
}

func (s *Server) deleteDomain(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, d, err := s.loadDomain(r.Context(), r, rs)
	if err != nil {
		return err
	}
	audit := rs.domainAudit(whitelabel.AuditDomainDelete, t, d.Domain)
	audit.Before = mustJSON(d)
	if err := s.store.DeleteDomain(r.Context(), t.ID, d.Domain, audit); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// domainSchemas are the OpenAPI component schemas of the domain routes.
const domainSchemas = `{
  "DomainCreate": {"type": "object", "required": ["domain"], "additionalProperties": false,
    "properties": {"domain": {"type": "string", "maxLength": 253, "description": "a host name such as properties.acme.com; Unicode names are stored in punycode"}}},
  "DomainStatus": {"type": "string", "enum": ["pending", "verified", "active", "failed", "moved"]},
  "Domain": {"type": "object", "required": ["id", "tenant_id", "domain", "status", "verification_token", "instructions"],
    "properties": {
      "id": {"type": "integer"}, "tenant_id": {"type": "integer"},
      "domain": {"type": "string"}, "unicode_domain": {"type": "string"},
      "status": {"$ref": "#/components/schemas/DomainStatus"},
      "verification_token": {"type": "string"},
      "verified_at": {"type": "string", "format": "date-time"},
      "last_checked_at": {"type": "string", "format": "date-time"},
      "last_check_error": {"type": "string"},
      "certificate_issuer": {"type": "string"},
      "certificate_not_before": {"type": "string", "format": "date-time"},
      "certificate_not_after": {"type": "string", "format": "date-time"},
      "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"},
      "instructions": {"type": "object", "description": "publish any one of these to prove control",
        "properties": {
          "txt": {"type": "object", "properties": {"name": {"type": "string"}, "value": {"type": "string"}}},
          "cname": {"type": "object", "properties": {"name": {"type": "string"}, "target": {"type": "string"}}},
          "http": {"type": "object", "properties": {"url": {"type": "string"}, "body": {"type": "string"}}}}}}},
  "DomainList": {"type": "object", "required": ["domains"],
    "properties": {"domains": {"type": "array", "items": {"$ref": "#/components/schemas/Domain"}}}}
}`
