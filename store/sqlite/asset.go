package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/estatecore/whitelabel"
)

var (
	_ whitelabel.AssetStore         = (*Store)(nil)
	_ whitelabel.EmailTemplateStore = (*Store)(nil)
)

// PutAsset stores a unless its hash is already stored, and records that
// tenantID uses it as typ. It bumps no config version.
func (s *Store) PutAsset(ctx context.Context, tenantID int64, typ whitelabel.AssetType, a *whitelabel.Asset, audit *whitelabel.AuditEntry) error {
	var created string
	err := s.mutate(ctx, "", audit, func(tx *sql.Tx, now time.Time) (change, error) {
		if err := tenantExists(ctx, tx, tenantID); err != nil {
			return change{}, err
		}
		ts := encTime(now)
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO assets (sha256, content_type, size, data, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING`,
			a.SHA256, a.ContentType, a.Size, a.Data, ts); err != nil {
			return change{}, formatError(err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT created_at FROM assets WHERE sha256 = ?`, a.SHA256).Scan(&created); err != nil {
			return change{}, formatError(err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO tenant_assets (tenant_id, sha256, asset_type, created_at) VALUES (?, ?, ?, ?)
			 ON CONFLICT (tenant_id, sha256, asset_type) DO UPDATE SET created_at = excluded.created_at`,
			tenantID, a.SHA256, string(typ), ts); err != nil {
			return change{}, formatError(err)
		}
		return change{tenantID: tenantID, targetID: a.SHA256}, nil
	})
	if err != nil {
		return fmt.Errorf("put asset %s of tenant %d: %w", a.SHA256, tenantID, err)
	}
	a.CreatedAt, err = decTime(created)
	return err
}

// Asset returns one asset with its data, or CodeNotFound.
func (s *Store) Asset(ctx context.Context, sha256 string) (*whitelabel.Asset, error) {
	var (
		a       whitelabel.Asset
		created string
	)
	err := s.r.QueryRowContext(ctx, `SELECT sha256, content_type, size, data, created_at FROM assets WHERE sha256 = ?`, sha256).
		Scan(&a.SHA256, &a.ContentType, &a.Size, &a.Data, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, whitelabel.NotFound("asset")
	}
	if err != nil {
		return nil, fmt.Errorf("get asset: %w", formatError(err))
	}
	if a.CreatedAt, err = decTime(created); err != nil {
		return nil, err
	}
	return &a, nil
}

// ListTenantAssets returns a tenant's uploads, newest first.
func (s *Store) ListTenantAssets(ctx context.Context, tenantID int64) ([]whitelabel.TenantAsset, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT ta.tenant_id, ta.sha256, ta.asset_type, a.content_type, a.size, ta.created_at
		 FROM tenant_assets ta JOIN assets a ON a.sha256 = ta.sha256
		 WHERE ta.tenant_id = ? ORDER BY ta.created_at DESC, ta.sha256, ta.asset_type`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list tenant assets: %w", formatError(err))
	}
	defer rows.Close()
	out := []whitelabel.TenantAsset{}
	for rows.Next() {
		var (
			ta           whitelabel.TenantAsset
			typ, created string
		)
		if err := rows.Scan(&ta.TenantID, &ta.SHA256, &typ, &ta.ContentType, &ta.Size, &created); err != nil {
			return nil, fmt.Errorf("list tenant assets: %w", formatError(err))
		}
		ta.Type = whitelabel.AssetType(typ)
		if ta.CreatedAt, err = decTime(created); err != nil {
			return nil, err
		}
		out = append(out, ta)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tenant assets: %w", formatError(err))
	}
	return out, nil
}

const emailColumns = `tenant_id, name, subject, html, text, created_at, updated_at`

func scanEmail(row interface{ Scan(...any) error }) (*whitelabel.EmailTemplate, error) {
	var (
		t                whitelabel.EmailTemplate
		created, updated string
	)
	if err := row.Scan(&t.TenantID, &t.Name, &t.Subject, &t.HTML, &t.Text, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if t.CreatedAt, err = decTime(created); err != nil {
		return nil, err
	}
	if t.UpdatedAt, err = decTime(updated); err != nil {
		return nil, err
	}
	return &t, nil
}

// PutEmailTemplate creates or replaces one override. It bumps no config
// version.
func (s *Store) PutEmailTemplate(ctx context.Context, t *whitelabel.EmailTemplate, audit *whitelabel.AuditEntry) error {
	var created string
	var now time.Time
	err := s.mutate(ctx, "", audit, func(tx *sql.Tx, n time.Time) (change, error) {
		if err := tenantExists(ctx, tx, t.TenantID); err != nil {
			return change{}, err
		}
		now = n
		ts := encTime(n)
		err := tx.QueryRowContext(ctx,
			`INSERT INTO email_templates (`+emailColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (tenant_id, name) DO UPDATE SET subject = excluded.subject, html = excluded.html,
			   text = excluded.text, updated_at = excluded.updated_at
			 RETURNING created_at`,
			t.TenantID, t.Name, t.Subject, t.HTML, t.Text, ts, ts).Scan(&created)
		if err != nil {
			return change{}, formatError(err)
		}
		return change{tenantID: t.TenantID, targetID: t.Name}, nil
	})
	if err != nil {
		return fmt.Errorf("put email template %s of tenant %d: %w", t.Name, t.TenantID, err)
	}
	t.UpdatedAt = now
	t.CreatedAt, err = decTime(created)
	return err
}

// GetEmailTemplate returns one override, or CodeNotFound.
func (s *Store) GetEmailTemplate(ctx context.Context, tenantID int64, name string) (*whitelabel.EmailTemplate, error) {
	t, err := scanEmail(s.r.QueryRowContext(ctx, `SELECT `+emailColumns+` FROM email_templates WHERE tenant_id = ? AND name = ?`, tenantID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, whitelabel.NotFound(fmt.Sprintf("e-mail template %q of tenant %d", name, tenantID))
	}
	if err != nil {
		return nil, fmt.Errorf("get email template: %w", formatError(err))
	}
	return t, nil
}

// ListEmailTemplates returns a tenant's overrides ordered by name.
func (s *Store) ListEmailTemplates(ctx context.Context, tenantID int64) ([]*whitelabel.EmailTemplate, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+emailColumns+` FROM email_templates WHERE tenant_id = ? ORDER BY name`, tenantID)
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
	err := s.mutate(ctx, "", audit, func(tx *sql.Tx, now time.Time) (change, error) {
		res, err := tx.ExecContext(ctx, `DELETE FROM email_templates WHERE tenant_id = ? AND name = ?`, tenantID, name)
		if err != nil {
			return change{}, formatError(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return change{}, formatError(err)
		} else if n == 0 {
			return change{}, whitelabel.NotFound(fmt.Sprintf("e-mail template %q of tenant %d", name, tenantID))
		}
		return change{tenantID: tenantID, targetID: name}, nil
	})
	if err != nil {
		return fmt.Errorf("delete email template %s of tenant %d: %w", name, tenantID, err)
	}
	return nil
}
