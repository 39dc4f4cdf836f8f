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

// Orders returns how many certificate orders Pebble created. A new-order
// request it refused does not count: Pebble rejects a share of good
// nonces on purpose (PEBBLE_WFE_NONCEREJECT, 5% by default) and the ACME
// client then sends the same request again, for one order.
func (p *Pebble) Orders() int64 { return p.orders.Load() }

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

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
		if r.Method != http.MethodPost || r.URL.Path != "/order-plz" {
			h.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusCreated {
			p.orders.Add(1)
		}
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
