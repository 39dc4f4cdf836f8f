package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/store/internal/codec"
)

var (
	_ whitelabel.DomainCheckStore = (*Store)(nil)
	_ whitelabel.DomainCertStore  = (*Store)(nil)
)

// ClaimDueDomains claims up to limit due domains until now+lease. Rows
// are picked with FOR UPDATE SKIP LOCKED, so control instances claiming
// at the same moment take disjoint sets and never wait on each other.
func (s *Store) ClaimDueDomains(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*whitelabel.DomainCheck, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	now = codec.Time(now)
	rows, err := s.pool.Query(ctx,
		`WITH due AS (
		   SELECT id AS due_id FROM tenant_domains
		   WHERE status IN ('pending', 'verified', 'active')
		     AND (next_check_at IS NULL OR next_check_at <= $1)
		     AND (claimed_until IS NULL OR claimed_until <= $1)
		   ORDER BY next_check_at NULLS FIRST, id LIMIT $3
		   FOR UPDATE SKIP LOCKED)
		 UPDATE tenant_domains SET claimed_until = $2 FROM due WHERE id = due.due_id
		 RETURNING `+domainColumns+`, check_attempts, next_check_at`,
		now, codec.Time(now.Add(lease)), limit)
	if err != nil {
		return nil, fmt.Errorf("claim due domains: %w", formatError(err))
	}
	defer rows.Close()
	var out []*whitelabel.DomainCheck
	for rows.Next() {
		var (
			attempts int
			next     *time.Time
		)
		d, err := scanDomain(scanFunc(func(dst ...any) error {
			return rows.Scan(append(dst, &attempts, &next)...)
		}))
		if err != nil {
			return nil, fmt.Errorf("claim due domains: %w", formatError(err))
		}
		out = append(out, &whitelabel.DomainCheck{TenantDomain: *d, Attempts: attempts, NextCheckAt: utcPtr(next)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim due domains: %w", formatError(err))
	}
	return out, nil
}

// scanFunc adapts a function to pgx.Row.
type scanFunc func(dst ...any) error

func (f scanFunc) Scan(dst ...any) error { return f(dst...) }

// FinishDomainCheck writes a check's result and releases the claim; see
// whitelabel.DomainCheckStore.
func (s *Store) FinishDomainCheck(ctx context.Context, r whitelabel.DomainCheckResult, audit *whitelabel.AuditEntry) error {
	c := *r.Domain
	normalizeDomain(&c)
	kind := whitelabel.ChangeDomain
	if c.Status == r.Prev {
		kind, audit = "", nil
	}
	err := s.mutate(ctx, kind, audit, func(tx pgx.Tx, now time.Time) (change, error) {
		err := tx.QueryRow(ctx,
			`UPDATE tenant_domains SET status = $1, verified_at = $2, last_checked_at = $3, last_check_error = $4,
			   certificate_issuer = $5, certificate_not_before = $6, certificate_not_after = $7,
			   next_check_at = $8, check_attempts = $9, claimed_until = NULL, updated_at = $10
			 WHERE domain = $11 AND tenant_id = $12 AND status = $13 RETURNING id, created_at`,
			string(c.Status), c.VerifiedAt, c.LastCheckedAt, c.LastCheckError,
			c.CertIssuer, c.CertNotBefore, c.CertNotAfter,
			codec.TimePtr(r.NextCheckAt), r.Attempts, now,
			c.Domain, c.TenantID, string(r.Prev)).Scan(&c.ID, &c.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return change{}, missingOrMoved(ctx, tx, c.Domain, c.TenantID)
		}
		if err != nil {
			return change{}, formatError(err)
		}
		c.UpdatedAt = now
		return change{tenantID: c.TenantID, key: c.Domain, targetID: c.Domain}, nil
	})
	if err != nil {
		return fmt.Errorf("finish check of domain %q: %w", c.Domain, err)
	}
	c.CreatedAt = c.CreatedAt.UTC()
	*r.Domain = c
	return nil
}

// missingOrMoved explains why a conditional domain update matched no row.
func missingOrMoved(ctx context.Context, tx pgx.Tx, domain string, tenantID int64) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM tenant_domains WHERE domain = $1 AND tenant_id = $2`, domain, tenantID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return whitelabel.NotFound(fmt.Sprintf("domain %q of tenant %d", domain, tenantID))
	}
	if err != nil {
		return formatError(err)
	}
	return whitelabel.ErrPreconditionFailed
}

// ScheduleDomainCheck makes a domain's next check due at at.
func (s *Store) ScheduleDomainCheck(ctx context.Context, domain string, at time.Time, reset bool) error {
	tag, err := s.pool.Exec(ctx,
		`UPDATE tenant_domains SET next_check_at = $1, claimed_until = NULL,
		   check_attempts = CASE WHEN $3 THEN 0 ELSE check_attempts END WHERE domain = $2`,
		codec.Time(at), domain, reset)
	if err != nil {
		return fmt.Errorf("schedule check of domain %q: %w", domain, formatError(err))
	}
	if tag.RowsAffected() == 0 {
		return whitelabel.NotFound(fmt.Sprintf("domain %q", domain))
	}
	return nil
}

// RecordDomainCertificate makes a verified domain active with its
// certificate, or updates an active one's; see whitelabel.DomainCertStore.
// Several edges may call it for one certificate: the conditional update
// lets one write and the others see no change.
func (s *Store) RecordDomainCertificate(ctx context.Context, domain, issuer string, notBefore, notAfter time.Time, audit *whitelabel.AuditEntry) error {
	d, err := s.GetDomain(ctx, domain)
	if err != nil {
		return err
	}
	nb, na := codec.Time(notBefore), codec.Time(notAfter)
	switch d.Status {
	case whitelabel.DomainActive:
		if d.CertIssuer == issuer && d.CertNotBefore != nil && d.CertNotBefore.Equal(nb) && d.CertNotAfter != nil && d.CertNotAfter.Equal(na) {
			return nil
		}
		if audit != nil {
			audit.Action = whitelabel.AuditDomainRenewed
		}
	case whitelabel.DomainVerified:
		if audit != nil {
			audit.Action = whitelabel.AuditDomainActive
		}
	default:
		return whitelabel.ErrPreconditionFailed
	}
	err = s.mutate(ctx, whitelabel.ChangeDomain, audit, func(tx pgx.Tx, now time.Time) (change, error) {
		tag, err := tx.Exec(ctx,
			`UPDATE tenant_domains SET status = 'active', certificate_issuer = $1, certificate_not_before = $2,
			   certificate_not_after = $3, updated_at = $4
			 WHERE domain = $5 AND status = $6
			   AND (status <> 'active' OR certificate_issuer <> $1 OR certificate_not_before IS DISTINCT FROM $2
			        OR certificate_not_after IS DISTINCT FROM $3)`,
			issuer, nb, na, now, domain, string(d.Status))
		if err != nil {
			return change{}, formatError(err)
		}
		if tag.RowsAffected() == 0 {
			return change{}, missingOrMoved(ctx, tx, domain, d.TenantID)
		}
		return change{tenantID: d.TenantID, key: domain, targetID: domain}, nil
	})
	if err != nil {
		return fmt.Errorf("record certificate of domain %q: %w", domain, err)
	}
	return nil
}
