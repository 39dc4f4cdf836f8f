package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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

func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
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
	err = s.mutate(ctx, whitelabel.ChangeTenant, audit, func(tx pgx.Tx, now time.Time) (change, error) {
		if t.PartnerID != 0 {
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM partners WHERE id = $1`, t.PartnerID).Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				return change{}, whitelabel.Invalid("partner_id", "partner %d does not exist", t.PartnerID)
			}
			if err != nil {
				return change{}, formatError(err)
			}
		}
		org = t.OrganizationID
		var err error
		if org == 0 {
			err = tx.QueryRow(ctx,
				`UPDATE organization_id_seq SET next_id = next_id + 1 WHERE id = 1 RETURNING next_id - 1`).Scan(&org)
		} else {
			// Keep the sequence ahead of explicit IDs so it never hands one out again.
			_, err = tx.Exec(ctx,
				`UPDATE organization_id_seq SET next_id = GREATEST(next_id, $1 + 1) WHERE id = 1`, org)
		}
		if err != nil {
			return change{}, fmt.Errorf("organization id: %w", formatError(err))
		}
		err = tx.QueryRow(ctx,
			`INSERT INTO tenants (partner_id, organization_id, tenant_key, display_name, subdomain, contact_email,
			   plan, status, brand_config, feature_flags, resource_quotas, version, created_at, updated_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $12) RETURNING id`,
			nullID(t.PartnerID), org, t.TenantKey, t.DisplayName, t.Subdomain, t.ContactEmail,
			t.Plan, string(t.Status), j.brand, j.flags, j.quotas, now).Scan(&id)
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

func scanTenant(row pgx.Row) (*whitelabel.Tenant, error) {
	var (
		t                    whitelabel.Tenant
		partner              *int64
		status               string
		brand, flags, quotas []byte
	)
	if err := row.Scan(&t.ID, &partner, &t.OrganizationID, &t.TenantKey, &t.DisplayName, &t.Subdomain,
		&t.ContactEmail, &t.Plan, &status, &brand, &flags, &quotas, &t.Version, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return nil, err
	}
	if partner != nil {
		t.PartnerID = *partner
	}
	t.Status = whitelabel.TenantStatus(status)
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	var err error
	if t.BrandConfig, err = codec.DecodeBrand(brand); err != nil {
		return nil, err
	}
	if t.FeatureFlags, err = codec.DecodeFlags(flags); err != nil {
		return nil, err
	}
	if t.ResourceQuotas, err = codec.DecodeQuotas(quotas); err != nil {
		return nil, err
	}
	return &t, nil
}

// GetTenant returns the tenant with the given ID, or a CodeNotFound error.
func (s *Store) GetTenant(ctx context.Context, id int64) (*whitelabel.Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
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
	t, err := scanTenant(s.pool.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE tenant_key = $1`, key))
	if errors.Is(err, pgx.ErrNoRows) {
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
	where, args := []string{"id > $1"}, []any{f.After}
	if f.PartnerID != 0 {
		args = append(args, f.PartnerID)
		where = append(where, fmt.Sprintf("partner_id = $%d", len(args)))
	}
	if f.Status != "" {
		args = append(args, string(f.Status))
		where = append(where, fmt.Sprintf("status = $%d", len(args)))
	}
	args = append(args, codec.Limit(f.Limit, codec.DefaultTenantLimit, codec.MaxTenantLimit))
	rows, err := s.pool.Query(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE `+
		strings.Join(where, " AND ")+fmt.Sprintf(` ORDER BY id LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", formatError(err))
	}
	return collectTenants(rows)
}

func collectTenants(rows pgx.Rows) ([]*whitelabel.Tenant, error) {
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
		created, updated time.Time
		partner          *int64
	)
	err = s.mutate(ctx, whitelabel.ChangeTenant, audit, func(tx pgx.Tx, now time.Time) (change, error) {
		err := tx.QueryRow(ctx,
			`UPDATE tenants SET display_name = $1, subdomain = $2, contact_email = $3, plan = $4, status = $5,
			   brand_config = $6, feature_flags = $7, resource_quotas = $8, version = version + 1, updated_at = $9
			 WHERE id = $10 AND version = $11 RETURNING version, created_at, updated_at, partner_id`,
			t.DisplayName, t.Subdomain, t.ContactEmail, t.Plan, string(t.Status),
			j.brand, j.flags, j.quotas, now, t.ID, t.Version).Scan(&version, &created, &updated, &partner)
		if errors.Is(err, pgx.ErrNoRows) {
			var current int64
			err := tx.QueryRow(ctx, `SELECT version FROM tenants WHERE id = $1`, t.ID).Scan(&current)
			if errors.Is(err, pgx.ErrNoRows) {
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
		var pid int64
		if partner != nil {
			pid = *partner
		}
		return change{tenantID: t.ID, partnerID: pid, targetID: strconv.FormatInt(t.ID, 10)}, nil
	})
	if err != nil {
		return fmt.Errorf("update tenant %d: %w", t.ID, err)
	}
	t.Version = version
	t.PartnerID = 0
	if partner != nil {
		t.PartnerID = *partner
	}
	t.CreatedAt, t.UpdatedAt = created.UTC(), updated.UTC()
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
