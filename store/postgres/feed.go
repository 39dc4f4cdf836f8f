package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/store/internal/codec"
)

// ConfigVersion returns the current config version (0 before any change).
func (s *Store) ConfigVersion(ctx context.Context) (int64, error) {
	v, err := configVersion(ctx, s.pool)
	if err != nil {
		return 0, fmt.Errorf("config version: %w", formatError(err))
	}
	return v, nil
}

func configVersion(ctx context.Context, q queryer) (int64, error) {
	var v int64
	err := q.QueryRow(ctx, `SELECT version FROM config_version WHERE id = 1`).Scan(&v)
	return v, err
}

// ChangesSince returns up to limit changes with Version > after, in
// version order (limit <= 0 means 1000; at most 10000).
func (s *Store) ChangesSince(ctx context.Context, after int64, limit int) ([]whitelabel.Change, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT version, kind, tenant_id, key, at FROM config_changes WHERE version > $1 ORDER BY version LIMIT $2`,
		after, codec.Limit(limit, codec.DefaultChangeLimit, codec.MaxChangeLimit))
	if err != nil {
		return nil, fmt.Errorf("changes since %d: %w", after, formatError(err))
	}
	defer rows.Close()
	out := []whitelabel.Change{}
	for rows.Next() {
		var (
			c    whitelabel.Change
			kind string
		)
		if err := rows.Scan(&c.Version, &kind, &c.TenantID, &c.Key, &c.At); err != nil {
			return nil, fmt.Errorf("changes since %d: %w", after, formatError(err))
		}
		c.Kind, c.At = whitelabel.ChangeKind(kind), c.At.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("changes since %d: %w", after, formatError(err))
	}
	return out, nil
}

// WaitForChange blocks until the config version exceeds after or ctx
// ends, and returns the version it saw. It wakes on the NOTIFY every
// mutation sends (from any process), on writes through this Store, and
// every PollInterval regardless, so a change made while the LISTEN
// connection was down is still seen. When ctx ends it returns ctx.Err().
func (s *Store) WaitForChange(ctx context.Context, after int64) (int64, error) {
	s.startListening()
	tick := time.NewTicker(s.poll)
	defer tick.Stop()
	for {
		wake := s.wake.C() // before the read, so a change in between still wakes us
		v, err := s.ConfigVersion(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, fmt.Errorf("wait for change: %w", err)
		}
		if v > after {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-wake:
		case <-tick.C:
		}
	}
}

// LoadConfig returns every tenant with its domains, ordered by tenant ID,
// and the config version they reflect, read in one REPEATABLE READ
// transaction.
func (s *Store) LoadConfig(ctx context.Context) (int64, []whitelabel.TenantConfig, error) {
	var (
		version int64
		out     []whitelabel.TenantConfig
	)
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		var err error
		if version, err = configVersion(ctx, tx); err != nil {
			return err
		}
		out, err = loadConfigs(ctx, tx, "", nil)
		return err
	})
	if err != nil {
		return 0, nil, fmt.Errorf("load config: %w", formatError(err))
	}
	return version, out, nil
}

// LoadTenantConfigs returns the named tenants with their domains, ordered
// by tenant ID; IDs that do not exist are left out.
func (s *Store) LoadTenantConfigs(ctx context.Context, ids []int64) ([]whitelabel.TenantConfig, error) {
	if len(ids) == 0 {
		return []whitelabel.TenantConfig{}, nil
	}
	var out []whitelabel.TenantConfig
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = loadConfigs(ctx, tx, `WHERE id = ANY($1)`, ids)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load tenant configs: %w", formatError(err))
	}
	return out, nil
}

// readTx runs fn in a read-only REPEATABLE READ transaction: every
// statement sees one snapshot.
func (s *Store) readTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// loadConfigs reads the tenants matching where (with arg, if not nil)
// and their domains.
func loadConfigs(ctx context.Context, tx pgx.Tx, where string, arg any) ([]whitelabel.TenantConfig, error) {
	var args []any
	if arg != nil {
		args = []any{arg}
	}
	rows, err := tx.Query(ctx, `SELECT `+tenantColumns+` FROM tenants `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	tenants, err := collectTenants(rows)
	if err != nil {
		return nil, err
	}
	out := make([]whitelabel.TenantConfig, len(tenants))
	index := make(map[int64]int, len(tenants))
	for i, t := range tenants {
		out[i] = whitelabel.TenantConfig{Tenant: *t, Domains: []whitelabel.TenantDomain{}}
		index[t.ID] = i
	}
	dwhere := ""
	if where != "" {
		dwhere = `WHERE tenant_id IN (SELECT id FROM tenants ` + where + `)`
	}
	rows, err = tx.Query(ctx, `SELECT `+domainColumns+` FROM tenant_domains `+dwhere+` ORDER BY tenant_id, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDomain(rows)
		if err != nil {
			return nil, err
		}
		if i, ok := index[d.TenantID]; ok {
			out[i].Domains = append(out[i].Domains, *d)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	return out, loadSSOConfigs(ctx, tx, dwhere, args, out, index)
}
