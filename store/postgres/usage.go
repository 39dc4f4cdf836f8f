package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/store/internal/codec"
)

var _ whitelabel.UsageStore = (*Store)(nil)

func dollar(i int) string { return "$" + strconv.Itoa(i) }

var (
	usageUpsertSQL = codec.UsageUpsertSQL(dollar)
	usageTotalSQL  = codec.UsageTotalSQL(dollar)
)

// WriteUsage upserts batch in one transaction (one pipelined round trip),
// replacing rows with the same (EdgeID, TenantID, Minute); see
// whitelabel.UsageWriter. It bumps no config version: usage is not
// configuration.
func (s *Store) WriteUsage(ctx context.Context, batch []whitelabel.UsageRecord) error {
	if len(batch) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for i := range batch {
		a, err := codec.UsageArgs(&batch[i])
		if err != nil {
			return fmt.Errorf("write usage: %w", err)
		}
		b.Queue(usageUpsertSQL, a...)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
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
	rows, err := s.pool.Query(ctx, codec.UsageQuerySQL(dollar, step), q.TenantID, from, to)
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
	err := s.pool.QueryRow(ctx, usageTotalSQL, tenantID, from.Truncate(time.Minute).Unix(), to.Truncate(time.Minute).Unix()).Scan(sums.Dest()...)
	if err != nil {
		return whitelabel.UsageRecord{}, fmt.Errorf("usage total: %w", formatError(err))
	}
	return sums.Record(tenantID, from), nil
}
