package whitelabel

import (
	"context"
	"time"
)

// Every store method honours ctx, is safe for concurrent use, and returns
// *Error values for conditions a caller can act on: CodeNotFound,
// CodeConflict (with Field naming the unique column), or
// CodePreconditionFailed (a stale Version). Other errors are internal.
// Methods that mutate take an optional *AuditEntry, written in the same
// transaction; its ID and At are filled in.

// PartnerStore persists partners and their API keys.
type PartnerStore interface {
	// CreatePartner inserts p with its first key, filling p.ID and
	// p.CreatedAt (and key.PartnerID).
	CreatePartner(ctx context.Context, p *Partner, key *APIKey, audit *AuditEntry) error
	GetPartner(ctx context.Context, id int64) (*Partner, error)
	// ListPartners returns all partners ordered by ID.
	ListPartners(ctx context.Context) ([]*Partner, error)
	// UpdatePartner writes name, contact e-mail, revenue share and
	// is_active.
	UpdatePartner(ctx context.Context, p *Partner, audit *AuditEntry) error
	// RotateAPIKey adds key and sets every other unexpired key of the same
	// partner to expire at oldExpiresAt, atomically.
	RotateAPIKey(ctx context.Context, key *APIKey, oldExpiresAt time.Time, audit *AuditEntry) error
	// APIKey returns the key with the given public id, with its partner.
	APIKey(ctx context.Context, id string) (*APIKey, *Partner, error)
	// ListAPIKeys returns a partner's keys, newest first.
	ListAPIKeys(ctx context.Context, partnerID int64) ([]*APIKey, error)
}

// TenantFilter selects tenants, ordered by ID ascending.
type TenantFilter struct {
	PartnerID int64        // 0: every partner
	Status    TenantStatus // "": every status
	After     int64        // cursor: only IDs greater than After
	Limit     int          // 1–1000; stores cap it
}

// TenantStore persists tenants. Every mutation bumps the config version
// and records a Change.
type TenantStore interface {
	// CreateTenant inserts t, filling ID, Version (1), CreatedAt,
	// UpdatedAt and, when zero, OrganizationID (from its own sequence).
	// A taken subdomain, tenant_key or organization_id is a CodeConflict
	// error whose Field names it.
	CreateTenant(ctx context.Context, t *Tenant, audit *AuditEntry) error
	GetTenant(ctx context.Context, id int64) (*Tenant, error)
	// TenantByKey returns the tenant with the given tenant key.
	TenantByKey(ctx context.Context, key string) (*Tenant, error)
	ListTenants(ctx context.Context, f TenantFilter) ([]*Tenant, error)
	// UpdateTenant writes every mutable field of t if the stored version
	// still equals t.Version (else CodePreconditionFailed), then sets
	// t.Version to the new version and t.UpdatedAt.
	UpdateTenant(ctx context.Context, t *Tenant, audit *AuditEntry) error
}

// DomainStore persists tenants' custom domains. Every mutation bumps the
// config version and records a ChangeDomain.
type DomainStore interface {
	// CreateDomain inserts d, filling ID and timestamps. A domain held by
	// any tenant is a CodeConflict error with Field "domain".
	CreateDomain(ctx context.Context, d *TenantDomain, audit *AuditEntry) error
	GetDomain(ctx context.Context, domain string) (*TenantDomain, error)
	ListDomains(ctx context.Context, tenantID int64) ([]*TenantDomain, error)
	UpdateDomain(ctx context.Context, d *TenantDomain, audit *AuditEntry) error
	DeleteDomain(ctx context.Context, tenantID int64, domain string, audit *AuditEntry) error
}

// AuditStore reads the audit trail.
type AuditStore interface {
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEntry, error)
}

// ChangeFeed lets a reader follow configuration changes.
type ChangeFeed interface {
	// ConfigVersion returns the current global config version (0 before
	// any change).
	ConfigVersion(ctx context.Context) (int64, error)
	// ChangesSince returns up to limit changes with Version > after, in
	// version order.
	ChangesSince(ctx context.Context, after int64, limit int) ([]Change, error)
	// WaitForChange blocks until the config version exceeds after or ctx
	// ends, and returns the version it saw. PostgreSQL wakes on
	// LISTEN/NOTIFY; SQLite polls cheaply.
	WaitForChange(ctx context.Context, after int64) (int64, error)
}

// ConfigSource is all the edge reads from a store: a consistent snapshot
// and the changes after it.
type ConfigSource interface {
	ChangeFeed
	// LoadConfig returns every tenant with its domains and the config
	// version they reflect, read in one consistent transaction.
	LoadConfig(ctx context.Context) (version int64, tenants []TenantConfig, err error)
	// LoadTenantConfigs returns the named tenants with their domains;
	// IDs that do not exist are left out.
	LoadTenantConfigs(ctx context.Context, ids []int64) ([]TenantConfig, error)
}

// Store is the whole persistence contract, implemented by store/sqlite and
// store/postgres.
type Store interface {
	PartnerStore
	TenantStore
	DomainStore
	AuditStore
	ConfigSource
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}
