package edge

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// benchTLSManager returns a tlsManager whose cache holds n ECDSA P-256
// certificates for d0.bench.test … d<n-1>.bench.test, as the edge's
// cache holds obtained certificates, plus the names.
func benchTLSManager(tb testing.TB, n int) (*tlsManager, []string) {
	tb.Helper()
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	m, err := newTLSManager(s, TLSConfig{StorageDir: tb.TempDir(), HTTPPort: 1, TLSPort: 1, DisableOCSP: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(m.cache.Stop)
	names := make([]string, n)
	for i := range names {
		names[i] = "d" + strconv.Itoa(i) + ".bench.test"
		if _, err := m.magic.CacheUnmanagedTLSCertificate(context.Background(), selfSigned(tb, names[i]), nil); err != nil {
			tb.Fatal(err)
		}
	}
	return m, names
}

func selfSigned(tb testing.TB, name string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// handshake runs one TLS handshake between client and server configs
// over a loopback TCP connection from ln, and one byte of application
// data (so the client takes in the TLS 1.3 session ticket).
func handshake(b *testing.B, ln net.Listener, server, client *tls.Config) *tls.ConnectionState {
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		srv := tls.Server(c, server)
		if err = srv.Handshake(); err == nil {
			_, err = srv.Write([]byte("y")) // after the session ticket
		}
		errc <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	cl := tls.Client(c, client)
	if err := cl.Handshake(); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(cl, make([]byte, 1)); err != nil { // takes in the session ticket first
		b.Fatal(err)
	}
	st := cl.ConnectionState()
	cl.Close()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	return &st
}

func loopback(b *testing.B) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	return ln
}

// BenchmarkTLSHandshake measures handshakes served from certmagic's cache
// (ECDSA P-256 certificates, 1,000 cached names, TLS 1.3): full
// handshakes, and resumed ones with a session ticket.
func BenchmarkTLSHandshake(b *testing.B) {
	m, names := benchTLSManager(b, 1000)
	ln := loopback(b)
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			handshake(b, ln, m.tlsCfg, &tls.Config{ServerName: names[i%len(names)], InsecureSkipVerify: true})
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
	})
	b.Run("resumed", func(b *testing.B) {
		cache := tls.NewLRUClientSessionCache(1)
		client := &tls.Config{ServerName: names[0], InsecureSkipVerify: true, ClientSessionCache: cache}
		handshake(b, ln, m.tlsCfg, client) // primes the ticket
		b.ReportAllocs()
		resumed := 0
		for b.Loop() {
			if handshake(b, ln, m.tlsCfg, client).DidResume {
				resumed++
			}
		}
		if resumed == 0 {
			b.Fatal("no handshake resumed")
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
	})
}

// BenchmarkTLSCacheMemory reports the heap held per cached certificate
// with 10,000 custom domains in certmagic's cache.
func BenchmarkTLSCacheMemory(b *testing.B) {
	const n = 10_000
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m, _ := benchTLSManager(b, n)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/cert")
		runtime.KeepAlive(m)
	}
}
