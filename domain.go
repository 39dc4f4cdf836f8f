package whitelabel

import "time"

// DomainStatus is a custom domain's verification and certificate state.
type DomainStatus string

// Custom domain states: pending → verified → active (certificate issued);
// failed (not verified in time); moved (records gone on a re-check).
const (
	DomainPending  DomainStatus = "pending"
	DomainVerified DomainStatus = "verified"
	DomainActive   DomainStatus = "active"
	DomainFailed   DomainStatus = "failed"
	DomainMoved    DomainStatus = "moved"
)

// Serving reports whether the edge should route (and certify) a domain in
// this state.
func (s DomainStatus) Serving() bool { return s == DomainVerified || s == DomainActive }

// TenantDomain is a custom domain a tenant brings, such as
// properties.acme.com.
type TenantDomain struct {
	ID                int64        `json:"id"`
	TenantID          int64        `json:"tenant_id"`
	Domain            string       `json:"domain"` // lower-case, punycode (ASCII)
	Status            DomainStatus `json:"status"`
	VerificationToken string       `json:"verification_token"`
	VerifiedAt        *time.Time   `json:"verified_at,omitempty"`
	LastCheckedAt     *time.Time   `json:"last_checked_at,omitempty"`
	LastCheckError    string       `json:"last_check_error,omitempty"`
	CertIssuer        string       `json:"certificate_issuer,omitempty"`
	CertNotBefore     *time.Time   `json:"certificate_not_before,omitempty"`
	CertNotAfter      *time.Time   `json:"certificate_not_after,omitempty"`
	CreatedAt         time.Time    `json:"created_at"`
	UpdatedAt         time.Time    `json:"updated_at"`
}
