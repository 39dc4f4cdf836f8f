package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/store/internal/codec"
)

// CreatePartner inserts p with its first key (which may be nil), filling
// p.ID, p.CreatedAt and key.PartnerID (and key.CreatedAt when zero). It
// records a ChangePartner. A key ID already in use is a CodeConflict
// error with Field "id".
func (s *Store) CreatePartner(ctx context.Context, p *whitelabel.Partner, key *whitelabel.APIKey, audit *whitelabel.AuditEntry) error {
	var (
		id      int64
		created time.Time
		k       whitelabel.APIKey
	)
	err := s.mutate(ctx, whitelabel.ChangePartner, audit, func(tx pgx.Tx, now time.Time) (change, error) {
		err := tx.QueryRow(ctx,
			`INSERT INTO partners (name, contact_email, default_revenue_share, is_active, created_at)
			 VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			p.Name, p.ContactEmail, codec.Percent(p.DefaultRevenueShare), p.IsActive, now).Scan(&id)
		if err != nil {
			return change{}, formatError(err)
		}
		created = now
		if key != nil {
			k = *key
			k.PartnerID = id
			if err := insertKey(ctx, tx, &k, now); err != nil {
				return change{}, err
			}
		}
		sid := strconv.FormatInt(id, 10)
		return change{partnerID: id, key: sid, targetID: sid}, nil
	})
	if err != nil {
		return fmt.Errorf("create partner: %w", err)
	}
	p.ID, p.CreatedAt = id, created
	p.DefaultRevenueShare = codec.Percent(p.DefaultRevenueShare)
	if key != nil {
		*key = k
	}
	return nil
}

func insertKey(ctx context.Context, tx pgx.Tx, k *whitelabel.APIKey, now time.Time) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now
	}
	k.CreatedAt = codec.Time(k.CreatedAt)
	k.ExpiresAt = codec.TimePtr(k.ExpiresAt)
	_, err := tx.Exec(ctx,
		`INSERT INTO partner_api_keys (id, partner_id, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		k.ID, k.PartnerID, k.Hash, k.CreatedAt, k.ExpiresAt)
	return formatError(err)
}

const partnerColumns = `id, name, contact_email, default_revenue_share::float8, is_active, created_at`

func scanPartner(row pgx.Row) (*whitelabel.Partner, error) {
	var p whitelabel.Partner
	if err := row.Scan(&p.ID, &p.Name, &p.ContactEmail, &p.DefaultRevenueShare, &p.IsActive, &p.CreatedAt); err != nil {
		return nil, err
	}
	p.CreatedAt = p.CreatedAt.UTC()
	return &p, nil
}

// GetPartner returns the partner with the given ID, or a CodeNotFound
// error.
func (s *Store) GetPartner(ctx context.Context, id int64) (*whitelabel.Partner, error) {
	p, err := scanPartner(s.pool.QueryRow(ctx, `SELECT `+partnerColumns+` FROM partners WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, whitelabel.NotFound(fmt.Sprintf("partner %d", id))
	}
	if err != nil {
		return nil, fmt.Errorf("get partner %d: %w", id, formatError(err))
	}
	return p, nil
}

// ListPartners returns all partners ordered by ID.
func (s *Store) ListPartners(ctx context.Context) ([]*whitelabel.Partner, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+partnerColumns+` FROM partners ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list partners: %w", formatError(err))
	}
	defer rows.Close()
	out := []*whitelabel.Partner{}
	for rows.Next() {
		p, err := scanPartner(rows)
		if err != nil {
			return nil, fmt.Errorf("list partners: %w", formatError(err))
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list partners: %w", formatError(err))
	}
	return out, nil
}

// UpdatePartner writes p's name, contact e-mail, revenue share and
// is_active, fills p.CreatedAt, and records a ChangePartner (a partner's
// is_active matters to the edge). A missing partner is CodeNotFound.
func (s *Store) UpdatePartner(ctx context.Context, p *whitelabel.Partner, audit *whitelabel.AuditEntry) error {
	var created time.Time
	err := s.mutate(ctx, whitelabel.ChangePartner, audit, func(tx pgx.Tx, now time.Time) (change, error) {
		err := tx.QueryRow(ctx,
			`UPDATE partners SET name = $1, contact_email = $2, default_revenue_share = $3, is_active = $4
			 WHERE id = $5 RETURNING created_at`,
			p.Name, p.ContactEmail, codec.Percent(p.DefaultRevenueShare), p.IsActive, p.ID).Scan(&created)
		if errors.Is(err, pgx.ErrNoRows) {
			return change{}, whitelabel.NotFound(fmt.Sprintf("partner %d", p.ID))
		}
		if err != nil {
			return change{}, formatError(err)
		}
		sid := strconv.FormatInt(p.ID, 10)
		return change{partnerID: p.ID, key: sid, targetID: sid}, nil
	})
	if err != nil {
		return fmt.Errorf("update partner %d: %w", p.ID, err)
	}
	p.DefaultRevenueShare = codec.Percent(p.DefaultRevenueShare)
	p.CreatedAt = created.UTC()
	return nil
}

// RotateAPIKey adds key (filling CreatedAt when zero) and makes every
// other unexpired key of key.PartnerID expire at oldExpiresAt, or keeps
// its earlier expiry. It records no change: keys are not edge
// configuration. A missing partner is CodeNotFound.
func (s *Store) RotateAPIKey(ctx context.Context, key *whitelabel.APIKey, oldExpiresAt time.Time, audit *whitelabel.AuditEntry) error {
	k := *key
	err := s.mutate(ctx, "", audit, func(tx pgx.Tx, now time.Time) (change, error) {
		// FOR UPDATE: concurrent rotations of one partner take turns.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM partners WHERE id = $1 FOR UPDATE`, k.PartnerID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return change{}, whitelabel.NotFound(fmt.Sprintf("partner %d", k.PartnerID))
		}
		if err != nil {
			return change{}, formatError(err)
		}
		if err := insertKey(ctx, tx, &k, now); err != nil {
			return change{}, err
		}
		old := codec.Time(oldExpiresAt)
		_, err = tx.Exec(ctx,
			`UPDATE partner_api_keys SET expires_at = $1
			 WHERE partner_id = $2 AND id <> $3 AND (expires_at IS NULL OR expires_at > $1)`,
			old, k.PartnerID, k.ID)
		if err != nil {
			return change{}, formatError(err)
		}
		return change{partnerID: k.PartnerID, targetID: strconv.FormatInt(k.PartnerID, 10)}, nil
	})
	if err != nil {
		return fmt.Errorf("rotate api key of partner %d: %w", key.PartnerID, err)
	}
	*key = k
	return nil
}

const keyColumns = `k.id, k.partner_id, k.hash, k.created_at, k.expires_at`

func scanKey(row pgx.Row, extra ...any) (*whitelabel.APIKey, error) {
	var k whitelabel.APIKey
	if err := row.Scan(append([]any{&k.ID, &k.PartnerID, &k.Hash, &k.CreatedAt, &k.ExpiresAt}, extra...)...); err != nil {
		return nil, err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt = utcPtr(k.ExpiresAt)
	return &k, nil
}

// APIKey returns the key with the given public id and its partner, or a
// CodeNotFound error. It does not check expiry: see APIKey.Matches.
func (s *Store) APIKey(ctx context.Context, id string) (*whitelabel.APIKey, *whitelabel.Partner, error) {
	var p whitelabel.Partner
	k, err := scanKey(s.pool.QueryRow(ctx,
		`SELECT `+keyColumns+`, p.id, p.name, p.contact_email, p.default_revenue_share::float8, p.is_active, p.created_at
		 FROM partner_api_keys k JOIN partners p ON p.id = k.partner_id WHERE k.id = $1`, id),
		&p.ID, &p.Name, &p.ContactEmail, &p.DefaultRevenueShare, &p.IsActive, &p.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, whitelabel.NotFound("api key")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get api key: %w", formatError(err))
	}
	p.CreatedAt = p.CreatedAt.UTC()
	return k, &p, nil
}

// ListAPIKeys returns a partner's keys, newest first (an unknown partner
// has none).
func (s *Store) ListAPIKeys(ctx context.Context, partnerID int64) ([]*whitelabel.APIKey, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT `+keyColumns+` FROM partner_api_keys k WHERE k.partner_id = $1 ORDER BY k.created_at DESC, k.id COLLATE "C" DESC`, partnerID)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", formatError(err))
	}
	defer rows.Close()
	out := []*whitelabel.APIKey{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list api keys: %w", formatError(err))
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api keys: %w", formatError(err))
	}
	return out, nil
}
