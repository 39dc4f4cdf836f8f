package whitelabel

import "time"

// ChangeKind names what a change-feed entry is about.
type ChangeKind string

// Change kinds. A change to a tenant's brand, flags, quotas or status is a
// ChangeTenant; its domains and SSO settings have their own kinds so a
// reader may skip what it does not cache.
const (
	ChangeTenant  ChangeKind = "tenant"
	ChangeDomain  ChangeKind = "domain"
	ChangeSSO     ChangeKind = "sso"
	ChangePartner ChangeKind = "partner"
)

// Change is one entry of the configuration change feed. Every mutation of
// configuration the edge serves bumps the global config version by one and
// records a Change with that version, in the same transaction.
type Change struct {
	Version  int64      `json:"version"`
	Kind     ChangeKind `json:"kind"`
	TenantID int64      `json:"tenant_id,omitempty"` // 0 for partner-level changes
	Key      string     `json:"key,omitempty"`       // e.g. the domain name for ChangeDomain
	At       time.Time  `json:"at"`
}

// TenantConfig is everything the edge serves for one tenant: the tenant,
// its custom domains (all of them; the edge routes only those whose
// status is Serving) and its SSO configurations (nil when it has none;
// secrets still sealed).
type TenantConfig struct {
	Tenant  Tenant         `json:"tenant"`
	Domains []TenantDomain `json:"domains"`
	SSO     []SSOConfig    `json:"sso,omitempty"`
}
