package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/store/internal/codec"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultPath is the database file used when Config.Path is empty.
const DefaultPath = "./data/whitelabel.db"

// Config configures Open. The zero value is usable.
type Config struct {
	// Path is the database file. Empty means DefaultPath. Its parent
	// directory is created (mode 0750) when missing.
	Path string

	// Now returns the current time for created_at, updated_at, audit and
	// change timestamps. Nil means time.Now. Values are stored in UTC,
	// truncated to the microsecond.
	Now func() time.Time

	// PollInterval is how often WaitForChange re-reads the config version
	// to see writes by other processes. Zero means 50ms. Writes through
	// this Store wake waiters at once.
	PollInterval time.Duration

	// BusyTimeout is how long a write waits for another process holding
	// the database's write lock before failing with CodeUnavailable. Zero
	// means 10s.
	BusyTimeout time.Duration

	// MaxReaders caps the connections used for reads. Zero means
	// max(4, GOMAXPROCS). Writes always use one dedicated connection.
	MaxReaders int

	// Migrate makes Open run Migrate before returning. Off by default:
	// migrating is an operator's decision.
	Migrate bool
}

// Store is the SQLite implementation of whitelabel.Store. It is safe for
// concurrent use. Writes go through one connection with BEGIN IMMEDIATE,
// so writers in this process queue instead of failing with SQLITE_BUSY,
// and writers in other processes wait up to BusyTimeout; reads use a pool
// of read-only connections and, in WAL mode, never block writes.
type Store struct {
	w, r *sql.DB
	path string
	now  func() time.Time
	poll time.Duration
	wake codec.Broadcast
}

var _ whitelabel.Store = (*Store)(nil)

// Open opens (creating if needed) the database at cfg.Path with WAL,
// foreign keys and a busy timeout. It does not migrate unless
// cfg.Migrate is set. Close the Store when done.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = 10 * time.Second
	}
	if cfg.MaxReaders <= 0 {
		cfg.MaxReaders = max(4, runtime.GOMAXPROCS(0))
	}
	if strings.ContainsAny(cfg.Path, "?#") {
		return nil, fmt.Errorf("open sqlite store %s: path must not contain '?' or '#'", cfg.Path)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o750); err != nil {
		return nil, fmt.Errorf("open sqlite store %s: create directory: %w", cfg.Path, err)
	}

	busy := fmt.Sprintf("_pragma=busy_timeout(%d)", cfg.BusyTimeout.Milliseconds())
	w, err := sql.Open("sqlite", cfg.Path+"?"+busy+
		"&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", cfg.Path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer connects first: it creates the file and switches it to
	// WAL, which the readers then inherit.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", cfg.Path, formatError(err))
	}
	r, err := sql.Open("sqlite", cfg.Path+"?"+busy+"&_pragma=foreign_keys(1)&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", cfg.Path, err)
	}
	r.SetMaxOpenConns(cfg.MaxReaders)
	r.SetMaxIdleConns(cfg.MaxReaders)
	s := &Store{w: w, r: r, path: cfg.Path, now: cfg.Now, poll: cfg.PollInterval}
	if cfg.Migrate {
		if err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Migrate applies the embedded migrations that have not run yet. It is
// idempotent, and concurrent callers in other processes serialize on the
// database's write lock.
func (s *Store) Migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate sqlite store: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.w, fsys, goose.WithDisableGlobalRegistry(true),
		// Features number their migrations ahead of time (00004_sso may
		// land before 00002), so a database may have applied a later
		// version before an earlier one exists; apply the earlier one then.
		goose.WithAllowOutofOrder(true))
	if err != nil {
		return fmt.Errorf("migrate sqlite store: %w", err)
	}
	// p.Close would close s.w, which the Store keeps using.
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate sqlite store %s: %w", s.path, formatError(err))
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite store: %w", formatError(err))
	}
	return nil
}

// Close closes the database. Calls in flight may fail.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// formatError turns driver errors a caller can act on into
// *whitelabel.Error values: unique violations become CodeConflict naming
// the column, foreign-key violations CodeInvalid, and a database still
// locked after the busy timeout CodeUnavailable. Context errors and
// anything else are returned unchanged, to be wrapped by the caller.
func formatError(err error) error {
	var se *sqlite.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		// "UNIQUE constraint failed: tenants.subdomain (2067)"
		field := ""
		if m := uniqueColumnRE.FindStringSubmatch(se.Error()); m != nil {
			field = m[1]
		}
		return conflict(field, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return &whitelabel.Error{Code: whitelabel.CodeInvalid, Message: "a referenced record does not exist", Err: err}
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_BUSY_SNAPSHOT, sqlite3.SQLITE_BUSY_TIMEOUT:
		return &whitelabel.Error{Code: whitelabel.CodeUnavailable, Message: "the database is busy; try again", Err: err}
	}
	return err
}

var uniqueColumnRE = regexp.MustCompile(`constraint failed: \w+\.(\w+)`)

// conflict names the unique column a write collided on.
func conflict(column string, cause error) error {
	field, what := column, column
	switch column {
	case "subdomain":
		what = "subdomain is already taken"
	case "tenant_key":
		what = "tenant_key is already taken"
	case "organization_id":
		what = "organization_id is already taken"
	case "domain":
		what = "domain is already registered"
	case "":
		what = "the record already exists"
	default:
		what = column + " already exists"
	}
	e := whitelabel.Conflict(field, "%s", what)
	e.Err = cause
	return e
}

// Timestamps are TEXT with fixed microseconds, so they sort as text.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func encTime(t time.Time) string { return codec.Time(t).Format(timeLayout) }

func encTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return encTime(*t)
}

func decTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("decode timestamp %q: %w", s, err)
	}
	return t, nil
}

func decTimePtr(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := decTime(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// queryer is what reads need from *sql.DB and *sql.Tx alike.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// change is what a mutation reports for the change feed and to complete
// its audit entry.
type change struct {
	tenantID  int64  // config_changes.tenant_id; fills audit.TenantID when zero
	partnerID int64  // fills audit.PartnerID when zero
	key       string // config_changes.key
	targetID  string // fills audit.TargetID when empty
}

// mutate runs fn in one write transaction with the version bump, the
// change record (when kind is not empty) and the audit entry. The bump
// comes first: it serializes writers, so commit order is version order.
// On success audit (if any) gets its ID and At and waiters are woken.
func (s *Store) mutate(ctx context.Context, kind whitelabel.ChangeKind, audit *whitelabel.AuditEntry,
	fn func(tx *sql.Tx, now time.Time) (change, error)) error {
	now := codec.Time(s.now())
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback()
	var version int64
	if kind != "" {
		if err := tx.QueryRowContext(ctx,
			`UPDATE config_version SET version = version + 1 WHERE id = 1 RETURNING version`).Scan(&version); err != nil {
			return fmt.Errorf("bump config version: %w", formatError(err))
		}
	}
	c, err := fn(tx, now)
	if err != nil {
		return err
	}
	if kind != "" {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO config_changes (version, kind, tenant_id, key, at) VALUES (?, ?, ?, ?, ?)`,
			version, string(kind), c.tenantID, c.key, encTime(now)); err != nil {
			return fmt.Errorf("record change: %w", formatError(err))
		}
	}
	var a whitelabel.AuditEntry
	if audit != nil {
		a = *audit
		a.At = now
		if a.TenantID == 0 {
			a.TenantID = c.tenantID
		}
		if a.PartnerID == 0 {
			a.PartnerID = c.partnerID
		}
		if a.TargetID == "" {
			a.TargetID = c.targetID
		}
		if a.ID, err = insertAudit(ctx, tx, &a); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", formatError(err))
	}
	if audit != nil {
		*audit = a
	}
	if kind != "" {
		s.wake.Wake()
	}
	return nil
}
