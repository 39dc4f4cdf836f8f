package edge

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"

	"github.com/estatecore/whitelabel"
)

// newTLSServer returns an edge with TLS on src that is not running: its
// snapshot is loaded, so decisions, handshakes and the plain-HTTP handler
// work, but nothing is managed in the background (no ACME traffic, and
// nothing written to storage after the test).
func newTLSServer(t *testing.T, src whitelabel.ConfigSource, tc TLSConfig) *Server {
	t.Helper()
	s, err := New(t.Context(), Config{Source: src, Plans: whitelabel.DefaultPlans(), BaseDomain: "example.test",
		Upstream: mustURL(t, "http://127.0.0.1:1"), Logger: slog.New(slog.DiscardHandler), TLS: &tc})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(s.tls.cache.Stop)
	return s
}

// TestTLSDecision is the on-demand policy table: a certificate only for
// what the snapshot serves for an active tenant. The decision charges no
// rate limit (see TestTLSOrderRateLimit), so asking again and again for
// one tenant's names is allowed every time.
func TestTLSDecision(t *testing.T) {
	src := newFakeSource(
		tenant(1, "acme", whitelabel.StatusActive, "props.acme.com", "pending:pending.acme.com"),
		tenant(2, "sleepy", whitelabel.StatusSuspended, "sleepy.example"),
	)
	m := newTLSServer(t, src, TLSConfig{StorageDir: t.TempDir(), HTTPPort: 1, IssuePerMinute: 1, TenantIssuePerHour: 1}).tls
	tests := []struct {
		name string
		host string
		ok   bool
	}{
		{"subdomain", "acme.example.test", true},
		{"verified custom domain", "props.acme.com", true},
		{"upper case", "PROPS.acme.com", true},
		{"pending custom domain", "pending.acme.com", false},
		{"suspended tenant", "sleepy.example", false},
		{"suspended tenant subdomain", "sleepy.example.test", false},
		{"unknown", "evil.test", false},
		{"base domain", "example.test", false},
		{"IP", "127.0.0.1", false},
		{"API host", "api.example.test", true},
		{"API host upper case", "API.example.test", true},
		{"under the API host", "x.api.example.test", false},
		{"same tenant again, past its order limit", "acme.example.test", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := m.decide(t.Context(), tt.host); (err == nil) != tt.ok {
				t.Errorf("decide(%q) = %v, want ok=%v", tt.host, err, tt.ok)
			}
		})
	}
}

// TestTLSOrderRateLimit: orders placed on demand are charged to the
// edge's limit and the tenant's; a refused order takes no token from the
// other limit, and names the snapshot no longer serves are refused.
func TestTLSOrderRateLimit(t *testing.T) {
	src := newFakeSource(
		tenant(1, "acme", whitelabel.StatusActive, "props.acme.com"),
		tenant(2, "beta", whitelabel.StatusActive),
		tenant(3, "gamma", whitelabel.StatusActive),
	)
	m := newTLSServer(t, src, TLSConfig{StorageDir: t.TempDir(), HTTPPort: 1, IssuePerMinute: 4, TenantIssuePerHour: 1}).tls
	steps := []struct {
		name  string
		names []string
		ok    bool
	}{
		{"first order of acme", []string{"acme.example.test"}, true},
		{"second order of acme: tenant limit", []string{"props.acme.com"}, false},
		{"beta", []string{"beta.example.test"}, true},
		{"unknown name", []string{"evil.test"}, false},
		{"gamma", []string{"gamma.example.test"}, true},
		{"API host takes the edge's last token", []string{"api.example.test"}, true},
		{"edge limit", []string{"beta.example.test"}, false},
	}
	for _, st := range steps {
		err := m.chargeOrder(st.names)
		if (err == nil) != st.ok {
			t.Errorf("%s: chargeOrder(%q) = %v, want ok=%v", st.name, st.names, err, st.ok)
		}
	}
}

// TestTLSRestartServesStoredCertificates: an edge that starts with more
// on-demand certificates in storage than its order limits allow serves
// every one of them at the first handshake, and asks the CA for nothing
// (certmagic asks the decision before it loads from storage, so a
// decision that charged the limits refused them: certmagic#272).
func TestTLSRestartServesStoredCertificates(t *testing.T) {
	var caRequests atomic.Int64
	ca := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caRequests.Add(1)
		http.Error(w, "no orders in this test", http.StatusServiceUnavailable)
	}))
	defer ca.Close()
	const n = 6
	var tcs []whitelabel.TenantConfig
	var names []string
	for i := range n {
		name := "t" + strconv.Itoa(i)
		tc := tenant(int64(i+1), name, whitelabel.StatusActive)
		if i == 0 { // a custom domain next to the subdomain
			tc = tenant(1, name, whitelabel.StatusActive, "shop.t0.test")
			names = append(names, "shop.t0.test")
		}
		tcs = append(tcs, tc)
		names = append(names, name+".example.test")
	}
	names = append(names, "api.example.test") // the edge's own, no tenant's
	src := newFakeSource(tcs...)
	cfg := TLSConfig{StorageDir: t.TempDir(), Directory: ca.URL + "/directory", HTTPPort: 1, DisableOCSP: true,
		IssuePerMinute: 2, TenantIssuePerHour: 1}

	// What an earlier run left in storage.
	m := newTLSServer(t, src, cfg).tls
	roots := x509.NewCertPool()
	for _, name := range names {
		roots.AddCert(storeCertificate(t, m, name))
	}

	// The restarted edge: an empty cache on the same storage.
	e := newTLSServer(t, src, cfg)
	for _, name := range names {
		cs, err := tlsHandshake(e.TLSConfig(), &tls.Config{ServerName: name, RootCAs: roots})
		if err != nil {
			t.Errorf("handshake for %s, whose certificate is in storage: %v", name, err)
			continue
		}
		if err := cs.PeerCertificates[0].VerifyHostname(name); err != nil {
			t.Errorf("handshake for %s: %v", name, err)
		}
	}
	if got := caRequests.Load(); got != 0 {
		t.Errorf("requests to the CA = %d, want 0", got)
	}
}

// storeCertificate writes a self-signed certificate for name into m's
// storage where certmagic keeps the ones its issuer obtained, and
// returns it.
func storeCertificate(t *testing.T, m *tlsManager, name string) *x509.Certificate {
	t.Helper()
	c := selfSigned(t, name)
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := json.Marshal(certmagic.CertificateResource{SANs: []string{name}})
	ik := m.issuer.IssuerKey()
	for key, val := range map[string][]byte{
		certmagic.StorageKeys.SiteCert(ik, name):       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}),
		certmagic.StorageKeys.SitePrivateKey(ik, name): pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		certmagic.StorageKeys.SiteMeta(ik, name):       meta,
	} {
		if err := m.cfg.Storage.Store(t.Context(), key, val); err != nil {
			t.Fatal(err)
		}
	}
	return c.Leaf
}

// tlsHandshake runs one handshake between server and client over an
// in-memory connection and returns the client's view of it.
func tlsHandshake(server, client *tls.Config) (*tls.ConnectionState, error) {
	sc, cc := net.Pipe()
	defer sc.Close()
	defer cc.Close()
	go func() { tls.Server(sc, server).Handshake(); sc.Close() }()
	c := tls.Client(cc, client)
	c.SetDeadline(time.Now().Add(time.Minute))
	if err := c.Handshake(); err != nil {
		return nil, err
	}
	st := c.ConnectionState()
	return &st, nil
}

// TestTLSHTTPHandler: with TLS on, the plain-HTTP listener redirects the
// hosts the edge serves (and the API host) to HTTPS, answers verification
// tokens and ACME challenges as before, and gives any other host the
// unknown-site error instead of a redirect.
func TestTLSHTTPHandler(t *testing.T) {
	tc := tenant(1, "acme", whitelabel.StatusActive, "props.acme.com", "pending:pending.acme.com")
	tc.Domains[1].VerificationToken = "tok-pending"
	s := newTLSServer(t, newFakeSource(tc), TLSConfig{StorageDir: t.TempDir(), HTTPPort: 1, TLSPort: 8443})
	h := s.HTTPHandler()
	tests := []struct {
		name, host, path string
		accept           string
		want             int
		wantLocation     string
		wantBody         string // substring
	}{
		{"subdomain", "acme.example.test", "/a?b=1", "", 308, "https://acme.example.test:8443/a?b=1", ""},
		{"custom domain", "PROPS.acme.com:80", "/", "", 308, "https://props.acme.com:8443/", ""},
		{"API host", "api.example.test", "/v1/x", "", 308, "https://api.example.test:8443/v1/x", ""},
		{"unknown host", "evil.test", "/", "", 404, "", `"code":"not_found"`},
		{"unknown host, browser", "evil.test", "/", "text/html", 404, "", "<html"},
		{"pending custom domain", "pending.acme.com", "/", "", 404, "", `"code":"not_found"`},
		{"IP literal", "127.0.0.1", "/", "", 404, "", `"code":"not_found"`},
		{"bad host", "a..b", "/", "", 404, "", `"code":"not_found"`},
		{"verification token of a pending domain", "pending.acme.com", "/.well-known/whitelabel-challenge/tok-pending", "", 200, "", "tok-pending"},
		{"wrong verification token", "pending.acme.com", "/.well-known/whitelabel-challenge/nope", "", 404, "", ""},
		{"verification token, unknown host", "evil.test", "/.well-known/whitelabel-challenge/tok-pending", "", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://x"+tt.path, nil)
			req.Host = tt.host
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want || rec.Header().Get("Location") != tt.wantLocation || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("GET http://%s%s = %d, Location %q, body %q; want %d, Location %q, body with %q",
					tt.host, tt.path, rec.Code, rec.Header().Get("Location"), rec.Body, tt.want, tt.wantLocation, tt.wantBody)
			}
		})
	}

	// An ACME HTTP-01 challenge is answered from storage whatever the
	// host: the CA asks for names before the snapshot needs to know them.
	const token = "acme-token"
	ch := acme.Challenge{Type: acme.ChallengeTypeHTTP01, Token: token, KeyAuthorization: token + ".thumbprint", Identifier: acme.Identifier{Type: "dns", Value: "new.acme.com"}}
	b, _ := json.Marshal(ch)
	// Where certmagic's distributed solver keeps it (solvers.go).
	key := "acme/" + certmagic.StorageKeys.Safe(s.tls.issuer.IssuerKey()) + "/challenge_tokens/new.acme.com.json"
	if err := s.tls.cfg.Storage.Store(t.Context(), key, b); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "http://new.acme.com/.well-known/acme-challenge/"+token, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.String() != ch.KeyAuthorization {
		t.Errorf("ACME HTTP-01 challenge = %d %q, want 200 %q", rec.Code, rec.Body, ch.KeyAuthorization)
	}
}

// TestTLSOperatorCertificate: names covered by TLS_CERT_FILE are served
// from it, with no decision and no order.
func TestTLSOperatorCertificate(t *testing.T) {
	dir := t.TempDir()
	c := selfSigned(t, "*.example.test")
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, _ := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	e := startEdge(t, newFakeSource(), "http://127.0.0.1:1", func(cfg *Config) {
		cfg.TLS = &TLSConfig{StorageDir: dir, HTTPPort: 1, CertFile: certFile, KeyFile: keyFile}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { tc := tls.Server(c, e.TLSConfig()); tc.Handshake(); tc.Close() }()
		}
	}()
	roots := x509.NewCertPool()
	roots.AddCert(c.Leaf)
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "anyone.example.test", RootCAs: roots})
	if err != nil {
		t.Fatalf("handshake for a name under the operator wildcard: %v", err)
	}
	conn.Close()
	if _, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "other.test", InsecureSkipVerify: true}); err == nil {
		t.Error("handshake for a name outside the wildcard and the snapshot succeeded")
	}
}
