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

// normalizeDomain truncates d's optional timestamps to stored precision.
func normalizeDomain(d *whitelabel.TenantDomain) {
	d.VerifiedAt = codec.TimePtr(d.VerifiedAt)
	d.LastCheckedAt = codec.TimePtr(d.LastCheckedAt)
	d.CertNotBefore = codec.TimePtr(d.CertNotBefore)
	d.CertNotAfter = codec.TimePtr(d.CertNotAfter)
}

// tenantExists reports a missing tenant as CodeNotFound.
func tenantExists(ctx context.Context, tx *sql.Tx, id int64) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM tenants WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
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
	err := s.mutate(ctx, whitelabel.ChangeDomain, audit, func(tx *sql.Tx, now time.Time) (change, error) {
		if err := tenantExists(ctx, tx, c.TenantID); err != nil {
			return change{}, err
		}
		ts := encTime(now)
		err := tx.QueryRowContext(ctx,
			`INSERT INTO tenant_domains (tenant_id, domain, status, verification_token, verified_at, last_checked_at,
			   last_check_error, certificate_issuer, certificate_not_before, certificate_not_after, created_at, updated_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			c.TenantID, c.Domain, string(c.Status), c.VerificationToken, encTimePtr(c.VerifiedAt), encTimePtr(c.LastCheckedAt),
			c.LastCheckError, c.CertIssuer, encTimePtr(c.CertNotBefore), encTimePtr(c.CertNotAfter), ts, ts).Scan(&c.ID)
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

func scanDomain(row interface{ Scan(...any) error }) (*whitelabel.TenantDomain, error) {
	var (
		d                                      whitelabel.TenantDomain
		status                                 string
		verified, checked, notBefore, notAfter sql.NullString
		created, updated                       string
	)
	if err := row.Scan(&d.ID, &d.TenantID, &d.Domain, &status, &d.VerificationToken, &verified, &checked,
		&d.LastCheckError, &d.CertIssuer, &notBefore, &notAfter, &created, &updated); err != nil {
		return nil, err
	}
	d.Status = whitelabel.DomainStatus(status)
	var err error
	for _, f := range []struct {
		dst **time.Time
		src sql.NullString
	}{{&d.VerifiedAt, verified}, {&d.LastCheckedAt, checked}, {&d.CertNotBefore, notBefore}, {&d.CertNotAfter, notAfter}} {
		if *f.dst, err = decTimePtr(f.src); err != nil {
			return nil, err
		}
	}
	if d.CreatedAt, err = decTime(created); err != nil {
		return nil, err
	}
	if d.UpdatedAt, err = decTime(updated); err != nil {
		return nil, err
	}
	return &d, nil
}

// GetDomain returns the custom domain with the given name, or a
// CodeNotFound error.
func (s *Store) GetDomain(ctx context.Context, domain string) (*whitelabel.TenantDomain, error) {
	d, err := scanDomain(s.r.QueryRowContext(ctx, `SELECT `+domainColumns+` FROM tenant_domains WHERE domain = ?`, domain))
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+domainColumns+` FROM tenant_domains WHERE tenant_id = ? ORDER BY id`, tenantID)
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
	var created string
	err := s.mutate(ctx, whitelabel.ChangeDomain, audit, func(tx *sql.Tx, now time.Time) (change, error) {
		err := tx.QueryRowContext(ctx,
			`UPDATE tenant_domains SET status = ?, verification_token = ?, verified_at = ?, last_checked_at = ?,
			   last_check_error = ?, certificate_issuer = ?, certificate_not_before = ?, certificate_not_after = ?, updated_at = ?
			 WHERE domain = ? AND tenant_id = ? RETURNING id, created_at`,
			string(c.Status), c.VerificationToken, encTimePtr(c.VerifiedAt), encTimePtr(c.LastCheckedAt),
			c.LastCheckError, c.CertIssuer, encTimePtr(c.CertNotBefore), encTimePtr(c.CertNotAfter), encTime(now),
			c.Domain, c.TenantID).Scan(&c.ID, &created)
		if errors.Is(err, sql.ErrNoRows) {
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
	if c.CreatedAt, err = decTime(created); err != nil {
		return err
	}
	*d = c
	return nil
}

// DeleteDomain removes a tenant's custom domain. A domain the tenant does
// not hold is CodeNotFound. It records a ChangeDomain.
func (s *Store) DeleteDomain(ctx context.Context, tenantID int64, domain string, audit *whitelabel.AuditEntry) error {
	err := s.mutate(ctx, whitelabel.ChangeDomain, audit, func(tx *sql.Tx, now time.Time) (change, error) {
		res, err := tx.ExecContext(ctx, `DELETE FROM tenant_domains WHERE domain = ? AND tenant_id = ?`, domain, tenantID)
		if err != nil {
			return change{}, formatError(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return change{}, formatError(err)
		} else if n == 0 {
			return change{}, whitelabel.NotFound(fmt.Sprintf("domain %q of tenant %d", domain, tenantID))
		}
		return change{tenantID: tenantID, key: domain, targetID: domain}, nil
	})
	if err != nil {
		return fmt.Errorf("delete domain %q: %w", domain, err)
	}
	return nil
}
