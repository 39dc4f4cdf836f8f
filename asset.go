package whitelabel

import (
	"context"
	"time"
)

// AssetType says what a tenant uses an uploaded image for.
type AssetType string

// Asset types a tenant may upload.
const (
	AssetLogo       AssetType = "logo"
	AssetFavicon    AssetType = "favicon"
	AssetBackground AssetType = "background"
)

// Asset is an uploaded image, stored once per content: SHA256 (64
// lower-case hex digits of the SHA-256 of Data) is its identity. Assets
// are immutable, so readers may cache them forever.
type Asset struct {
	SHA256      string    `json:"sha256"`
	ContentType string    `json:"content_type"` // image/png, image/jpeg, image/webp, image/vnd.microsoft.icon
	Size        int64     `json:"size"`
	Data        []byte    `json:"-"`
	CreatedAt   time.Time `json:"created_at"`
}

// TenantAsset records that a tenant uploaded an asset for a purpose.
type TenantAsset struct {
	TenantID    int64     `json:"tenant_id"`
	SHA256      string    `json:"sha256"`
	Type        AssetType `json:"asset_type"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	CreatedAt   time.Time `json:"created_at"`
}

// AssetSource is what the edge reads: one asset by hash.
type AssetSource interface {
	// Asset returns the asset with the given SHA-256 (with Data), or
	// CodeNotFound.
	Asset(ctx context.Context, sha256 string) (*Asset, error)
}

// AssetStore persists uploaded assets, content-addressed. Uploading is
// not a configuration change: a tenant starts using an asset when its
// brand config refers to it, and that update goes through the change
// feed. No method bumps the config version.
type AssetStore interface {
	AssetSource
	// PutAsset stores a (a.SHA256, ContentType, Size and Data must be
	// set and agree; the store does not re-hash) unless an asset with
	// that hash exists, and records that tenantID uses it as typ. It
	// fills a.CreatedAt with the asset's first upload time. A missing
	// tenant is CodeNotFound.
	PutAsset(ctx context.Context, tenantID int64, typ AssetType, a *Asset, audit *AuditEntry) error
	// ListTenantAssets returns a tenant's uploads, newest first, without
	// data.
	ListTenantAssets(ctx context.Context, tenantID int64) ([]TenantAsset, error)
}

// EmailTemplate is a tenant's override of one built-in e-mail template
// (theming.EmailNames). Empty parts use the built-in ones.
type EmailTemplate struct {
	TenantID  int64     `json:"tenant_id"`
	Name      string    `json:"name"`
	Subject   string    `json:"subject"`
	HTML      string    `json:"html"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// EmailTemplateStore persists tenants' e-mail template overrides. The
// edge does not serve them, so no method bumps the config version.
type EmailTemplateStore interface {
	// PutEmailTemplate creates or replaces (t.TenantID, t.Name), filling
	// CreatedAt (kept on replace) and UpdatedAt. A missing tenant is
	// CodeNotFound.
	PutEmailTemplate(ctx context.Context, t *EmailTemplate, audit *AuditEntry) error
	// GetEmailTemplate returns one override, or CodeNotFound.
	GetEmailTemplate(ctx context.Context, tenantID int64, name string) (*EmailTemplate, error)
	// ListEmailTemplates returns a tenant's overrides ordered by name.
	ListEmailTemplates(ctx context.Context, tenantID int64) ([]*EmailTemplate, error)
	// DeleteEmailTemplate removes one override, or returns CodeNotFound.
	DeleteEmailTemplate(ctx context.Context, tenantID int64, name string, audit *AuditEntry) error
}
