package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/store/internal/codec"
)

var _ whitelabel.UsageStore = (*Store)(nil)

func question(int) string { return "?" }

var (
	usageUpsertSQL = codec.UsageUpsertSQL(question)
	usageTotalSQL  = codec.UsageTotalSQL(question)
)

// WriteUsage upserts batch in one transaction, replacing rows with the
// same (EdgeID, TenantID, Minute); see whitelabel.UsageWriter. It bumps
// no config version: usage is not configuration.
func (s *Store) WriteUsage(ctx context.Context, batch []whitelabel.UsageRecord) error {
	if len(batch) == 0 {
		return nil
	}
	args := make([][]any, len(batch))
	for i := range batch {
		a, err := codec.UsageArgs(&batch[i])
		if err != nil {
			return fmt.Errorf("write usage: %w", err)
		}
		args[i] = a
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write usage: %w", formatError(err))
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, usageUpsertSQL)
	if err != nil {
		return fmt.Errorf("write usage: %w", formatError(err))
	}
	defer stmt.Close()
	for _, a := range args {
		if _, err := stmt.ExecContext(ctx, a...); err != nil {
			return fmt.Errorf("write usage: %w", formatError(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write usage: %w", formatError(err))
	}
	return nil
}

// QueryUsage implements whitelabel.UsageStore.
func (s *Store) QueryUsage(ctx context.Context, q whitelabel.UsageQuery) ([]whitelabel.UsageRecord, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	from, to, step := codec.UsageRange(q)
	rows, err := s.r.QueryContext(ctx, codec.UsageQuerySQL(question, step), q.TenantID, from, to)
	if err != nil {
		return nil, fmt.Errorf("query usage: %w", formatError(err))
	}
	defer rows.Close()
	out := []whitelabel.UsageRecord{}
	for rows.Next() {
		var (
			bucket int64
			sums   codec.UsageSums
		)
		if err := rows.Scan(sums.Dest(&bucket)...); err != nil {
			return nil, fmt.Errorf("query usage: %w", formatError(err))
		}
		out = append(out, sums.Record(q.TenantID, time.Unix(bucket, 0)))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query usage: %w", formatError(err))
	}
	return out, nil
}

// UsageTotal implements whitelabel.UsageStore.
func (s *Store) UsageTotal(ctx context.Context, tenantID int64, from, to time.Time) (whitelabel.UsageRecord, error) {
	var sums codec.UsageSums
	err := s.r.QueryRowContext(ctx, usageTotalSQL, tenantID, from.Truncate(time.Minute).Unix(), to.Truncate(time.Minute).Unix()).Scan(sums.Dest()...)
	if err != nil {
		return whitelabel.UsageRecord{}, fmt.Errorf("usage total: %w", formatError(err))
	}
	return sums.Record(tenantID, from), nil
}
