package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/internal/testenv"
	"github.com/estatecore/whitelabel/store/postgres"
	"github.com/estatecore/whitelabel/store/storetest"
)

func openURL(t *testing.T, url string, cfg postgres.Config) *postgres.Store {
	t.Helper()
	cfg.URL = url
	s, err := postgres.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) whitelabel.Store {
		return openURL(t, testenv.PostgresURL(t), postgres.Config{Migrate: true})
	})
}

func TestOpenUnreachable(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want string
	}{
		{"refused", "postgres://postgres@127.0.0.1:1/test?sslmode=disable", "open postgres store 127.0.0.1:1/test"},
		// 192.0.2.0/24 is TEST-NET-1: never routed, so only the timeout ends the attempt.
		{"unroutable", "postgres://postgres@192.0.2.1:5432/test?sslmode=disable&connect_timeout=1", "open postgres store 192.0.2.1:5432/test"},
		{"bad URL", "postgres://postgres:secret@127.0.0.1:notaport/test", "parse URL"},
		{"empty", "", "no URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			s, err := postgres.Open(t.Context(), postgres.Config{URL: tt.url, ConnectTimeout: time.Second})
			took := time.Since(start)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) = nil error, want one", tt.url)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") || strings.Contains(msg, "secret") {
				t.Errorf("Open(%q) = %q, want one line containing %q and no password", tt.url, msg, tt.want)
			}
			if took > 5*time.Second {
				t.Errorf("Open(%q) took %v, want a fast failure", tt.url, took)
			}
			if tt.want != "parse URL" && tt.want != "no URL" && whitelabel.ErrorCodeOf(err) != whitelabel.CodeUnavailable {
				t.Errorf("ErrorCodeOf(Open(%q)) = %s, want %s", tt.url, whitelabel.ErrorCodeOf(err), whitelabel.CodeUnavailable)
			}
		})
	}
}

func TestOpenDoesNotMigrate(t *testing.T) {
	url := testenv.PostgresURL(t)
	s := openURL(t, url, postgres.Config{})
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

// TestConcurrentMigrate runs Migrate from several stores (as separate
// processes would) on one empty database at once.
func TestConcurrentMigrate(t *testing.T) {
	url := testenv.PostgresURL(t)
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		s := openURL(t, url, postgres.Config{MaxConns: 2})
		defer s.Close()
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate() #%d = %v, want nil", i, err)
		}
	}
}

// TestWaitForChangeAcrossStores checks that NOTIFY wakes a waiter in
// another "process", with polling effectively off.
func TestWaitForChangeAcrossStores(t *testing.T) {
	url := testenv.PostgresURL(t)
	waiter := openURL(t, url, postgres.Config{Migrate: true, PollInterval: time.Hour})
	defer waiter.Close()
	writer := openURL(t, url, postgres.Config{})
	defer writer.Close()

	got := make(chan int64, 1)
	go func() {
		v, err := waiter.WaitForChange(t.Context(), 0)
		if err != nil {
			t.Errorf("WaitForChange(0) = %v", err)
		}
		got <- v
	}()
	waitForListener(t, url, 0)
	if err := writer.CreateTenant(t.Context(), tenant("notify"), nil); err != nil {
		t.Fatalf("CreateTenant() = %v", err)
	}
	select {
	case v := <-got:
		if v != 1 {
			t.Errorf("WaitForChange(0) = %d, want 1", v)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("WaitForChange(0) not woken by another store's write within 15s")
	}
}

// TestListenerReconnects kills the LISTEN connection and checks that a
// waiter is still woken by NOTIFY (polling is effectively off).
func TestListenerReconnects(t *testing.T) {
	url := testenv.PostgresURL(t)
	waiter := openURL(t, url, postgres.Config{Migrate: true, PollInterval: time.Hour})
	defer waiter.Close()
	writer := openURL(t, url, postgres.Config{})
	defer writer.Close()

	got := make(chan int64, 1)
	go func() {
		v, err := waiter.WaitForChange(t.Context(), 0)
		if err != nil {
			t.Errorf("WaitForChange(0) = %v", err)
		}
		got <- v
	}()
	old := waitForListener(t, url, 0)
	admin, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(t.Context(), `SELECT pg_terminate_backend($1)`, old); err != nil {
		t.Fatalf("terminate listener: %v", err)
	}
	waitForListener(t, url, old)
	if err := writer.CreateTenant(t.Context(), tenant("relisten"), nil); err != nil {
		t.Fatalf("CreateTenant() = %v", err)
	}
	select {
	case v := <-got:
		if v != 1 {
			t.Errorf("WaitForChange(0) = %d, want 1", v)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("WaitForChange(0) not woken within 15s after the listener reconnected")
	}
}

// waitForListener returns the backend PID of the store's LISTEN
// connection once it is listening, skipping notPID.
func waitForListener(t *testing.T, url string, notPID uint32) uint32 {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var pid uint32
		err := conn.QueryRow(t.Context(),
			`SELECT pid FROM pg_stat_activity
			 WHERE datname = current_database() AND application_name = 'whitelabel-listen'
			   AND state = 'idle' AND query ILIKE 'listen%' AND pid <> $1`, notPID).Scan(&pid)
		if err == nil {
			return pid
		}
		time.Sleep(20 * time.Millisecond) // polling the server, not asserting timing
	}
	t.Fatal("no LISTEN connection within 15s")
	return 0
}

func tenant(sub string) *whitelabel.Tenant {
	return &whitelabel.Tenant{TenantKey: sub, DisplayName: sub, Subdomain: sub, Plan: "basic", Status: whitelabel.StatusActive}
}
