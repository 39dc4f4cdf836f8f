package control

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/internal/testdns"
)

func TestVerifyPublicAddr(t *testing.T) {
	tests := []struct {
		name string
		ip   string
		want bool
	}{
		{"public IPv4", "93.184.215.14", true},
		{"public IPv6", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", true},
		{"loopback", "127.0.0.1", false},
		{"loopback, other", "127.8.9.10", false},
		{"IPv6 loopback", "::1", false},
		{"IPv4-mapped loopback", "::ffff:127.0.0.1", false},
		{"private 10/8", "10.1.2.3", false},
		{"private 172.16/12", "172.31.255.1", false},
		{"private 192.168/16", "192.168.0.10", false},
		{"IPv6 unique local", "fd00::1", false},
		{"link-local (cloud metadata)", "169.254.169.254", false},
		{"IPv6 link-local", "fe80::1", false},
		{"unspecified", "0.0.0.0", false},
		{"this network", "0.1.2.3", false},
		{"shared address space", "100.64.0.1", false},
		{"benchmarking", "198.18.0.1", false},
		{"documentation", "192.0.2.1", false},
		{"reserved", "240.0.0.1", false},
		{"broadcast", "255.255.255.255", false},
		{"multicast", "224.0.0.1", false},
		{"NAT64 of loopback", "64:ff9b::7f00:1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := publicAddr(netip.MustParseAddr(tt.ip)); got != tt.want {
				t.Errorf("publicAddr(%s) = %v, want %v", tt.ip, got, tt.want)
			}
		})
	}
}

// TestVerifyHTTPToken: the HTTP token check connects only to public
// addresses, unless AllowPrivateTargets (set here because the test DNS
// answers 127.0.0.1), and then proves control of the domain.
func TestVerifyHTTPToken(t *testing.T) {
	dns := testdns.Start(t)
	var token atomic.Value // the current subtest's domain's token
	token.Store("")
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := token.Load().(string); r.URL.Path == ChallengePath+tok {
			w.Write([]byte(tok + "\n"))
			return
		}
		http.NotFound(w, r)
	}))
	defer site.Close()
	port := site.Listener.Addr().(*net.TCPAddr).Port

	for _, allow := range []bool{false, true} {
		t.Run("AllowPrivateTargets="+strconv.FormatBool(allow), func(t *testing.T) {
			e := newEnv(t, openSQLite(t), func(c *Config) {
				c.Verify = VerifyConfig{Resolver: dns.Addr, HTTPPort: port, AllowPrivateTargets: allow}
			})
			p := e.createPartner("p")
			id := idOf(e.createTenant(p, "acme", map[string]any{"plan": "premium"}))
			d := e.must(201, "POST", tenantPath(id, "domains"), apiKey(p.key), map[string]any{"domain": "http.example"}).obj(t)
			tok := d["verification_token"].(string)
			token.Store(tok)

			body, err := e.srv.verifier.fetchToken(t.Context(), &whitelabel.TenantDomain{Domain: "http.example", VerificationToken: tok})
			if allow {
				if err != nil || body != tok {
					t.Errorf("fetchToken = %q, %v; want the token", body, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), "is not public: 127.0.0.1") {
				t.Errorf("fetchToken = %q, %v; want a refusal of 127.0.0.1", body, err)
			}

			want := map[bool]string{false: "pending", true: "verified"}[allow]
			v := e.must(200, "POST", tenantPath(id, "domains", "http.example", "verify"), apiKey(p.key), nil).obj(t)
			mustEqual(t, "status after verify", v["status"], any(want))
		})
	}
}

// TestVerifyDialTimeout: the HTTP check's dialer gives up on its own;
// the check's context is not its only bound (POST …/verify runs on the
// request's).
func TestVerifyDialTimeout(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	d := e.srv.verifier.dial
	if d.Timeout <= 0 || d.Timeout > DefaultVerifyTimeout {
		t.Errorf("dialer Timeout = %v, want in (0, %v]", d.Timeout, DefaultVerifyTimeout)
	}
	if d.KeepAlive <= 0 {
		t.Errorf("dialer KeepAlive = %v, want > 0", d.KeepAlive)
	}
}

// TestVerifyCheckLosesRace: a check whose result loses to a change made
// meanwhile (the edge turned the domain active) releases its claim, so
// the domain is checked again at once instead of after the lease.
func TestVerifyCheckLosesRace(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		dns := testdns.Start(t)
		e := newEnv(t, st, func(c *Config) { c.Verify.Resolver = dns.Addr; c.Verify.HTTPPort = 1 })
		p := e.createPartner("p")
		id := idOf(e.createTenant(p, "acme", map[string]any{"plan": "premium"}))
		d := e.must(201, "POST", tenantPath(id, "domains"), apiKey(p.key), map[string]any{"domain": "race.example"}).obj(t)
		dns.SetTXT("_whitelabel-challenge.race.example", d["verification_token"].(string))
		v := e.must(200, "POST", tenantPath(id, "domains", "race.example", "verify"), apiKey(p.key), nil).obj(t)
		mustEqual(t, "status", v["status"], any("verified"))

		// The worker claims the re-check of the verified domain …
		dc := st.(whitelabel.DomainCheckStore)
		later := e.clock.Now().Add(DefaultVerifyRecheck + time.Minute)
		cs, err := dc.ClaimDueDomains(t.Context(), later, DefaultVerifyLease, 10)
		if err != nil || len(cs) != 1 {
			t.Fatalf("ClaimDueDomains = %d checks, %v; want 1", len(cs), err)
		}
		// … the edge records the certificate meanwhile …
		now := e.clock.Now()
		audit := &whitelabel.AuditEntry{Actor: "edge", TargetType: "domain", TargetID: "race.example", PartnerID: p.id, TenantID: id}
		if err := st.(whitelabel.DomainCertStore).RecordDomainCertificate(t.Context(), "race.example", "Test CA", now, now.Add(90*24*time.Hour), audit); err != nil {
			t.Fatal(err)
		}
		// … so the check's write is refused, and the claim is released.
		e.clock.Advance(DefaultVerifyRecheck + time.Minute)
		if err := e.srv.verifier.runCheck(t.Context(), cs[0]); err != nil {
			t.Fatalf("runCheck: %v", err)
		}
		again, err := dc.ClaimDueDomains(t.Context(), e.clock.Now(), DefaultVerifyLease, 10)
		if err != nil || len(again) != 1 || again[0].Status != whitelabel.DomainActive {
			t.Errorf("after the lost write: claimed %v, %v; want race.example (active) due at once", again, err)
		}
	})
}
