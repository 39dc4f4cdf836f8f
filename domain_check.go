package whitelabel

import (
	"context"
	"time"
)

// Audit actions of custom domains. Every status transition is written to
// the audit log, in the transaction that makes it, under the action
// "domain." + the new status; webhooks and the audit API read them there.
const (
	AuditDomainCreate   = "domain.create"
	AuditDomainDelete   = "domain.delete"
	AuditDomainVerified = "domain.verified"
	AuditDomainActive   = "domain.active"
	AuditDomainFailed   = "domain.failed"
	AuditDomainMoved    = "domain.moved"
	// AuditDomainRenewed records a new certificate for an active domain.
	AuditDomainRenewed = "domain.certificate_renewed"
)

// DomainAuditAction returns the audit action recording a transition to s.
func DomainAuditAction(s DomainStatus) string { return "domain." + string(s) }

// DomainCheck is a custom domain claimed for a verification check, with
// its schedule.
type DomainCheck struct {
	TenantDomain
	// Attempts counts consecutive checks that did not find the records.
	Attempts int
	// NextCheckAt is when the check was due; nil means as soon as possible.
	NextCheckAt *time.Time
}

// DomainCheckResult is what a check writes back.
type DomainCheckResult struct {
	// Domain carries the new status, check and certificate fields,
	// found by Domain.Domain and Domain.TenantID.
	Domain *TenantDomain
	// Prev is the status the check started from. The write applies only
	// if the stored status still equals it (else CodePreconditionFailed),
	// so a check never undoes what the edge or a user did meanwhile.
	Prev DomainStatus
	// NextCheckAt schedules the next check; nil means never.
	NextCheckAt *time.Time
	// Attempts is stored for the next check.
	Attempts int
}

// DomainCheckStore is what the verification worker needs beyond
// DomainStore: claiming due checks so that several control instances never
// check one domain at once, and writing results. Both stores implement it.
type DomainCheckStore interface {
	// ClaimDueDomains claims up to limit domains whose status is pending,
	// verified or active and whose next check is due at now (or never
	// scheduled), and which no one else holds a claim on; each claim
	// lasts until now+lease. Claims are released by FinishDomainCheck or
	// by expiring, so a dead worker loses nothing.
	ClaimDueDomains(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*DomainCheck, error)
	// FinishDomainCheck writes r and releases the claim. A status change
	// bumps the config version (a ChangeDomain, which edges follow) and
	// writes audit, if given; a check that changes no status records no
	// change and ignores audit. A deleted domain is CodeNotFound; a status
	// changed since r.Prev is CodePreconditionFailed.
	FinishDomainCheck(ctx context.Context, r DomainCheckResult, audit *AuditEntry) error
	// ScheduleDomainCheck makes the domain's next check due at at,
	// resetting its attempts when reset is set. It records no change.
	ScheduleDomainCheck(ctx context.Context, domain string, at time.Time, reset bool) error
}

// DomainCertStore is what the edge writes back after it obtained (or
// renewed) a custom domain's certificate.
type DomainCertStore interface {
	// RecordDomainCertificate makes a verified domain active, or updates
	// an active domain's certificate fields, with the certificate's
	// issuer and validity; it writes audit (its Action is set to
	// AuditDomainActive or AuditDomainRenewed) and bumps the config
	// version. Unchanged fields make it a no-op returning nil. A domain
	// that does not exist is CodeNotFound; one in another state
	// (pending, failed, moved) is CodePreconditionFailed.
	RecordDomainCertificate(ctx context.Context, domain, issuer string, notBefore, notAfter time.Time, audit *AuditEntry) error
}
