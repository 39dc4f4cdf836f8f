package acmetest

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
)

// Pebble is a running test CA.
type Pebble struct {
	// Directory is the ACME directory URL.
	Directory string
	// ServerRoots trusts the ACME server's own (httptest) certificate;
	// ServerRootsFile holds the same as PEM (for ACME_CA_ROOTS).
	ServerRoots     *x509.CertPool
	ServerRootsFile string
	// IssuerRoots trusts the certificates Pebble issues.
	IssuerRoots *x509.CertPool

	orders atomic.Int64
}

// Orders returns how many new-order requests Pebble received.
func (p *Pebble) Orders() int64 { return p.orders.Load() }

// Start runs Pebble until the test ends. Its validator asks dnsAddr
// (TCP) and connects to httpPort for HTTP-01 and tlsPort for TLS-ALPN-01.
// It sets PEBBLE_VA_NOSLEEP, so the test must not be parallel.
func Start(t testing.TB, dnsAddr string, httpPort, tlsPort int) *Pebble {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	logger := log.New(io.Discard, "", 0)
	if testing.Verbose() && os.Getenv("PEBBLE_LOG") != "" {
		logger = log.New(os.Stderr, "pebble ", log.Ltime)
	}
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(logger, httpPort, tlsPort, false, dnsAddr, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	h := front.Handler()
	p := &Pebble{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/order-plz" {
			p.orders.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.Directory = srv.URL + wfe.DirectoryPath
	p.ServerRoots = x509.NewCertPool()
	p.ServerRoots.AddCert(srv.Certificate())
	p.ServerRootsFile = filepath.Join(t.TempDir(), "pebble-server-roots.pem")
	if err := os.WriteFile(p.ServerRootsFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	p.IssuerRoots = x509.NewCertPool()
	p.IssuerRoots.AddCert(authority.GetRootCert(0).Cert)
	return p
}
