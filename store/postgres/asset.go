package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/estatecore/whitelabel"
)

var (
	_ whitelabel.AssetStore         = (*Store)(nil)
	_ whitelabel.EmailTemplateStore = (*Store)(nil)
)

// PutAsset stores a unless its hash is already stored, and records that
// tenantID uses it as typ. It bumps no config version.
func (s *Store) PutAsset(ctx context.Context, tenantID int64, typ whitelabel.AssetType, a *whitelabel.Asset, audit *whitelabel.AuditEntry) error {
	var created time.Time
	err := s.mutate(ctx, "", audit, func(tx pgx.Tx, now time.Time) (change, error) {
		if err := tenantExists(ctx, tx, tenantID); err != nil {
			return change{}, err
		}
		if _, err := tx.Exec(ctx,
			`INSERT INTO assets (sha256, content_type, size, data, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING`,
			a.SHA256, a.ContentType, a.Size, a.Data, now); err != nil {
			return change{}, formatError(err)
		}
		if err := tx.QueryRow(ctx, `SELECT created_at FROM assets WHERE sha256 = $1`, a.SHA256).Scan(&created); err != nil {
			return change{}, formatError(err)
		}
		if _, err := tx.Exec(ctx,
			`INSERT INTO tenant_assets (tenant_id, sha256, asset_type, created_at) VALUES ($1, $2, $3, $4)
			 ON CONFLICT (tenant_id, sha256, asset_type) DO UPDATE SET created_at = excluded.created_at`,
			tenantID, a.SHA256, string(typ), now); err != nil {
			return change{}, formatError(err)
		}
		return change{tenantID: tenantID, targetID: a.SHA256}, nil
	})
	if err != nil {
		return fmt.Errorf("put asset %s of tenant %d: %w", a.SHA256, tenantID, err)
	}
	a.CreatedAt = created.UTC()
	return nil
}

// Asset returns one asset with its data, or CodeNotFound.
func (s *Store) Asset(ctx context.Context, sha256 string) (*whitelabel.Asset, error) {
	var a whitelabel.Asset
	err := s.pool.QueryRow(ctx, `SELECT sha256, content_type, size, data, created_at FROM assets WHERE sha256 = $1`, sha256).
		Scan(&a.SHA256, &a.ContentType, &a.Size, &a.Data, &a.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, whitelabel.NotFound("asset")
	}
	if err != nil {
		return nil, fmt.Errorf("get asset: %w", formatError(err))
	}
	a.CreatedAt = a.CreatedAt.UTC()
	return &a, nil
}

// ListTenantAssets returns a tenant's uploads, newest first.
func (s *Store) ListTenantAssets(ctx context.Context, tenantID int64) ([]whitelabel.TenantAsset, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT ta.tenant_id, ta.sha256, ta.asset_type, a.content_type, a.size, ta.created_at
		 FROM tenant_assets ta JOIN assets a ON a.sha256 = ta.sha256
		 WHERE ta.tenant_id = $1 ORDER BY ta.created_at DESC, ta.sha256, ta.asset_type`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list tenant assets: %w", formatError(err))
	}
	defer rows.Close()
	out := []whitelabel.TenantAsset{}
	for rows.Next() {
		var (
			ta  whitelabel.TenantAsset
			typ string
		)
		if err := rows.Scan(&ta.TenantID, &ta.SHA256, &typ, &ta.ContentType, &ta.Size, &ta.CreatedAt); err != nil {
			return nil, fmt.Errorf("list tenant assets: %w", formatError(err))
		}
		ta.Type = whitelabel.AssetType(typ)
		ta.CreatedAt = ta.CreatedAt.UTC()
		out = append(out, ta)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tenant assets: %w", formatError(err))
	}
	return out, nil
}

const emailColumns = `tenant_id, name, subject, html, text, created_at, updated_at`

func scanEmail(row pgx.Row) (*whitelabel.EmailTemplate, error) {
	var t whitelabel.EmailTemplate
	if err := row.Scan(&t.TenantID, &t.Name, &t.Subject, &t.HTML, &t.Text, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return &t, nil
}

// PutEmailTemplate creates or replaces one override. It bumps no config
// version.
func (s *Store) PutEmailTemplate(ctx context.Context, t *whitelabel.EmailTemplate, audit *whitelabel.AuditEntry) error {
	var created, updated time.Time
	err := s.mutate(ctx, "", audit, func(tx pgx.Tx, now time.Time) (change, error) {
		if err := tenantExists(ctx, tx, t.TenantID); err != nil {
			return change{}, err
		}
		err := tx.QueryRow(ctx,
			`INSERT INTO email_templates (`+emailColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $6)
			 ON CONFLICT (tenant_id, name) DO UPDATE SET subject = excluded.subject, html = excluded.html,
			   text = excluded.text, updated_at = excluded.updated_at
			 RETURNING created_at`,
			t.TenantID, t.Name, t.Subject, t.HTML, t.Text, now).Scan(&created)
		if err != nil {
			return change{}, formatError(err)
		}
		updated = now
		return change{tenantID: t.TenantID, targetID: t.Name}, nil
	})
	if err != nil {
		return fmt.Errorf("put email template %s of tenant %d: %w", t.Name, t.TenantID, err)
	}
	t.CreatedAt, t.UpdatedAt = created.UTC(), updated
	return nil
}

// GetEmailTemplate returns one override, or CodeNotFound.
func (s *Store) GetEmailTemplate(ctx context.Context, tenantID int64, name string) (*whitelabel.EmailTemplate, error) {
	t, err := scanEmail(s.pool.QueryRow(ctx, `SELECT `+emailColumns+` FROM email_templates WHERE tenant_id = $1 AND name = $2`, tenantID, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, whitelabel.NotFound(fmt.Sprintf("e-mail template %q of tenant %d", name, tenantID))
	}
	if err != nil {
		return nil, fmt.Errorf("get email template: %w", formatError(err))
	}
	return t, nil
}

// ListEmailTemplates returns a tenant's overrides ordered by name.
func (s *Store) ListEmailTemplates(ctx context.Context, tenantID int64) ([]*whitelabel.EmailTemplate, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+emailColumns+` FROM email_templates WHERE tenant_id = $1 ORDER BY name`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list email templates: %w", formatError(err))
	}
	defer rows.Close()
	out := []*whitelabel.EmailTemplate{}
	for rows.Next() {
		t, err := scanEmail(rows)
		if err != nil {
			return nil, fmt.Errorf("list email templates: %w", formatError(err))
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list email templates: %w", formatError(err))
	}
	return out, nil
}

// DeleteEmailTemplate removes one override, or returns CodeNotFound.
func (s *Store) DeleteEmailTemplate(ctx context.Context, tenantID int64, name string, audit *whitelabel.AuditEntry) error {
	err := s.mutate(ctx, "", audit, func(tx pgx.Tx, now time.Time) (change, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM email_templates WHERE tenant_id = $1 AND name = $2`, tenantID, name)
		if err != nil {
			return change{}, formatError(err)
		}
		if tag.RowsAffected() == 0 {
			return change{}, whitelabel.NotFound(fmt.Sprintf("e-mail template %q of tenant %d", name, tenantID))
		}
		return change{tenantID: tenantID, targetID: name}, nil
	})
	if err != nil {
		return fmt.Errorf("delete email template %s of tenant %d: %w", name, tenantID, err)
	}
	return nil
}
