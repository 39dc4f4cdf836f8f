package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/store/internal/codec"
)

var (
	_ whitelabel.DomainCheckStore = (*Store)(nil)
	_ whitelabel.DomainCertStore  = (*Store)(nil)
)

// ClaimDueDomains claims up to limit due domains until now+lease. SQLite
// has one writer, so the claiming UPDATE … RETURNING is atomic: two
// workers on one file never claim the same row.
func (s *Store) ClaimDueDomains(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*whitelabel.DomainCheck, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	n := encTime(now)
	rows, err := s.w.QueryContext(ctx,
		`UPDATE tenant_domains SET claimed_until = ?
		 WHERE id IN (SELECT id FROM tenant_domains
		   WHERE status IN ('pending', 'verified', 'active')
		     AND (next_check_at IS NULL OR next_check_at <= ?)
		     AND (claimed_until IS NULL OR claimed_until <= ?)
		   ORDER BY next_check_at IS NOT NULL, next_check_at, id LIMIT ?)
		 RETURNING `+domainColumns+`, check_attempts, next_check_at`,
		encTime(now.Add(lease)), n, n, limit)
	if err != nil {
		return nil, fmt.Errorf("claim due domains: %w", formatError(err))
	}
	defer rows.Close()
	var out []*whitelabel.DomainCheck
	for rows.Next() {
		var (
			attempts int
			next     sql.NullString
		)
		d, err := scanDomain(scanFunc(func(dst ...any) error {
			return rows.Scan(append(dst, &attempts, &next)...)
		}))
		if err != nil {
			return nil, fmt.Errorf("claim due domains: %w", formatError(err))
		}
		c := &whitelabel.DomainCheck{TenantDomain: *d, Attempts: attempts}
		if c.NextCheckAt, err = decTimePtr(next); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim due domains: %w", formatError(err))
	}
	return out, nil
}

// scanFunc adapts a function to scanDomain's row interface.
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
	var created string
	err := s.mutate(ctx, kind, audit, func(tx *sql.Tx, now time.Time) (change, error) {
		err := tx.QueryRowContext(ctx,
			`UPDATE tenant_domains SET status = ?, verified_at = ?, last_checked_at = ?, last_check_error = ?,
			   certificate_issuer = ?, certificate_not_before = ?, certificate_not_after = ?,
			   next_check_at = ?, check_attempts = ?, claimed_until = NULL, updated_at = ?
			 WHERE domain = ? AND tenant_id = ? AND status = ? RETURNING id, created_at`,
			string(c.Status), encTimePtr(c.VerifiedAt), encTimePtr(c.LastCheckedAt), c.LastCheckError,
			c.CertIssuer, encTimePtr(c.CertNotBefore), encTimePtr(c.CertNotAfter),
			encTimePtr(codec.TimePtr(r.NextCheckAt)), r.Attempts, encTime(now),
			c.Domain, c.TenantID, string(r.Prev)).Scan(&c.ID, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return change{}, s.missingOrMoved(ctx, tx, c.Domain, c.TenantID)
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
	if c.CreatedAt, err = decTime(created); err != nil {
		return err
	}
	*r.Domain = c
	return nil
}

// missingOrMoved explains why a conditional domain update matched no row.
func (s *Store) missingOrMoved(ctx context.Context, tx *sql.Tx, domain string, tenantID int64) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM tenant_domains WHERE domain = ? AND tenant_id = ?`, domain, tenantID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return whitelabel.NotFound(fmt.Sprintf("domain %q of tenant %d", domain, tenantID))
	}
	if err != nil {
		return formatError(err)
	}
	return whitelabel.ErrPreconditionFailed
}

// ScheduleDomainCheck makes a domain's next check due at at.
func (s *Store) ScheduleDomainCheck(ctx context.Context, domain string, at time.Time, reset bool) error {
	q := `UPDATE tenant_domains SET next_check_at = ?, claimed_until = NULL WHERE domain = ?`
	if reset {
		q = `UPDATE tenant_domains SET next_check_at = ?, claimed_until = NULL, check_attempts = 0 WHERE domain = ?`
	}
	res, err := s.w.ExecContext(ctx, q, encTime(at), domain)
	if err != nil {
		return fmt.Errorf("schedule check of domain %q: %w", domain, formatError(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return whitelabel.NotFound(fmt.Sprintf("domain %q", domain))
	}
	return nil
}

// RecordDomainCertificate makes a verified domain active with its
// certificate, or updates an active one's; see whitelabel.DomainCertStore.
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
	err = s.mutate(ctx, whitelabel.ChangeDomain, audit, func(tx *sql.Tx, now time.Time) (change, error) {
		res, err := tx.ExecContext(ctx,
			`UPDATE tenant_domains SET status = 'active', certificate_issuer = ?, certificate_not_before = ?,
			   certificate_not_after = ?, updated_at = ? WHERE domain = ? AND status = ?`,
			issuer, encTime(nb), encTime(na), encTime(now), domain, string(d.Status))
		if err != nil {
			return change{}, formatError(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return change{}, s.missingOrMoved(ctx, tx, domain, d.TenantID)
		}
		return change{tenantID: d.TenantID, key: domain, targetID: domain}, nil
	})
	if err != nil {
		return fmt.Errorf("record certificate of domain %q: %w", domain, err)
	}
	return nil
}
