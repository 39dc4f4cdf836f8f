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

// normalizeDomain truncates d's optional timestamps to stored precision.
func normalizeDomain(d *whitelabel.TenantDomain) {
	d.VerifiedAt = codec.TimePtr(d.VerifiedAt)
	d.LastCheckedAt = codec.TimePtr(d.LastCheckedAt)
	d.CertNotBefore = codec.TimePtr(d.CertNotBefore)
	d.CertNotAfter = codec.TimePtr(d.CertNotAfter)
}

// tenantExists reports a missing tenant as CodeNotFound. FOR SHARE keeps
// the tenant from going away before the transaction ends.
func tenantExists(ctx context.Context, tx pgx.Tx, id int64) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM tenants WHERE id = $1 FOR SHARE`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return whitelabel.NotFound(fmt.Sprintf("tenant %d", id))
	}
	return formatError(err)
}

// CreateDomain inserts d, filling ID, CreatedAt and UpdatedAt (and
// Status "pending" when empty). A domain held by any tenant is a
// CodeConflict error with Field "domain"; a missing tenant CodeNotFound.
// It records a ChangeDomain keyed by the domain name.
func (s *Store) CreateDomain(ctx context.Context, d *whitelabel.TenantDomain, audit *whitelabel.AuditEntry) error {
	c := *d
	normalizeDomain(&c)
	if c.Status == "" {
		c.Status = whitelabel.DomainPending
	}
	err := s.mutate(ctx, whitelabel.ChangeDomain, audit, func(tx pgx.Tx, now time.Time) (change, error) {
		if err := tenantExists(ctx, tx, c.TenantID); err != nil {
			return change{}, err
		}
		err := tx.QueryRow(ctx,
			`INSERT INTO tenant_domains (tenant_id, domain, status, verification_token, verified_at, last_checked_at,
			   last_check_error, certificate_issuer, certificate_not_before, certificate_not_after, created_at, updated_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id`,
			c.TenantID, c.Domain, string(c.Status), c.VerificationToken, c.VerifiedAt, c.LastCheckedAt,
			c.LastCheckError, c.CertIssuer, c.CertNotBefore, c.CertNotAfter, now).Scan(&c.ID)
		if err != nil {
			return change{}, formatError(err)
		}
		c.CreatedAt, c.UpdatedAt = now, now
		return change{tenantID: c.TenantID, key: c.Domain, targetID: c.Domain}, nil
	})
	if err != nil {
		return fmt.Errorf("create domain %q: %w", d.Domain, err)
	}
	*d = c
	return nil
}

const domainColumns = `id, tenant_id, domain, status, verification_token, verified_at, last_checked_at,
	last_check_error, certificate_issuer, certificate_not_before, certificate_not_after, created_at, updated_at`

func scanDomain(row pgx.Row) (*whitelabel.TenantDomain, error) {
	var (
		d      whitelabel.TenantDomain
		status string
	)
	if err := row.Scan(&d.ID, &d.TenantID, &d.Domain, &status, &d.VerificationToken, &d.VerifiedAt, &d.LastCheckedAt,
		&d.LastCheckError, &d.CertIssuer, &d.CertNotBefore, &d.CertNotAfter, &d.CreatedAt, &d.UpdatedAt); err != nil {
		return nil, err
	}
	d.Status = whitelabel.DomainStatus(status)
	d.VerifiedAt, d.LastCheckedAt = utcPtr(d.VerifiedAt), utcPtr(d.LastCheckedAt)
	d.CertNotBefore, d.CertNotAfter = utcPtr(d.CertNotBefore), utcPtr(d.CertNotAfter)
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return &d, nil
}

// GetDomain returns the custom domain with the given name, or a
// CodeNotFound error.
func (s *Store) GetDomain(ctx context.Context, domain string) (*whitelabel.TenantDomain, error) {
	d, err := scanDomain(s.pool.QueryRow(ctx, `SELECT `+domainColumns+` FROM tenant_domains WHERE domain = $1`, domain))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, whitelabel.NotFound(fmt.Sprintf("domain %q", domain))
	}
	if err != nil {
		return nil, fmt.Errorf("get domain %q: %w", domain, formatError(err))
	}
	return d, nil
}

// ListDomains returns a tenant's domains ordered by ID (none for an
// unknown tenant).
func (s *Store) ListDomains(ctx context.Context, tenantID int64) ([]*whitelabel.TenantDomain, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+domainColumns+` FROM tenant_domains WHERE tenant_id = $1 ORDER BY id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", formatError(err))
	}
	defer rows.Close()
	out := []*whitelabel.TenantDomain{}
	for rows.Next() {
		d, err := scanDomain(rows)
		if err != nil {
			return nil, fmt.Errorf("list domains: %w", formatError(err))
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list domains: %w", formatError(err))
	}
	return out, nil
}

// UpdateDomain writes d's status, verification token, check results and
// certificate fields, found by d.Domain and d.TenantID (the name and
// owner never change), and fills ID, CreatedAt and UpdatedAt. A domain
// the tenant does not hold is CodeNotFound. It records a ChangeDomain.
func (s *Store) UpdateDomain(ctx context.Context, d *whitelabel.TenantDomain, audit *whitelabel.AuditEntry) error {
	c := *d
	normalizeDomain(&c)
	err := s.mutate(ctx, whitelabel.ChangeDomain, audit, func(tx pgx.Tx, now time.Time) (change, error) {
		err := tx.QueryRow(ctx,
			`UPDATE tenant_domains SET status = $1, verification_token = $2, verified_at = $3, last_checked_at = $4,
			   last_check_error = $5, certificate_issuer = $6, certificate_not_before = $7, certificate_not_after = $8,
			   updated_at = $9
			 WHERE domain = $10 AND tenant_id = $11 RETURNING id, created_at`,
			string(c.Status), c.VerificationToken, c.VerifiedAt, c.LastCheckedAt,
			c.LastCheckError, c.CertIssuer, c.CertNotBefore, c.CertNotAfter, now,
			c.Domain, c.TenantID).Scan(&c.ID, &c.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return change{}, whitelabel.NotFound(fmt.Sprintf("domain %q of tenant %d", c.Domain, c.TenantID))
		}
		if err != nil {
			return change{}, formatError(err)
		}
		c.UpdatedAt = now
		return change{tenantID: c.TenantID, key: c.Domain, targetID: c.Domain}, nil
	})
	if err != nil {
		return fmt.Errorf("update domain %q: %w", d.Domain, err)
	}
	c.CreatedAt = c.CreatedAt.UTC()
	*d = c
	return nil
}

// DeleteDomain removes a tenant's custom domain. A domain the tenant does
// not hold is CodeNotFound. It records a ChangeDomain.
func (s *Store) DeleteDomain(ctx context.Context, tenantID int64, domain string, audit *whitelabel.AuditEntry) error {
	err := s.mutate(ctx, whitelabel.ChangeDomain, audit, func(tx pgx.Tx, now time.Time) (change, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM tenant_domains WHERE domain = $1 AND tenant_id = $2`, domain, tenantID)
		if err != nil {
			return change{}, formatError(err)
		}
		if tag.RowsAffected() == 0 {
			return change{}, whitelabel.NotFound(fmt.Sprintf("domain %q of tenant %d", domain, tenantID))
		}
		return change{tenantID: tenantID, key: domain, targetID: domain}, nil
	})
	if err != nil {
		return fmt.Errorf("delete domain %q: %w", domain, err)
	}
	return nil
}
