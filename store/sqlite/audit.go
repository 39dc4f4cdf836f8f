package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/store/internal/codec"
)

// insertAudit writes a (whose At is set) and returns its ID.
func insertAudit(ctx context.Context, tx *sql.Tx, a *whitelabel.AuditEntry) (int64, error) {
	before, err := codec.AuditState("before", a.Before)
	if err != nil {
		return 0, err
	}
	after, err := codec.AuditState("after", a.After)
	if err != nil {
		return 0, err
	}
	var id int64
	err = tx.QueryRowContext(ctx,
		`INSERT INTO audit_log (at, actor, action, target_type, target_id, partner_id, tenant_id,
		   before_state, after_state, request_id, client_addr)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		encTime(a.At), a.Actor, a.Action, a.TargetType, a.TargetID, a.PartnerID, a.TenantID,
		before, after, a.RequestID, a.ClientAddr).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("write audit entry: %w", formatError(err))
	}
	if a.Before, err = codec.DecodeAuditState(before); err != nil {
		return 0, err
	}
	a.After, err = codec.DecodeAuditState(after)
	return id, err
}

// ListAudit returns the audit entries f selects, newest first, at most
// f.Limit of them (default 100, at most 500).
func (s *Store) ListAudit(ctx context.Context, f whitelabel.AuditFilter) ([]*whitelabel.AuditEntry, error) {
	var (
		where []string
		args  []any
	)
	if f.PartnerID != 0 {
		where, args = append(where, "partner_id = ?"), append(args, f.PartnerID)
	}
	if f.TenantID != 0 {
		where, args = append(where, "tenant_id = ?"), append(args, f.TenantID)
	}
	if f.Before != 0 {
		where, args = append(where, "id < ?"), append(args, f.Before)
	}
	q := `SELECT id, at, actor, action, target_type, target_id, partner_id, tenant_id, before_state, after_state,
	        request_id, client_addr FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, codec.Limit(f.Limit, codec.DefaultAuditLimit, codec.MaxAuditLimit))
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", formatError(err))
	}
	defer rows.Close()
	out := []*whitelabel.AuditEntry{}
	for rows.Next() {
		var (
			a             whitelabel.AuditEntry
			at            string
			before, after sql.NullString
		)
		if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Action, &a.TargetType, &a.TargetID, &a.PartnerID, &a.TenantID,
			&before, &after, &a.RequestID, &a.ClientAddr); err != nil {
			return nil, fmt.Errorf("list audit: %w", formatError(err))
		}
		if a.At, err = decTime(at); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		if a.Before, err = codec.DecodeAuditState(nullPtr(before)); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		if a.After, err = codec.DecodeAuditState(nullPtr(after)); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		out = append(out, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit: %w", formatError(err))
	}
	return out, nil
}

func nullPtr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}
