package edge

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/estatecore/whitelabel"
)

// TestTLSDecision is the on-demand policy table: a certificate only for
// what the snapshot serves for an active tenant, within the rate limits.
func TestTLSDecision(t *testing.T) {
	src := newFakeSource(
		tenant(1, "acme", whitelabel.StatusActive, "props.acme.com", "pending:pending.acme.com"),
		tenant(2, "sleepy", whitelabel.StatusSuspended, "sleepy.example"),
	)
	e := startEdge(t, src, "http://127.0.0.1:1", func(c *Config) {
		c.TLS = &TLSConfig{StorageDir: t.TempDir(), HTTPPort: 1, TenantIssuePerHour: 3}
	})
	m := e.tls
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
		{"rate limited tenant", "acme.example.test", false}, // fourth for tenant 1 within the hour
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := m.decide(t.Context(), tt.host); (err == nil) != tt.ok {
				t.Errorf("decide(%q) = %v, want ok=%v", tt.host, err, tt.ok)
			}
		})
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
