package postgres

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/estatecore/whitelabel/internal/testenv"
)

func openCertStorage(t *testing.T, opts CertStorageOptions) (*CertStorage, string) {
	t.Helper()
	url := testenv.PostgresURL(t)
	st, err := Open(t.Context(), Config{URL: url, Migrate: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st.CertStorage(opts), url
}

// TestCertStorage runs certmagic's Storage expectations.
func TestCertStorage(t *testing.T) {
	ctx := t.Context()
	cs, _ := openCertStorage(t, CertStorageOptions{})

	if _, err := cs.Load(ctx, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want fs.ErrNotExist", err)
	}
	if _, err := cs.Stat(ctx, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(missing) error = %v, want fs.ErrNotExist", err)
	}
	if _, err := cs.List(ctx, "missing", true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List(missing) error = %v, want fs.ErrNotExist", err)
	}
	if cs.Exists(ctx, "missing") {
		t.Error("Exists(missing) = true")
	}
	if err := cs.Delete(ctx, "missing"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}

	files := map[string]string{
		"certificates/ca/a.example/a.example.crt":     "cert a",
		"certificates/ca/a.example/a.example.key":     "key a",
		"certificates/ca/b_x.example/b_x.example.crt": "cert b",
		"acme/ca/users/x/x.json":                      "user",
		"certificates%/odd":                           "odd",
	}
	for k, v := range files {
		if err := cs.Store(ctx, k, []byte(v)); err != nil {
			t.Fatalf("Store(%q): %v", k, err)
		}
	}
	if err := cs.Store(ctx, "acme/ca/users/x/x.json", []byte("user v2")); err != nil {
		t.Fatalf("Store overwrite: %v", err)
	}
	if v, err := cs.Load(ctx, "acme/ca/users/x/x.json"); err != nil || string(v) != "user v2" {
		t.Errorf("Load after overwrite = %q, %v; want user v2", v, err)
	}
	for _, k := range []string{"certificates", "certificates/ca/a.example", "certificates/ca/a.example/a.example.crt"} {
		if !cs.Exists(ctx, k) {
			t.Errorf("Exists(%q) = false", k)
		}
	}
	if cs.Exists(ctx, "certificates/ca/a.ex") {
		t.Error("Exists of a partial path segment = true")
	}

	got, err := cs.List(ctx, "certificates/ca", false)
	want := []string{"certificates/ca/a.example", "certificates/ca/b_x.example"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("List(certificates/ca, false) = %q, %v; want %q", got, err, want)
	}
	got, err = cs.List(ctx, "certificates", true)
	want = []string{"certificates/ca", "certificates/ca/a.example", "certificates/ca/a.example/a.example.crt",
		"certificates/ca/a.example/a.example.key", "certificates/ca/b_x.example", "certificates/ca/b_x.example/b_x.example.crt"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("List(certificates, true) = %q, %v; want %q", got, err, want)
	}

	ki, err := cs.Stat(ctx, "certificates/ca/a.example/a.example.crt")
	if err != nil || !ki.IsTerminal || ki.Size != int64(len("cert a")) || time.Since(ki.Modified) > time.Minute {
		t.Errorf("Stat(file) = %+v, %v", ki, err)
	}
	ki, err = cs.Stat(ctx, "certificates/ca")
	if err != nil || ki.IsTerminal {
		t.Errorf("Stat(dir) = %+v, %v; want a non-terminal key", ki, err)
	}

	if err := cs.Delete(ctx, "certificates/ca/a.example"); err != nil {
		t.Fatalf("Delete(dir): %v", err)
	}
	if cs.Exists(ctx, "certificates/ca/a.example/a.example.key") {
		t.Error("key under a deleted directory still exists")
	}
	if !cs.Exists(ctx, "certificates/ca/b_x.example/b_x.example.crt") || !cs.Exists(ctx, "certificates%/odd") {
		t.Error("Delete removed keys outside the directory")
	}
	if v, _ := cs.Load(ctx, "certificates%/odd"); !bytes.Equal(v, []byte("odd")) {
		t.Errorf("Load(odd) = %q", v)
	}
}

// TestCertStorageLockBlocks: a second Lock of the same name waits until
// the first holder unlocks, also from a second process (another pool).
func TestCertStorageLockBlocks(t *testing.T) {
	ctx := t.Context()
	a, url := openCertStorage(t, CertStorageOptions{LockLease: 3 * time.Second, LockPollInterval: 20 * time.Millisecond})
	other, err := Open(ctx, Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	b := other.CertStorage(CertStorageOptions{LockLease: 3 * time.Second, LockPollInterval: 20 * time.Millisecond})

	if err := a.Lock(ctx, "issue_cert_x"); err != nil {
		t.Fatalf("first Lock: %v", err)
	}
	var bHolds atomic.Bool
	done := make(chan error, 1)
	go func() {
		err := b.Lock(ctx, "issue_cert_x")
		bHolds.Store(true)
		done <- err
	}()
	// Hold past several refreshes (lease/3 = 1s) and one whole lease: the
	// refreshed lease must keep b out.
	time.Sleep(4 * time.Second)
	if bHolds.Load() {
		t.Fatal("second Lock returned while the first holder still held the lock")
	}
	if ok, err := b.TryLock(ctx, "issue_cert_x"); ok || err != nil {
		t.Fatalf("TryLock while held = %v, %v; want false, nil", ok, err)
	}
	if err := a.Unlock(ctx, "issue_cert_x"); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("second Lock: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("second Lock still blocked after Unlock")
	}
	if err := b.Unlock(ctx, "issue_cert_x"); err != nil {
		t.Fatalf("second Unlock: %v", err)
	}

	// A cancelled context ends a blocked Lock.
	if err := a.Lock(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := b.Lock(cctx, "other"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock with an expiring context = %v, want DeadlineExceeded", err)
	}
	a.Unlock(ctx, "other")
}

// TestCertStorageLeaseExpires: when a holder dies (stops refreshing
// without unlocking), its lock is free again after the lease.
func TestCertStorageLeaseExpires(t *testing.T) {
	ctx := t.Context()
	a, _ := openCertStorage(t, CertStorageOptions{LockLease: time.Second, LockPollInterval: 20 * time.Millisecond})
	b := &CertStorage{pool: a.pool, lease: time.Second, poll: 20 * time.Millisecond, log: a.log, held: map[string]*heldLock{}}
	if err := a.Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	a.abandon("l")
	start := time.Now()
	if err := b.Lock(ctx, "l"); err != nil {
		t.Fatalf("Lock after the holder died: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v to take over an abandoned lock with a 1s lease", d)
	}
	if err := b.RenewLockLease(ctx, "l", 5*time.Second); err != nil {
		t.Errorf("RenewLockLease: %v", err)
	}
	if err := b.Unlock(ctx, "l"); err != nil {
		t.Errorf("Unlock: %v", err)
	}
	if err := b.Unlock(ctx, "l"); err == nil {
		t.Error("second Unlock = nil, want an error (not held)")
	}
}
