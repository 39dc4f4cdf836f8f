package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/store/internal/codec"
)

var _ whitelabel.SSOStore = (*Store)(nil)

const ssoColumns = `tenant_id, provider, name, settings, sealed_secrets, protected_paths, public_paths,
	allowed_email_domains, allowed_groups, allow_idp_initiated, created_at, updated_at`

func scanSSO(row pgx.Row) (*whitelabel.SSOConfig, error) {
	var (
		c                               whitelabel.SSOConfig
		provider                        string
		settings, prot, pub, doms, grps []byte
	)
	if err := row.Scan(&c.TenantID, &provider, &c.Name, &settings, &c.SealedSecrets, &prot, &pub, &doms, &grps,
		&c.AllowIdPInitiated, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	c.Provider = whitelabel.SSOProviderKind(provider)
	if err := codec.DecodeSSO(&c, settings, prot, pub, doms, grps); err != nil {
		return nil, err
	}
	return &c, nil
}

// PutSSOConfig creates or replaces the configuration of (c.TenantID,
// c.Provider), filling CreatedAt (kept on replace) and UpdatedAt. A
// missing tenant is CodeNotFound. It records a ChangeSSO keyed by the
// provider.
func (s *Store) PutSSOConfig(ctx context.Context, c *whitelabel.SSOConfig, audit *whitelabel.AuditEntry) error {
	n := c.Clone()
	codec.NormalizeSSO(n)
	cols, err := codec.EncodeSSO(n)
	if err != nil {
		return err
	}
	err = s.mutate(ctx, whitelabel.ChangeSSO, audit, func(tx pgx.Tx, now time.Time) (change, error) {
		if err := tenantExists(ctx, tx, n.TenantID); err != nil {
			return change{}, err
		}
		err := tx.QueryRow(ctx,
			`INSERT INTO sso_configs (`+ssoColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
			 ON CONFLICT (tenant_id, provider) DO UPDATE SET name = excluded.name, settings = excluded.settings,
			   sealed_secrets = excluded.sealed_secrets, protected_paths = excluded.protected_paths,
			   public_paths = excluded.public_paths, allowed_email_domains = excluded.allowed_email_domains,
			   allowed_groups = excluded.allowed_groups, allow_idp_initiated = excluded.allow_idp_initiated,
			   updated_at = excluded.updated_at
			 RETURNING created_at`,
			n.TenantID, string(n.Provider), n.Name, cols.Settings, n.SealedSecrets, cols.Protected, cols.Public,
			cols.Domains, cols.Groups, n.AllowIdPInitiated, now).Scan(&n.CreatedAt)
		if err != nil {
			return change{}, formatError(err)
		}
		n.CreatedAt, n.UpdatedAt = n.CreatedAt.UTC(), now
		return change{tenantID: n.TenantID, key: string(n.Provider), targetID: string(n.Provider)}, nil
	})
	if err != nil {
		return fmt.Errorf("put sso config %s of tenant %d: %w", c.Provider, c.TenantID, err)
	}
	*c = *n
	return nil
}

// GetSSOConfig returns one configuration, or CodeNotFound.
func (s *Store) GetSSOConfig(ctx context.Context, tenantID int64, provider whitelabel.SSOProviderKind) (*whitelabel.SSOConfig, error) {
	c, err := scanSSO(s.pool.QueryRow(ctx, `SELECT `+ssoColumns+` FROM sso_configs WHERE tenant_id = $1 AND provider = $2`,
		tenantID, string(provider)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, whitelabel.NotFound(fmt.Sprintf("sso provider %q of tenant %d", provider, tenantID))
	}
	if err != nil {
		return nil, fmt.Errorf("get sso config: %w", formatError(err))
	}
	return c, nil
}

// ListSSOConfigs returns a tenant's configurations ordered by provider.
func (s *Store) ListSSOConfigs(ctx context.Context, tenantID int64) ([]*whitelabel.SSOConfig, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+ssoColumns+` FROM sso_configs WHERE tenant_id = $1 ORDER BY provider`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list sso configs: %w", formatError(err))
	}
	defer rows.Close()
	out := []*whitelabel.SSOConfig{}
	for rows.Next() {
		c, err := scanSSO(rows)
		if err != nil {
			return nil, fmt.Errorf("list sso configs: %w", formatError(err))
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sso configs: %w", formatError(err))
	}
	return out, nil
}

// DeleteSSOConfig removes one configuration, or returns CodeNotFound. It
// records a ChangeSSO.
func (s *Store) DeleteSSOConfig(ctx context.Context, tenantID int64, provider whitelabel.SSOProviderKind, audit *whitelabel.AuditEntry) error {
	err := s.mutate(ctx, whitelabel.ChangeSSO, audit, func(tx pgx.Tx, now time.Time) (change, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM sso_configs WHERE tenant_id = $1 AND provider = $2`, tenantID, string(provider))
		if err != nil {
			return change{}, formatError(err)
		}
		if tag.RowsAffected() == 0 {
			return change{}, whitelabel.NotFound(fmt.Sprintf("sso provider %q of tenant %d", provider, tenantID))
		}
		return change{tenantID: tenantID, key: string(provider), targetID: string(provider)}, nil
	})
	if err != nil {
		return fmt.Errorf("delete sso config %s of tenant %d: %w", provider, tenantID, err)
	}
	return nil
}

// loadSSOConfigs adds the SSO configurations of the tenants in out
// (found through index) to them; where selects tenant ids as in
// loadConfigs.
func loadSSOConfigs(ctx context.Context, tx pgx.Tx, where string, args []any, out []whitelabel.TenantConfig, index map[int64]int) error {
	rows, err := tx.Query(ctx, `SELECT `+ssoColumns+` FROM sso_configs `+where+` ORDER BY tenant_id, provider`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanSSO(rows)
		if err != nil {
			return err
		}
		if i, ok := index[c.TenantID]; ok {
			out[i].SSO = append(out[i].SSO, *c)
		}
	}
	return rows.Err()
}

// CreateSession stores a session; an existing ID is CodeConflict.
func (s *Store) CreateSession(ctx context.Context, ss *whitelabel.SSOSession) error {
	data, err := json.Marshal(ss)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO sso_sessions (id, tenant_id, data, expires_at) VALUES ($1, $2, $3, $4)`,
		ss.ID, ss.TenantID, string(data), ss.ExpiresAt); err != nil {
		return fmt.Errorf("create session: %w", formatError(err))
	}
	return nil
}

// GetSession returns the unexpired session with id, or CodeNotFound.
func (s *Store) GetSession(ctx context.Context, id string, now time.Time) (*whitelabel.SSOSession, error) {
	var data []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM sso_sessions WHERE id = $1 AND expires_at > $2`, id, now).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, whitelabel.NotFound("session")
	}
	if err != nil {
		return nil, fmt.Errorf("get session: %w", formatError(err))
	}
	var ss whitelabel.SSOSession
	if err := json.Unmarshal(data, &ss); err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	return &ss, nil
}

// DeleteSession removes a session; a missing one is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sso_sessions WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete session: %w", formatError(err))
	}
	return nil
}

// DeleteTenantSessions removes every session of a tenant.
func (s *Store) DeleteTenantSessions(ctx context.Context, tenantID int64) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sso_sessions WHERE tenant_id = $1`, tenantID); err != nil {
		return fmt.Errorf("delete tenant sessions: %w", formatError(err))
	}
	return nil
}

// PutLoginState stores st, then removes the same browser's oldest states
// beyond maxPerBrowser and every expired state, in one transaction.
func (s *Store) PutLoginState(ctx context.Context, st *whitelabel.SSOLoginState, maxPerBrowser int) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("put login state: %w", err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx,
			`INSERT INTO sso_login_states (state, tenant_id, browser, data, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			st.State, st.TenantID, st.Browser, string(data), st.CreatedAt, st.ExpiresAt); err != nil {
			return err
		}
		if maxPerBrowser > 0 {
			if _, err := tx.Exec(ctx,
				`DELETE FROM sso_login_states WHERE tenant_id = $1 AND browser = $2 AND state NOT IN (
				   SELECT state FROM sso_login_states WHERE tenant_id = $1 AND browser = $2
				   ORDER BY created_at DESC, state DESC LIMIT $3)`,
				st.TenantID, st.Browser, maxPerBrowser); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM sso_login_states WHERE expires_at <= $1`, st.CreatedAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("put login state: %w", formatError(err))
	}
	return nil
}

// ConsumeLoginState removes and returns the state, atomically (one
// DELETE … RETURNING), or returns CodeNotFound.
func (s *Store) ConsumeLoginState(ctx context.Context, state string, now time.Time) (*whitelabel.SSOLoginState, error) {
	var (
		data    []byte
		expires time.Time
	)
	err := s.pool.QueryRow(ctx, `DELETE FROM sso_login_states WHERE state = $1 RETURNING data, expires_at`, state).Scan(&data, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, whitelabel.NotFound("login state")
	}
	if err != nil {
		return nil, fmt.Errorf("consume login state: %w", formatError(err))
	}
	if !expires.After(now) {
		return nil, whitelabel.NotFound("login state")
	}
	var st whitelabel.SSOLoginState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("consume login state: %w", err)
	}
	return &st, nil
}

// DeleteExpiredSSO removes sessions and login states that expired at or
// before now.
func (s *Store) DeleteExpiredSSO(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, q := range []string{`DELETE FROM sso_sessions WHERE expires_at <= $1`, `DELETE FROM sso_login_states WHERE expires_at <= $1`} {
		tag, err := s.pool.Exec(ctx, q, now)
		if err != nil {
			return total, fmt.Errorf("delete expired sso: %w", formatError(err))
		}
		total += tag.RowsAffected()
	}
	return total, nil
}
