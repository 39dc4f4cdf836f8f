package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/store/internal/codec"
)

// tenantJSON is a tenant's JSON columns in stored form.
type tenantJSON struct{ brand, flags, quotas string }

func encodeTenant(t *whitelabel.Tenant) (tenantJSON, error) {
	var (
		j   tenantJSON
		err error
	)
	if j.brand, err = codec.BrandConfig(t.BrandConfig); err != nil {
		return j, err
	}
	if j.flags, err = codec.Flags(t.FeatureFlags); err != nil {
		return j, err
	}
	j.quotas, err = codec.Quotas(t.ResourceQuotas)
	return j, err
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// CreateTenant inserts t, filling ID, Version (1), CreatedAt, UpdatedAt
// and, when zero, OrganizationID (from 1000 up); it normalizes t's JSON
// fields to what GetTenant returns. A taken subdomain, tenant_key or
// organization_id is a CodeConflict error naming it; a PartnerID that
// does not exist is CodeInvalid with Field "partner_id". It records a
// ChangeTenant; a zero audit TenantID, PartnerID or TargetID is filled.
func (s *Store) CreateTenant(ctx context.Context, t *whitelabel.Tenant, audit *whitelabel.AuditEntry) error {
	j, err := encodeTenant(t)
	if err != nil {
		return fmt.Errorf("create tenant: %w", err)
	}
	var (
		id, org int64
		created time.Time
	)
	err = s.mutate(ctx, whitelabel.ChangeTenant, audit, func(tx *sql.Tx, now time.Time) (change, error) {
		if t.PartnerID != 0 {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM partners WHERE id = ?`, t.PartnerID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return change{}, whitelabel.Invalid("partner_id", "partner %d does not exist", t.PartnerID)
			}
			if err != nil {
				return change{}, formatError(err)
			}
		}
		org = t.OrganizationID
		var err error
		if org == 0 {
			err = tx.QueryRowContext(ctx,
				`UPDATE organization_id_seq SET next_id = next_id + 1 WHERE id = 1 RETURNING next_id - 1`).Scan(&org)
		} else {
			// Keep the sequence ahead of explicit IDs so it never hands one out again.
			_, err = tx.ExecContext(ctx,
				`UPDATE organization_id_seq SET next_id = max(next_id, ? + 1) WHERE id = 1`, org)
		}
		if err != nil {
			return change{}, fmt.Errorf("organization id: %w", formatError(err))
		}
		ts := encTime(now)
		err = tx.QueryRowContext(ctx,
			`INSERT INTO tenants (partner_id, organization_id, tenant_key, display_name, subdomain, contact_email,
			   plan, status, brand_config, feature_flags, resource_quotas, version, created_at, updated_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?) RETURNING id`,
			nullID(t.PartnerID), org, t.TenantKey, t.DisplayName, t.Subdomain, t.ContactEmail,
			t.Plan, string(t.Status), j.brand, j.flags, j.quotas, ts, ts).Scan(&id)
		if err != nil {
			return change{}, formatError(err)
		}
		created = now
		return change{tenantID: id, partnerID: t.PartnerID, targetID: strconv.FormatInt(id, 10)}, nil
	})
	if err != nil {
		return fmt.Errorf("create tenant %q: %w", t.Subdomain, err)
	}
	t.ID, t.OrganizationID, t.Version = id, org, 1
	t.CreatedAt, t.UpdatedAt = created, created
	return normalizeTenant(t, j)
}

// normalizeTenant sets t's JSON fields to their stored form, as read back.
func normalizeTenant(t *whitelabel.Tenant, j tenantJSON) error {
	var err error
	t.BrandConfig = []byte(j.brand)
	if t.FeatureFlags, err = codec.DecodeFlags([]byte(j.flags)); err != nil {
		return err
	}
	t.ResourceQuotas, err = codec.DecodeQuotas([]byte(j.quotas))
	return err
}

const tenantColumns = `id, partner_id, organization_id, tenant_key, display_name, subdomain, contact_email, plan,
	status, brand_config, feature_flags, resource_quotas, version, created_at, updated_at`

func scanTenant(row interface{ Scan(...any) error }) (*whitelabel.Tenant, error) {
	var (
		t                whitelabel.Tenant
		partner          sql.NullInt64
		status           string
		j                tenantJSON
		created, updated string
	)
	if err := row.Scan(&t.ID, &partner, &t.OrganizationID, &t.TenantKey, &t.DisplayName, &t.Subdomain,
		&t.ContactEmail, &t.Plan, &status, &j.brand, &j.flags, &j.quotas, &t.Version, &created, &updated); err != nil {
		return nil, err
	}
	t.PartnerID = partner.Int64
	t.Status = whitelabel.TenantStatus(status)
	var err error
	if t.CreatedAt, err = decTime(created); err != nil {
		return nil, err
	}
	if t.UpdatedAt, err = decTime(updated); err != nil {
		return nil, err
	}
	if t.BrandConfig, err = codec.DecodeBrand([]byte(j.brand)); err != nil {
		return nil, err
	}
	if t.FeatureFlags, err = codec.DecodeFlags([]byte(j.flags)); err != nil {
		return nil, err
	}
	if t.ResourceQuotas, err = codec.DecodeQuotas([]byte(j.quotas)); err != nil {
		return nil, err
	}
	return &t, nil
}

func getTenant(ctx context.Context, q queryer, where string, arg any) (*whitelabel.Tenant, error) {
	return scanTenant(q.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE `+where, arg))
}

// GetTenant returns the tenant with the given ID, or a CodeNotFound error.
func (s *Store) GetTenant(ctx context.Context, id int64) (*whitelabel.Tenant, error) {
	t, err := getTenant(ctx, s.r, `id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, whitelabel.NotFound(fmt.Sprintf("tenant %d", id))
	}
	if err != nil {
		return nil, fmt.Errorf("get tenant %d: %w", id, formatError(err))
	}
	return t, nil
}

// TenantByKey returns the tenant with the given tenant key, or a
// CodeNotFound error.
func (s *Store) TenantByKey(ctx context.Context, key string) (*whitelabel.Tenant, error) {
	t, err := getTenant(ctx, s.r, `tenant_key = ?`, key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, whitelabel.NotFound(fmt.Sprintf("tenant %q", key))
	}
	if err != nil {
		return nil, fmt.Errorf("get tenant %q: %w", key, formatError(err))
	}
	return t, nil
}

// ListTenants returns the tenants f selects, ordered by ID, at most
// f.Limit of them (default 100, at most 1000). The slice is the caller's.
func (s *Store) ListTenants(ctx context.Context, f whitelabel.TenantFilter) ([]*whitelabel.Tenant, error) {
	where, args := []string{"id > ?"}, []any{f.After}
	if f.PartnerID != 0 {
		where, args = append(where, "partner_id = ?"), append(args, f.PartnerID)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	args = append(args, codec.Limit(f.Limit, codec.DefaultTenantLimit, codec.MaxTenantLimit))
	rows, err := s.r.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE `+
		strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", formatError(err))
	}
	return collectTenants(rows)
}

func collectTenants(rows *sql.Rows) ([]*whitelabel.Tenant, error) {
	defer rows.Close()
	out := []*whitelabel.Tenant{}
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", formatError(err))
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tenants: %w", formatError(err))
	}
	return out, nil
}

// UpdateTenant writes t's mutable fields (display name, subdomain,
// contact e-mail, plan, status, brand config, flags, quotas) if the
// stored version still equals t.Version, then sets t.Version, t.UpdatedAt
// and t.CreatedAt from the row. PartnerID, TenantKey and OrganizationID
// do not change. A stale version is CodePreconditionFailed, a missing
// tenant CodeNotFound, a taken subdomain CodeConflict. It records a
// ChangeTenant.
func (s *Store) UpdateTenant(ctx context.Context, t *whitelabel.Tenant, audit *whitelabel.AuditEntry) error {
	j, err := encodeTenant(t)
	if err != nil {
		return fmt.Errorf("update tenant %d: %w", t.ID, err)
	}
	var (
		version          int64
		created, updated string
		partner          sql.NullInt64
	)
	err = s.mutate(ctx, whitelabel.ChangeTenant, audit, func(tx *sql.Tx, now time.Time) (change, error) {
		err := tx.QueryRowContext(ctx,
			`UPDATE tenants SET display_name = ?, subdomain = ?, contact_email = ?, plan = ?, status = ?,
			   brand_config = ?, feature_flags = ?, resource_quotas = ?, version = version + 1, updated_at = ?
			 WHERE id = ? AND version = ? RETURNING version, created_at, updated_at, partner_id`,
			t.DisplayName, t.Subdomain, t.ContactEmail, t.Plan, string(t.Status),
			j.brand, j.flags, j.quotas, encTime(now), t.ID, t.Version).Scan(&version, &created, &updated, &partner)
		if errors.Is(err, sql.ErrNoRows) {
			var current int64
			err := tx.QueryRowContext(ctx, `SELECT version FROM tenants WHERE id = ?`, t.ID).Scan(&current)
			if errors.Is(err, sql.ErrNoRows) {
				return change{}, whitelabel.NotFound(fmt.Sprintf("tenant %d", t.ID))
			}
			if err != nil {
				return change{}, formatError(err)
			}
			return change{}, stale(t.Version, current)
		}
		if err != nil {
			return change{}, formatError(err)
		}
		return change{tenantID: t.ID, partnerID: partner.Int64, targetID: strconv.FormatInt(t.ID, 10)}, nil
	})
	if err != nil {
		return fmt.Errorf("update tenant %d: %w", t.ID, err)
	}
	t.Version = version
	t.PartnerID = partner.Int64
	if t.CreatedAt, err = decTime(created); err != nil {
		return err
	}
	if t.UpdatedAt, err = decTime(updated); err != nil {
		return err
	}
	return normalizeTenant(t, j)
}

// stale is the CodePreconditionFailed error of a compare-and-swap that
// lost.
func stale(have, current int64) error {
	return &whitelabel.Error{
		Code:    whitelabel.CodePreconditionFailed,
		Field:   "version",
		Message: whitelabel.ErrPreconditionFailed.Message,
		Err:     fmt.Errorf("version %d is stale, current is %d", have, current),
	}
}
