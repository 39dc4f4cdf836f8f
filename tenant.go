package whitelabel

import (
	"encoding/json"
	"net/mail"
	"regexp"
	"strings"
	"time"
)

// TenantStatus is a tenant's lifecycle state.
type TenantStatus string

// Tenant lifecycle states. See CanTransition for the allowed moves.
const (
	StatusProvisioning TenantStatus = "provisioning"
	StatusActive       TenantStatus = "active"
	StatusSuspended    TenantStatus = "suspended"
	StatusMaintenance  TenantStatus = "maintenance"
	StatusDeactivated  TenantStatus = "deactivated"
)

// Valid reports whether s is a known status.
func (s TenantStatus) Valid() bool {
	switch s {
	case StatusProvisioning, StatusActive, StatusSuspended, StatusMaintenance, StatusDeactivated:
		return true
	}
	return false
}

// CanTransition reports whether a tenant may move from s to next:
// provisioning → active; active ⇄ suspended; active ⇄ maintenance;
// any non-final state → deactivated, which is final.
func (s TenantStatus) CanTransition(next TenantStatus) bool {
	if s == StatusDeactivated {
		return false
	}
	if next == StatusDeactivated {
		return true
	}
	switch s {
	case StatusProvisioning:
		return next == StatusActive
	case StatusActive:
		return next == StatusSuspended || next == StatusMaintenance
	case StatusSuspended, StatusMaintenance:
		return next == StatusActive
	}
	return false
}

// Transition checks a status change and returns a CodeInvalidTransition
// error if it is not allowed.
func (s TenantStatus) Transition(next TenantStatus) error {
	if !next.Valid() {
		return Invalid("status", "unknown status %q (want provisioning, active, suspended, maintenance or deactivated)", next)
	}
	if !s.CanTransition(next) {
		return Errorf(CodeInvalidTransition, "status", "cannot change status from %s to %s", s, next)
	}
	return nil
}

// Tenant is one branded deployment of the core app, owned by a partner.
type Tenant struct {
	ID             int64           `json:"id"`
	PartnerID      int64           `json:"partner_id"`
	OrganizationID int64           `json:"organization_id"`
	TenantKey      string          `json:"tenant_key"`
	DisplayName    string          `json:"display_name"`
	Subdomain      string          `json:"subdomain"`
	ContactEmail   string          `json:"contact_email"`
	Plan           string          `json:"plan"`
	Status         TenantStatus    `json:"status"`
	BrandConfig    json.RawMessage `json:"brand_config"`    // a JSON object; "{}" when unset
	FeatureFlags   Flags           `json:"feature_flags"`   // overrides of the plan's defaults
	ResourceQuotas Quotas          `json:"resource_quotas"` // overrides of the plan's defaults
	// Version increases by one on every update; stores use it for
	// optimistic concurrency (compare-and-swap) and the API as the ETag.
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Clone returns a deep copy of t, so a caller may modify it without
// touching a shared value (for example one held by a snapshot).
func (t *Tenant) Clone() *Tenant {
	c := *t
	c.BrandConfig = append(json.RawMessage(nil), t.BrandConfig...)
	c.FeatureFlags = t.FeatureFlags.Clone()
	c.ResourceQuotas = t.ResourceQuotas.Clone()
	return &c
}

var subdomainRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$`)

// ReservedSubdomains are names a tenant may not take because the platform
// uses them (or could, one day) for its own hosts.
var reservedSubdomains = map[string]bool{
	"www": true, "api": true, "admin": true, "partners": true, "partner": true,
	"mail": true, "smtp": true, "imap": true, "pop": true, "ftp": true,
	"app": true, "apps": true, "status": true, "docs": true, "help": true,
	"support": true, "blog": true, "static": true, "assets": true, "cdn": true,
	"auth": true, "login": true, "sso": true, "id": true, "account": true,
	"accounts": true, "billing": true, "dashboard": true, "console": true,
	"control": true, "edge": true, "internal": true, "metrics": true,
	"ns1": true, "ns2": true, "dev": true, "staging": true, "test": true,
	"localhost": true, "root": true, "system": true, "webmail": true,
	"autodiscover": true, "autoconfig": true, "_edge": true,
}

// IsReservedSubdomain reports whether name is kept for the platform.
func IsReservedSubdomain(name string) bool { return reservedSubdomains[strings.ToLower(name)] }

// ValidateSubdomain checks that s is a lower-case DNS label of 3–63
// characters (letters, digits, inner hyphens) and not reserved.
func ValidateSubdomain(s string) error {
	if s == "" {
		return Invalid("subdomain", "subdomain is required")
	}
	if len(s) < 3 || len(s) > 63 {
		return Invalid("subdomain", "subdomain must be 3 to 63 characters long")
	}
	if !subdomainRE.MatchString(s) {
		return Invalid("subdomain", "subdomain must contain only lower-case letters, digits and inner hyphens")
	}
	if len(s) >= 4 && s[2:4] == "--" {
		return Invalid("subdomain", "subdomain may not have hyphens in the third and fourth positions (reserved for IDN)")
	}
	if IsReservedSubdomain(s) {
		return Invalid("subdomain", "subdomain %q is reserved", s)
	}
	return nil
}

var tenantKeyRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{1,48}[a-z0-9]$`)

// ValidateTenantKey checks a tenant key: 3–50 lower-case letters, digits,
// hyphens or underscores, starting and ending with a letter or digit.
func ValidateTenantKey(s string) error {
	if !tenantKeyRE.MatchString(s) {
		return Invalid("tenant_key", "tenant_key must be 3 to 50 lower-case letters, digits, '-' or '_'")
	}
	return nil
}

// ValidateEmail checks a plain address (no display name).
func ValidateEmail(field, s string) error {
	if s == "" {
		return Invalid(field, "%s is required", field)
	}
	if len(s) > 254 {
		return Invalid(field, "%s is too long", field)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return Invalid(field, "%s must be an e-mail address like admin@example.com", field)
	}
	return nil
}

// ValidateDisplayName checks a human-readable name.
func ValidateDisplayName(field, s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return Invalid(field, "%s is required", field)
	}
	if len([]rune(s)) > 200 {
		return Invalid(field, "%s must be at most 200 characters", field)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return Invalid(field, "%s must not contain control characters", field)
		}
	}
	return nil
}
