package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of CertStorageOptions.
const (
	DefaultLockLease        = time.Minute
	DefaultLockPollInterval = time.Second
)

// CertStorageOptions configures CertStorage. Zero fields take defaults.
type CertStorageOptions struct {
	// LockLease is how long a lock outlives its holder's last refresh.
	// The holder refreshes it every LockLease/3 while it lives, so a
	// dead holder's lock is free again at most LockLease after it died.
	// Zero means DefaultLockLease (1m).
	LockLease time.Duration
	// LockPollInterval is how often a blocked Lock retries. Zero means
	// DefaultLockPollInterval (1s).
	LockPollInterval time.Duration
	// Logger receives lost-lease warnings. Nil means slog.Default().
	Logger *slog.Logger
}

// CertStorage is a certmagic.Storage in the store's PostgreSQL database
// (tables certmagic_data and certmagic_locks, migration 00002), so that
// every edge on one database shares certificates, ACME accounts and
// challenge tokens, and only one edge at a time orders a given
// certificate. It is safe for concurrent use by any number of processes.
//
// Keys are slash-separated paths; a "directory" is any prefix of stored
// keys. Missing keys are reported with errors wrapping fs.ErrNotExist.
//
// Locks are leases in certmagic_locks, taken with one atomic
// INSERT … ON CONFLICT DO UPDATE … WHERE expires_at <= now(), so there is
// no check-then-write race. Lock blocks (polling) until it holds the lock
// or ctx ends; the holder's process refreshes the lease in the
// background until Unlock, and a holder that dies stops refreshing, so
// its lock expires after the lease. Time is the database's clock.
type CertStorage struct {
	pool  *pgxpool.Pool
	lease time.Duration
	poll  time.Duration
	log   *slog.Logger

	mu   sync.Mutex
	held map[string]*heldLock
}

// heldLock is a lock this process holds.
type heldLock struct {
	token string
	stop  context.CancelFunc
	done  chan struct{}
}

var (
	_ certmagic.Storage          = (*CertStorage)(nil)
	_ certmagic.TryLocker        = (*CertStorage)(nil)
	_ certmagic.LockLeaseRenewer = (*CertStorage)(nil)
)

// CertStorage returns a certmagic.Storage on the store's database. It
// shares the store's pool and lives as long as the store.
func (s *Store) CertStorage(opts CertStorageOptions) *CertStorage {
	if opts.LockLease <= 0 {
		opts.LockLease = DefaultLockLease
	}
	if opts.LockPollInterval <= 0 {
		opts.LockPollInterval = DefaultLockPollInterval
	}
	if opts.Logger == nil {
		opts.Logger = s.log
	}
	return &CertStorage{pool: s.pool, lease: opts.LockLease, poll: opts.LockPollInterval, log: opts.Logger, held: make(map[string]*heldLock)}
}

// String names the storage for certmagic's logs.
func (c *CertStorage) String() string { return "postgres" }

// Store puts value at key, replacing any value there.
func (c *CertStorage) Store(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	_, err := c.pool.Exec(ctx,
		`INSERT INTO certmagic_data (key, value, modified) VALUES ($1, $2, now())
		 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, modified = EXCLUDED.modified`, key, value)
	if err != nil {
		return fmt.Errorf("certstorage: store %q: %w", key, formatError(err))
	}
	return nil
}

// Load returns the value at key, or an error wrapping fs.ErrNotExist.
func (c *CertStorage) Load(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := c.pool.QueryRow(ctx, `SELECT value FROM certmagic_data WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("certstorage: load %q: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("certstorage: load %q: %w", key, formatError(err))
	}
	return v, nil
}

// likePrefix returns a LIKE pattern matching every key under dir.
func likePrefix(dir string) string {
	dir = strings.TrimSuffix(dir, "/")
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	if dir == "" {
		return "%"
	}
	return r.Replace(dir) + "/%"
}

// Delete removes key and every key under it. A missing key is not an
// error.
func (c *CertStorage) Delete(ctx context.Context, key string) error {
	_, err := c.pool.Exec(ctx, `DELETE FROM certmagic_data WHERE key = $1 OR key LIKE $2`, key, likePrefix(key))
	if err != nil {
		return fmt.Errorf("certstorage: delete %q: %w", key, formatError(err))
	}
	return nil
}

// Exists reports whether key is a stored key or a prefix of one.
func (c *CertStorage) Exists(ctx context.Context, key string) bool {
	var ok bool
	err := c.pool.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM certmagic_data WHERE key = $1 OR key LIKE $2)`, key, likePrefix(key)).Scan(&ok)
	return err == nil && ok
}

// List returns the keys under dir: with recursive, every key and every
// intermediate directory below it; without, only its direct children
// (keys and directories). An empty or missing dir is an error wrapping
// fs.ErrNotExist.
func (c *CertStorage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	dir = strings.TrimSuffix(dir, "/")
	rows, err := c.pool.Query(ctx, `SELECT key FROM certmagic_data WHERE key LIKE $1 ORDER BY key`, likePrefix(dir))
	if err != nil {
		return nil, fmt.Errorf("certstorage: list %q: %w", dir, formatError(err))
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("certstorage: list %q: %w", dir, formatError(err))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("certstorage: list %q: %w", dir, fs.ErrNotExist)
	}
	base := ""
	if dir != "" {
		base = dir + "/"
	}
	seen := make(map[string]bool)
	var out []string
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, k := range keys {
		rest := strings.TrimPrefix(k, base)
		if !recursive {
			first, _, _ := strings.Cut(rest, "/")
			add(base + first)
			continue
		}
		parts := strings.Split(rest, "/")
		for i := 1; i <= len(parts); i++ {
			add(base + strings.Join(parts[:i], "/"))
		}
	}
	sort.Strings(out)
	return out, nil
}

// Stat describes key: a stored key is terminal; a prefix of stored keys
// is a directory (not terminal, with the newest modification below it).
// Anything else is an error wrapping fs.ErrNotExist.
func (c *CertStorage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	var (
		size     int64
		modified time.Time
	)
	err := c.pool.QueryRow(ctx, `SELECT length(value), modified FROM certmagic_data WHERE key = $1`, key).Scan(&size, &modified)
	if err == nil {
		return certmagic.KeyInfo{Key: key, Modified: modified.UTC(), Size: size, IsTerminal: true}, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return certmagic.KeyInfo{}, fmt.Errorf("certstorage: stat %q: %w", key, formatError(err))
	}
	var newest *time.Time
	if err := c.pool.QueryRow(ctx, `SELECT max(modified) FROM certmagic_data WHERE key LIKE $1`, likePrefix(key)).Scan(&newest); err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("certstorage: stat %q: %w", key, formatError(err))
	}
	if newest == nil {
		return certmagic.KeyInfo{}, fmt.Errorf("certstorage: stat %q: %w", key, fs.ErrNotExist)
	}
	return certmagic.KeyInfo{Key: key, Modified: newest.UTC(), IsTerminal: false}, nil
}

// Lock takes the named lock, blocking until it is free (released, or its
// lease expired) or ctx ends.
func (c *CertStorage) Lock(ctx context.Context, name string) error {
	for {
		ok, err := c.TryLock(ctx, name)
		if err != nil || ok {
			return err
		}
		t := time.NewTimer(c.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("certstorage: lock %q: %w", name, ctx.Err())
		case <-t.C:
		}
	}
}

// TryLock takes the named lock if it is free and reports whether it did.
func (c *CertStorage) TryLock(ctx context.Context, name string) (bool, error) {
	b := make([]byte, 16)
	rand.Read(b)
	token := hex.EncodeToString(b)
	var got string
	err := c.pool.QueryRow(ctx,
		`INSERT INTO certmagic_locks (name, token, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
		 ON CONFLICT (name) DO UPDATE SET token = EXCLUDED.token, expires_at = EXCLUDED.expires_at
		 WHERE certmagic_locks.expires_at <= now()
		 RETURNING token`, name, token, c.lease.Seconds()).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("certstorage: lock %q: %w", name, formatError(err))
	}
	rctx, stop := context.WithCancel(context.Background())
	h := &heldLock{token: token, stop: stop, done: make(chan struct{})}
	go c.refresh(rctx, name, h)
	c.mu.Lock()
	if old := c.held[name]; old != nil {
		// Our own earlier lease on name expired without Unlock (the
		// refresher lost it); that holder's Unlock must not delete ours.
		old.stop()
	}
	c.held[name] = h
	c.mu.Unlock()
	return true, nil
}

// refresh extends h's lease every lease/3 until stopped.
func (c *CertStorage) refresh(ctx context.Context, name string, h *heldLock) {
	defer close(h.done)
	t := time.NewTicker(c.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := c.extend(ctx, name, h.token, c.lease); err != nil && ctx.Err() == nil {
			c.log.Warn("certstorage: lock lease not refreshed", "lock", name, "err", err)
		}
	}
}

func (c *CertStorage) extend(ctx context.Context, name, token string, d time.Duration) error {
	tag, err := c.pool.Exec(ctx,
		`UPDATE certmagic_locks SET expires_at = now() + make_interval(secs => $3) WHERE name = $1 AND token = $2`,
		name, token, d.Seconds())
	if err != nil {
		return formatError(err)
	}
	if tag.RowsAffected() == 0 {
		return errors.New("lock lost: its lease expired and another holder took it")
	}
	return nil
}

// RenewLockLease extends a lock this process holds to d from now (in
// addition to the background refresh), for long ACME operations.
func (c *CertStorage) RenewLockLease(ctx context.Context, name string, d time.Duration) error {
	c.mu.Lock()
	h := c.held[name]
	c.mu.Unlock()
	if h == nil {
		return fmt.Errorf("certstorage: renew lock %q: not held", name)
	}
	if err := c.extend(ctx, name, h.token, max(d, c.lease)); err != nil {
		return fmt.Errorf("certstorage: renew lock %q: %w", name, err)
	}
	return nil
}

// Unlock releases a lock this process holds.
func (c *CertStorage) Unlock(ctx context.Context, name string) error {
	c.mu.Lock()
	h := c.held[name]
	delete(c.held, name)
	c.mu.Unlock()
	if h == nil {
		return fmt.Errorf("certstorage: unlock %q: not held", name)
	}
	h.stop()
	<-h.done
	if _, err := c.pool.Exec(ctx, `DELETE FROM certmagic_locks WHERE name = $1 AND token = $2`, name, h.token); err != nil {
		return fmt.Errorf("certstorage: unlock %q: %w", name, formatError(err))
	}
	return nil
}

// abandon forgets a held lock without releasing it, as if the holder had
// died: the lease is no longer refreshed and expires. For tests.
func (c *CertStorage) abandon(name string) {
	c.mu.Lock()
	h := c.held[name]
	delete(c.held, name)
	c.mu.Unlock()
	if h != nil {
		h.stop()
		<-h.done
	}
}
