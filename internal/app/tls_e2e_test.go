package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/control"
	"github.com/estatecore/whitelabel/edge"
	"github.com/estatecore/whitelabel/internal/acmetest"
	"github.com/estatecore/whitelabel/internal/app"
	"github.com/estatecore/whitelabel/internal/config"
	"github.com/estatecore/whitelabel/internal/testdns"
	"github.com/estatecore/whitelabel/internal/testenv"
	"github.com/estatecore/whitelabel/store/postgres"
	"github.com/estatecore/whitelabel/store/sqlite"
)

const (
	e2eBase  = "estatecore.test"
	e2eAdmin = "e2e-admin-token-0123456789"
	// e2eWait bounds every wait in these tests: each polls until its
	// condition holds, so a passing run takes a fraction of it, and it is
	// sized for -race on a loaded two-core machine, where an ACME order
	// against Pebble can take many seconds.
	e2eWait = 2 * time.Minute
)

func quietLog() *slog.Logger {
	if os.Getenv("E2E_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// tlsEdge is one edge with HTTP and HTTPS listeners on loopback.
type tlsEdge struct {
	srv               *edge.Server
	httpAddr, tlsAddr string
	httpLn, tlsLn     net.Listener
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func port(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }

// newTLSEdge builds an edge on st with TLS through app.EdgeTLSConfig
// (ACME_DIRECTORY, ACME_CA_ROOTS, the storage choice) and starts it; the
// listeners must exist already because Pebble needs their ports.
func newTLSEdge(t *testing.T, st whitelabel.Store, upstream string, pb *acmetest.Pebble, httpLn, tlsLn net.Listener) *tlsEdge {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	up, _ := url.Parse(upstream)
	e, err := edge.New(ctx, edge.Config{Source: st, Plans: whitelabel.DefaultPlans(), BaseDomain: e2eBase, Upstream: up,
		Logger: quietLog(), PollInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("edge.New: %v", err)
	}
	cfg := config.Defaults()
	cfg.ACMEDirectory, cfg.ACMECARoots, cfg.CertStorageDir = pb.Directory, pb.ServerRootsFile, filepath.Join(t.TempDir(), "certs")
	tc, err := app.EdgeTLSConfig(cfg, st, quietLog(), port(httpLn), port(tlsLn))
	if err != nil {
		t.Fatalf("EdgeTLSConfig: %v", err)
	}
	if pg, ok := st.(*postgres.Store); ok {
		// A lease far longer than any order: no holder dies here, and a
		// short one could lapse while a loaded machine delays its refresh,
		// letting the second edge order too.
		tc.Storage = pg.CertStorage(postgres.CertStorageOptions{LockLease: time.Minute, LockPollInterval: 50 * time.Millisecond})
	}
	if os.Getenv("E2E_LOG") != "" {
		tc.ZapLogger, _ = zap.NewDevelopment()
	}
	if err := e.EnableTLS(tc); err != nil {
		t.Fatalf("EnableTLS: %v", err)
	}
	plain := &http.Server{Handler: e.HTTPHandler()}
	secure := &http.Server{Handler: e.Handler()}
	go plain.Serve(httpLn)
	go secure.Serve(tls.NewListener(tlsLn, e.TLSConfig()))
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	t.Cleanup(func() {
		plain.Close()
		secure.Close()
		cancel()
		<-done
	})
	return &tlsEdge{srv: e, httpAddr: httpLn.Addr().String(), tlsAddr: tlsLn.Addr().String(), httpLn: httpLn, tlsLn: tlsLn}
}

// handshake dials the edge's HTTPS port with SNI name and verifies the
// chain against Pebble's root.
func (e *tlsEdge) handshake(name string, pb *acmetest.Pebble) (*tls.ConnectionState, error) {
	d := &net.Dialer{Timeout: e2eWait} // connect and handshake
	c, err := tls.DialWithDialer(d, "tcp", e.tlsAddr, &tls.Config{ServerName: name, RootCAs: pb.IssuerRoots, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	st := c.ConnectionState()
	return &st, nil
}

// httpsClient sends every request to the edge's HTTPS port, trusting
// Pebble's root; HTTP/2 when the server offers it.
func (e *tlsEdge) httpsClient(pb *acmetest.Pebble) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pb.IssuerRoots},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, e.tlsAddr)
		},
	}
	return &http.Client{Transport: tr, Timeout: e2eWait}
}

// ctl is the control API on a store, with its worker running.
type ctl struct {
	t  *testing.T
	hs *httptest.Server
}

func newControl(t *testing.T, st whitelabel.Store, v control.VerifyConfig) *ctl {
	t.Helper()
	c, err := control.New(control.Config{Store: st, AdminToken: e2eAdmin, BaseDomain: e2eBase, Logger: quietLog(),
		ProvisionDelay: 10 * time.Millisecond, Verify: v})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	hs := httptest.NewServer(c)
	t.Cleanup(func() { hs.Close(); cancel(); <-done })
	return &ctl{t: t, hs: hs}
}

func (c *ctl) call(want int, method, path string, body any) map[string]any {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.hs.URL+control.BasePath+path, rd)
	req.Header.Set("X-Admin-Token", e2eAdmin)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.hs.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	m := map[string]any{}
	json.Unmarshal(b, &m)
	return m
}

// tenant creates a partner and an active premium tenant with subdomain
// sub; it returns the tenant's API path.
func (c *ctl) tenant(sub string) string {
	c.t.Helper()
	p := c.call(201, "POST", "/partners", map[string]any{"name": "P " + sub, "contact_email": "ops@" + sub + ".example"})
	tn := c.call(201, "POST", "/tenants", map[string]any{"name": "T " + sub, "subdomain": sub, "contact_email": "a@" + sub + ".example",
		"plan": "premium", "partner_id": p["id"]})
	path := "/tenants/" + strconv.Itoa(int(tn["id"].(float64)))
	waitUntil(c.t, "tenant active", e2eWait, func() bool { return c.call(200, "GET", path, nil)["status"] == "active" })
	return path
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func domainStatus(t *testing.T, st whitelabel.Store, name string) whitelabel.DomainStatus {
	d, err := st.GetDomain(t.Context(), name)
	if errors.Is(err, whitelabel.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return d.Status
}

func upstreamEcho(t *testing.T) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "tenant="+r.Header.Get("X-Tenant-Key"))
	}))
	t.Cleanup(up.Close)
	return up
}

// TestCustomDomainTLSEndToEnd: real CA (Pebble), real DNS, real TLS on
// loopback, embedded store: add → TXT → verify → certificate → HTTPS
// reaches the upstream as the tenant; unknown and unverified names are
// refused without ACME orders; delete and moved stop serving.
func TestCustomDomainTLSEndToEnd(t *testing.T) {
	dns := testdns.Start(t)
	st, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "wl.db"), Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	httpLn, tlsLn := listenLoopback(t), listenLoopback(t)
	pb := acmetest.Start(t, dns.Addr, port(httpLn), port(tlsLn))
	up := upstreamEcho(t)
	// The HTTP token check goes to a closed port: in this test only the
	// TXT record proves control (the edge's token answer is checked below).
	c := newControl(t, st, control.VerifyConfig{Resolver: dns.Addr, HTTPPort: 1, Interval: 50 * time.Millisecond,
		Recheck: 300 * time.Millisecond, MovedAfter: 1, Backoff: []time.Duration{0, 100 * time.Millisecond}})
	tp := c.tenant("acme")
	e := newTLSEdge(t, st, up.URL, pb, httpLn, tlsLn)

	const name = "shop.acme-e2e.test"
	d := c.call(201, "POST", tp+"/domains", map[string]any{"domain": name})
	token := d["verification_token"].(string)
	pending := c.call(201, "POST", tp+"/domains", map[string]any{"domain": "pending.acme-e2e.test"})

	// Unverified and unknown names: handshake refused, no order placed.
	for _, sni := range []string{name, "pending.acme-e2e.test", "nobody.example", ""} {
		if _, err := e.handshake(sni, pb); err == nil {
			t.Errorf("handshake with SNI %q succeeded before verification", sni)
		}
	}
	if n := pb.Orders(); n != 0 {
		t.Fatalf("ACME orders after refused handshakes = %d, want 0", n)
	}

	// The HTTP token alternative is answered by the edge from the snapshot.
	waitUntil(t, "edge sees the pending domain", e2eWait, func() bool {
		req, _ := http.NewRequest("GET", "http://"+e.httpAddr+"/.well-known/whitelabel-challenge/"+pending["verification_token"].(string), nil)
		req.Host = "pending.acme-e2e.test"
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode == 200 && string(b) == pending["verification_token"]
	})

	// Publish the TXT record and verify: verified at once, active once
	// the edge holds the certificate.
	dns.SetTXT("_whitelabel-challenge."+name, token)
	start := time.Now()
	v := c.call(200, "POST", tp+"/domains/"+name+"/verify", nil)
	if v["status"] != "verified" {
		t.Fatalf("status after verify = %v (%v)", v["status"], v["last_check_error"])
	}
	waitUntil(t, name+" active", e2eWait, func() bool { return domainStatus(t, st, name) == whitelabel.DomainActive })
	t.Logf("verify → active against Pebble: %v", time.Since(start).Round(time.Millisecond))
	got := c.call(200, "GET", tp+"/domains/"+name, nil)
	if got["certificate_issuer"] == "" || got["certificate_not_after"] == nil || got["certificate_not_before"] == nil {
		t.Errorf("active domain lacks certificate fields: %v", got)
	}

	cs, err := e.handshake(name, pb)
	if err != nil {
		t.Fatalf("handshake for verified domain: %v", err)
	}
	if leaf := cs.PeerCertificates[0]; leaf.VerifyHostname(name) != nil {
		t.Errorf("certificate does not cover %s: %v", name, leaf.DNSNames)
	}
	res, err := e.httpsClient(pb).Get("https://" + name + "/dashboard")
	if err != nil {
		t.Fatalf("HTTPS request: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "tenant=acme" {
		t.Errorf("HTTPS via custom domain = %d %q", res.StatusCode, body)
	}
	if res.Proto != "HTTP/2.0" {
		t.Errorf("protocol = %s, want HTTP/2.0", res.Proto)
	}
	// Plain HTTP redirects to HTTPS.
	req, _ := http.NewRequest("GET", "http://"+e.httpAddr+"/x?y=1", nil)
	req.Host = name
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if res, err := noFollow.Do(req); err != nil || res.StatusCode != http.StatusPermanentRedirect ||
		res.Header.Get("Location") != "https://"+name+":"+strconv.Itoa(port(tlsLn))+"/x?y=1" {
		t.Errorf("plain HTTP = %v %v, want 308 to HTTPS", res, err)
	}
	// Still no order for the pending or unknown names.
	for _, sni := range []string{"pending.acme-e2e.test", "nobody.example"} {
		if _, err := e.handshake(sni, pb); err == nil {
			t.Errorf("handshake with SNI %q succeeded", sni)
		}
	}
	if n := pb.Orders(); n != 1 {
		t.Errorf("ACME orders = %d, want 1", n)
	}

	// IDN: the punycode name gets its certificate; then its records go
	// away, a re-check finds that, and it is no longer served.
	idn := c.call(201, "POST", tp+"/domains", map[string]any{"domain": "bücher-e2e.test"})
	const idnA = "xn--bcher-e2e-q9a.test"
	if idn["domain"] != idnA {
		t.Fatalf("IDN stored as %v, want %s", idn["domain"], idnA)
	}
	dns.SetTXT("_whitelabel-challenge."+idnA, idn["verification_token"].(string))
	waitUntil(t, "IDN active", e2eWait, func() bool { return domainStatus(t, st, idnA) == whitelabel.DomainActive })
	if _, err := e.handshake(idnA, pb); err != nil {
		t.Fatalf("handshake for IDN: %v", err)
	}
	dns.SetTXT("_whitelabel-challenge." + idnA)
	waitUntil(t, "IDN moved", e2eWait, func() bool { return domainStatus(t, st, idnA) == whitelabel.DomainMoved })
	waitUntil(t, "moved IDN no longer served", e2eWait, func() bool { _, err := e.handshake(idnA, pb); return err != nil })

	// Delete: no longer served, no certificate left to renew.
	c.call(204, "DELETE", tp+"/domains/"+name, nil)
	waitUntil(t, "deleted domain no longer served", e2eWait, func() bool { _, err := e.handshake(name, pb); return err != nil })
	if n := pb.Orders(); n != 2 {
		t.Errorf("ACME orders at the end = %d, want 2 (one per verified domain)", n)
	}
}

// TestTwoEdgesSharePostgresCertificates: two edges on one PostgreSQL
// store both manage a newly verified domain; the certificate storage's
// lock lets one order it, the other loads it, and both serve it. Pebble
// validates against edge A's ports only, so an order placed by edge B is
// answered by A from the shared storage (certmagic's distributed solver).
func TestTwoEdgesSharePostgresCertificates(t *testing.T) {
	dns := testdns.Start(t)
	st, err := postgres.Open(t.Context(), postgres.Config{URL: testenv.PostgresURL(t), Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	httpA, tlsA := listenLoopback(t), listenLoopback(t)
	pb := acmetest.Start(t, dns.Addr, port(httpA), port(tlsA))
	up := upstreamEcho(t)
	c := newControl(t, st, control.VerifyConfig{Resolver: dns.Addr, HTTPPort: 1, Interval: 50 * time.Millisecond})
	tp := c.tenant("beta")
	a := newTLSEdge(t, st, up.URL, pb, httpA, tlsA)
	b := newTLSEdge(t, st, up.URL, pb, listenLoopback(t), listenLoopback(t))

	const name = "www.beta-e2e.test"
	d := c.call(201, "POST", tp+"/domains", map[string]any{"domain": name})
	dns.SetTXT("_whitelabel-challenge."+name, d["verification_token"].(string))
	start := time.Now()
	c.call(200, "POST", tp+"/domains/"+name+"/verify", nil)
	waitUntil(t, name+" active", e2eWait, func() bool { return domainStatus(t, st, name) == whitelabel.DomainActive })
	t.Logf("verify → active with two edges on PostgreSQL: %v", time.Since(start).Round(time.Millisecond))
	for i, e := range []*tlsEdge{a, b} {
		var cs *tls.ConnectionState
		waitUntil(t, "edge serves the certificate", e2eWait, func() bool { cs, err = e.handshake(name, pb); return err == nil })
		res, err := e.httpsClient(pb).Get("https://" + name + "/")
		if err != nil {
			t.Fatalf("edge %d HTTPS: %v", i, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(body) != "tenant=beta" {
			t.Errorf("edge %d body = %q", i, body)
		}
		_ = cs
	}
	if n := pb.Orders(); n != 1 {
		t.Errorf("ACME orders with two edges = %d, want 1", n)
	}
}
