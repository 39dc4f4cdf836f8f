package control

import (
	"path/filepath"
	"testing"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/internal/testenv"
	"github.com/estatecore/whitelabel/store/postgres"
	"github.com/estatecore/whitelabel/store/sqlite"
)

// backend opens a fresh, migrated store for one test.
type backend struct {
	name string
	open func(t *testing.T) whitelabel.Store
}

func backends() []backend {
	return []backend{
		{"sqlite", openSQLite},
		{"postgres", openPostgres},
	}
}

func openSQLite(t *testing.T) whitelabel.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "wl.db"), Migrate: true})
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// openPostgres opens a store on a fresh database (testenv skips, or in CI
// fails, when PostgreSQL is not reachable).
func openPostgres(t *testing.T) whitelabel.Store {
	t.Helper()
	st, err := postgres.Open(t.Context(), postgres.Config{URL: testenv.PostgresURL(t), MaxConns: 8, Migrate: true})
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// forEachStore runs fn as a subtest on every store implementation, each
// with a fresh database.
func forEachStore(t *testing.T, fn func(t *testing.T, st whitelabel.Store)) {
	t.Helper()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			fn(t, b.open(t))
		})
	}
}
