package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/store/internal/codec"
)

//go:embed migrations/*.sql
var migrations embed.FS

// notifyChannel is the LISTEN/NOTIFY channel every config change is
// announced on, with the new version as payload.
const notifyChannel = "wl_config"

// Config configures Open. URL is required.
type Config struct {
	// URL is a PostgreSQL connection URL or keyword/value string, as
	// accepted by pgx (postgres://user:pass@host:5432/db?sslmode=disable).
	URL string

	// MaxConns caps the pool. Zero means pgx's default, max(4, NumCPU).
	// WaitForChange uses one more, dedicated connection.
	MaxConns int32

	// ConnectTimeout bounds each connection attempt, so Open fails fast
	// on an unreachable host. Zero means 5s; a connect_timeout in URL
	// takes precedence.
	ConnectTimeout time.Duration

	// Now returns the current time for created_at, updated_at, audit and
	// change timestamps. Nil means time.Now. Values are stored with
	// microsecond precision and returned in UTC.
	Now func() time.Time

	// PollInterval is how often WaitForChange re-reads the config version
	// even without a notification, so a change is never missed while the
	// LISTEN connection is down. Zero means 1s.
	PollInterval time.Duration

	// Logger receives errors of the LISTEN connection (it reconnects by
	// itself). Nil means slog.Default().
	Logger *slog.Logger

	// Migrate makes Open run Migrate before returning. Off by default:
	// migrating is an operator's decision.
	Migrate bool
}

// Store is the PostgreSQL implementation of whitelabel.Store, on a pgx
// connection pool. It is safe for concurrent use, by any number of
// processes on one database: every config mutation takes the row lock of
// config_version first, so writers serialize and commit in version order.
type Store struct {
	pool       *pgxpool.Pool
	listenConf *pgx.ConnConfig
	target     string // host:port/database, for messages
	now        func() time.Time
	poll       time.Duration
	log        *slog.Logger
	wake       codec.Broadcast

	mu         sync.Mutex
	listening  bool
	stopListen context.CancelFunc
	listenDone chan struct{}
}

var _ whitelabel.Store = (*Store)(nil)

// Open connects to the database and checks that it answers; it fails
// within about ConnectTimeout when the server is unreachable, with a
// one-line error. It does not migrate unless cfg.Migrate is set. Close the
// Store when done.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URL == "" {
		return nil, errors.New("open postgres store: no URL configured")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, oneLine("open postgres store: parse URL", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	}
	if _, ok := pc.ConnConfig.RuntimeParams["application_name"]; !ok {
		pc.ConnConfig.RuntimeParams["application_name"] = "whitelabel"
	}
	lc := pc.ConnConfig.Copy()
	lc.RuntimeParams["application_name"] += "-listen"
	target := fmt.Sprintf("%s:%d/%s", pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database)

	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, oneLine("open postgres store "+target, err)
	}
	pctx, cancel := context.WithTimeout(ctx, pc.ConnConfig.ConnectTimeout+time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, oneLine("open postgres store "+target, formatError(err))
	}
	s := &Store{pool: pool, listenConf: lc, target: target, now: cfg.Now, poll: cfg.PollInterval, log: cfg.Logger}
	if cfg.Migrate {
		if err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// oneLineError keeps an error on one line (pgconn puts one line per host
// tried) without losing the chain.
type oneLineError struct {
	msg string
	err error
}

func (e *oneLineError) Error() string { return e.msg }
func (e *oneLineError) Unwrap() error { return e.err }

func oneLine(prefix string, err error) error {
	return &oneLineError{msg: codec.OneLine(prefix + ": " + err.Error()), err: err}
}

// Migrate applies the embedded migrations that have not run yet. It is
// idempotent, and safe to run from several processes at once: they
// serialize on a PostgreSQL advisory lock held for the whole run.
func (s *Store) Migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate postgres store: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("migrate postgres store: %w", err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close() // closes only the database/sql wrapper, not the pool
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true),
		// Features number their migrations ahead of time (00004_sso may
		// land before 00002), so a database may have applied a later
		// version before an earlier one exists; apply the earlier one then.
		goose.WithAllowOutofOrder(true))
	if err != nil {
		return fmt.Errorf("migrate postgres store: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return oneLine("migrate postgres store "+s.target, formatError(err))
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres store: %w", formatError(err))
	}
	return nil
}

// Close stops the LISTEN connection, if any, and closes the pool. Calls in
// flight may fail.
func (s *Store) Close() error {
	s.mu.Lock()
	stop, done := s.stopListen, s.listenDone
	s.stopListen = nil
	s.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	s.pool.Close()
	return nil
}

// Unique constraints by name (see the migration), and the field each
// names in a CodeConflict error.
var uniqueFields = map[string]string{
	"tenants_subdomain_key":       "subdomain",
	"tenants_tenant_key_key":      "tenant_key",
	"tenants_organization_id_key": "organization_id",
	"tenant_domains_domain_key":   "domain",
	"partner_api_keys_id_key":     "id",
}

// formatError turns driver errors a caller can act on into
// *whitelabel.Error values: unique violations become CodeConflict naming
// the column, foreign-key violations CodeInvalid, lost or refused
// connections and serialization failures CodeUnavailable. Context errors
// and anything else are returned unchanged, to be wrapped by the caller.
func formatError(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return conflict(uniqueFields[pe.ConstraintName], err)
		case "23503": // foreign_key_violation
			return &whitelabel.Error{Code: whitelabel.CodeInvalid, Message: "a referenced record does not exist", Err: err}
		case "40001", "40P01", "55P03": // serialization_failure, deadlock_detected, lock_not_available
			return &whitelabel.Error{Code: whitelabel.CodeUnavailable, Message: "the database is busy; try again", Err: err}
		}
		if len(pe.Code) == 2+3 && (pe.Code[:2] == "08" || pe.Code[:2] == "57") { // connection exception, operator intervention
			return unavailable(err)
		}
		return err
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) {
		return unavailable(err)
	}
	return err
}

func unavailable(err error) error {
	return &whitelabel.Error{Code: whitelabel.CodeUnavailable, Message: "the database is unavailable", Err: err}
}

// conflict names the unique column a write collided on.
func conflict(field string, cause error) error {
	var what string
	switch field {
	case "subdomain", "tenant_key", "organization_id":
		what = field + " is already taken"
	case "domain":
		what = "domain is already registered"
	case "":
		what = "the record already exists"
	default:
		what = field + " already exists"
	}
	e := whitelabel.Conflict(field, "%s", what)
	e.Err = cause
	return e
}

// utcPtr returns a scanned optional timestamp in UTC.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// jsonArg passes optional stored JSON (nil means SQL NULL).
func jsonArg(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// queryer is what reads need from the pool and a transaction alike.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// change is what a mutation reports for the change feed and to complete
// its audit entry.
type change struct {
	tenantID  int64  // config_changes.tenant_id; fills audit.TenantID when zero
	partnerID int64  // fills audit.PartnerID when zero
	key       string // config_changes.key
	targetID  string // fills audit.TargetID when empty
}

// mutate runs fn in one transaction with the version bump, the change
// record and NOTIFY (when kind is not empty), and the audit entry. The
// bump comes first: its row lock serializes writers until commit, so
// commit order is version order and a reader of version V has seen every
// change up to V. On success audit (if any) gets its ID and At.
func (s *Store) mutate(ctx context.Context, kind whitelabel.ChangeKind, audit *whitelabel.AuditEntry,
	fn func(tx pgx.Tx, now time.Time) (change, error)) error {
	now := codec.Time(s.now())
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var version int64
	if kind != "" {
		if err := tx.QueryRow(ctx,
			`UPDATE config_version SET version = version + 1 WHERE id = 1 RETURNING version`).Scan(&version); err != nil {
			return fmt.Errorf("bump config version: %w", formatError(err))
		}
	}
	c, err := fn(tx, now)
	if err != nil {
		return err
	}
	if kind != "" {
		if _, err := tx.Exec(ctx,
			`INSERT INTO config_changes (version, kind, tenant_id, key, at) VALUES ($1, $2, $3, $4, $5)`,
			version, string(kind), c.tenantID, c.key, now); err != nil {
			return fmt.Errorf("record change: %w", formatError(err))
		}
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, strconv.FormatInt(version, 10)); err != nil {
			return fmt.Errorf("notify change: %w", formatError(err))
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
	if err := tx.Commit(ctx); err != nil {
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
