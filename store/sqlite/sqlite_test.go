package sqlite_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/store/sqlite"
	"github.com/estatecore/whitelabel/store/storetest"
)

func open(t *testing.T) whitelabel.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Config{
		Path:    filepath.Join(t.TempDir(), "sub", "wl.db"),
		Migrate: true,
	})
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

func TestOpenUnwritablePath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want string
	}{
		{"parent is a file", filepath.Join(file, "data", "wl.db"), "create directory"},
		{"path is a directory", t.TempDir(), "open sqlite store"},
		{"query in path", filepath.Join(t.TempDir(), "wl.db?mode=ro"), "must not contain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), sqlite.Config{Path: tt.path})
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) = nil error, want one", tt.path)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || !strings.Contains(msg, tt.path) || strings.Contains(msg, "\n") {
				t.Errorf("Open(%q) = %q, want one line naming the path and containing %q", tt.path, msg, tt.want)
			}
		})
	}
}

func TestOpenDoesNotMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wl.db")
	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer s.Close()
	if _, err := s.ConfigVersion(t.Context()); err == nil {
		t.Fatalf("ConfigVersion() before Migrate = nil error, want one (no schema)")
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	if v, err := s.ConfigVersion(t.Context()); err != nil || v != 0 {
		t.Errorf("ConfigVersion() after Migrate = %d, %v; want 0, nil", v, err)
	}
}
