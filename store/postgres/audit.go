package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/store/internal/codec"
)

// insertAudit writes a (whose At is set) and returns its ID.
func insertAudit(ctx context.Context, tx pgx.Tx, a *whitelabel.AuditEntry) (int64, error) {
	before, err := codec.AuditState("before", a.Before)
	if err != nil {
		return 0, err
	}
	after, err := codec.AuditState("after", a.After)
	if err != nil {
		return 0, err
	}
	var id int64
	err = tx.QueryRow(ctx,
		`INSERT INTO audit_log (at, actor, action, target_type, target_id, partner_id, tenant_id,
		   before_state, after_state, request_id, client_addr)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		a.At, a.Actor, a.Action, a.TargetType, a.TargetID, a.PartnerID, a.TenantID,
		jsonArg(before), jsonArg(after), a.RequestID, a.ClientAddr).Scan(&id)
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
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.PartnerID != 0 {
		add("partner_id = $%d", f.PartnerID)
	}
	if f.TenantID != 0 {
		add("tenant_id = $%d", f.TenantID)
	}
	if f.Before != 0 {
		add("id < $%d", f.Before)
	}
	q := `SELECT id, at, actor, action, target_type, target_id, partner_id, tenant_id, before_state::text, after_state::text,
	        request_id, client_addr FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, codec.Limit(f.Limit, codec.DefaultAuditLimit, codec.MaxAuditLimit))
	rows, err := s.pool.Query(ctx, q+fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", formatError(err))
	}
	defer rows.Close()
	out := []*whitelabel.AuditEntry{}
	for rows.Next() {
		var (
			a             whitelabel.AuditEntry
			before, after *string
		)
		if err := rows.Scan(&a.ID, &a.At, &a.Actor, &a.Action, &a.TargetType, &a.TargetID, &a.PartnerID, &a.TenantID,
			&before, &after, &a.RequestID, &a.ClientAddr); err != nil {
			return nil, fmt.Errorf("list audit: %w", formatError(err))
		}
		a.At = a.At.UTC()
		if a.Before, err = codec.DecodeAuditState(before); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		if a.After, err = codec.DecodeAuditState(after); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		out = append(out, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit: %w", formatError(err))
	}
	return out, nil
}
