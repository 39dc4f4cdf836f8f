package control

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/internal/testdns"
)

func TestNormalizeDomain(t *testing.T) {
	long := ""
	for range 5 {
		long += "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	}
	tests := []struct {
		name, in, want string // want "" means invalid
	}{
		{"plain", "properties.acme.com", "properties.acme.com"},
		{"upper case and dot", " Properties.ACME.com. ", "properties.acme.com"},
		{"IDN to punycode", "bücher.example", "xn--bcher-kva.example"},
		{"IDN upper", "BÜCHER.example", "xn--bcher-kva.example"},
		{"punycode kept", "xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"empty", "", ""},
		{"single label", "localhost", ""},
		{"IPv4", "192.0.2.1", ""},
		{"IPv6", "[2001:db8::1]", ""},
		{"IPv6 bare", "2001:db8::1", ""},
		{"wildcard", "*.acme.com", ""},
		{"port", "acme.com:443", ""},
		{"URL", "https://acme.com/", ""},
		{"underscore", "a_b.acme.com", ""},
		{"leading hyphen", "-a.acme.com", ""},
		{"empty label", "a..acme.com", ""},
		{"label too long", "a234567890123456789012345678901234567890123456789012345678901234.com", ""},
		{"name too long", long + "com", ""},
		{"numeric TLD", "acme.123", ""},
		{"base domain", "estatecore.test", ""},
		{"under base domain", "acme.estatecore.test", ""},
		{"bad IDN", "a\u200d.example", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeDomain(tt.in, "estatecore.test")
			if tt.want == "" {
				if err == nil || whitelabel.ErrorCodeOf(err) != whitelabel.CodeInvalid {
					t.Errorf("NormalizeDomain(%q) = %q, %v; want an invalid_input error", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestDomainsAPI(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		dns := testdns.Start(t)
		e := newEnv(t, st, func(c *Config) { c.Verify.Resolver = dns.Addr; c.Verify.HTTPPort = 1 })
		p, other := e.createPartner("p1"), e.createPartner("p2")
		tn := e.createTenant(p, "acme", map[string]any{"plan": "premium"})
		id := idOf(tn)
		tn2 := e.createTenant(other, "beta", map[string]any{"plan": "premium"})

		d := e.must(201, "POST", tenantPath(id, "domains"), apiKey(p.key), map[string]any{"domain": "Properties.Acme.com"}).obj(t)
		mustEqual(t, "domain", d["domain"], any("properties.acme.com"))
		mustEqual(t, "status", d["status"], any("pending"))
		ins := d["instructions"].(map[string]any)
		txt := ins["txt"].(map[string]any)
		mustEqual(t, "txt name", txt["name"], any("_whitelabel-challenge.properties.acme.com"))
		mustEqual(t, "txt value", txt["value"], d["verification_token"])
		mustEqual(t, "cname target", ins["cname"].(map[string]any)["target"], any("acme.estatecore.test"))

		// Another tenant (any partner) cannot take it: 409.
		r := e.must(409, "POST", tenantPath(idOf(tn2), "domains"), apiKey(other.key), map[string]any{"domain": "properties.acme.com"})
		if code, field := r.errCode(t); code != "conflict" || field != "domain" {
			t.Errorf("conflict error = %s/%s", code, field)
		}
		// Invalid names are 400 with field domain.
		r = e.must(400, "POST", tenantPath(id, "domains"), apiKey(p.key), map[string]any{"domain": "*.acme.com"})
		if _, field := r.errCode(t); field != "domain" {
			t.Errorf("field = %q", field)
		}
		e.must(400, "POST", tenantPath(id, "domains"), apiKey(p.key), map[string]any{"domain": "x.estatecore.test"})
		// Partner isolation: another partner sees nothing.
		e.must(404, "GET", tenantPath(id, "domains"), apiKey(other.key), nil)
		e.must(404, "GET", tenantPath(id, "domains", "properties.acme.com"), apiKey(other.key), nil)
		e.must(404, "POST", tenantPath(id, "domains", "properties.acme.com", "verify"), apiKey(other.key), nil)
		e.must(404, "DELETE", tenantPath(id, "domains", "properties.acme.com"), apiKey(other.key), nil)
		e.must(404, "GET", tenantPath(idOf(tn2), "domains", "properties.acme.com"), apiKey(other.key), nil)

		// Quota: premium allows 3.
		e.must(201, "POST", tenantPath(id, "domains"), apiKey(p.key), map[string]any{"domain": "bücher.example"})
		e.must(201, "POST", tenantPath(id, "domains"), apiKey(p.key), map[string]any{"domain": "c.example"})
		r = e.must(429, "POST", tenantPath(id, "domains"), apiKey(p.key), map[string]any{"domain": "d.example"})
		if code, _ := r.errCode(t); code != "quota_exceeded" {
			t.Errorf("code = %s", code)
		}
		basic := e.createTenant(p, "small", nil)
		e.must(403, "POST", tenantPath(idOf(basic), "domains"), apiKey(p.key), map[string]any{"domain": "small.example"})

		list := e.must(200, "GET", tenantPath(id, "domains"), apiKey(p.key), nil).obj(t)["domains"].([]any)
		mustEqual(t, "domains listed", len(list), 3)
		idn := e.must(200, "GET", tenantPath(id, "domains", "xn--bcher-kva.example"), admin, nil).obj(t)
		mustEqual(t, "unicode_domain", idn["unicode_domain"], any("bücher.example"))
		e.must(200, "GET", tenantPath(id, "domains", "bücher.example"), admin, nil)

		// Verify without the record: still pending, with the reason.
		v := e.must(200, "POST", tenantPath(id, "domains", "properties.acme.com", "verify"), apiKey(p.key), nil).obj(t)
		mustEqual(t, "status before TXT", v["status"], any("pending"))
		if v["last_check_error"] == "" || v["last_check_error"] == nil {
			t.Error("no last_check_error after a failed check")
		}
		dns.SetTXT("_whitelabel-challenge.properties.acme.com", "unrelated", d["verification_token"].(string))
		v = e.must(200, "POST", tenantPath(id, "domains", "properties.acme.com", "verify"), apiKey(p.key), nil).obj(t)
		mustEqual(t, "status after TXT", v["status"], any("verified"))
		if v["verified_at"] == nil {
			t.Error("verified_at not set")
		}
		// A CNAME to the tenant's hostname is proof too.
		dns.SetCNAME("c.example", "acme.estatecore.test")
		v = e.must(200, "POST", tenantPath(id, "domains", "c.example", "verify"), admin, nil).obj(t)
		mustEqual(t, "status after CNAME", v["status"], any("verified"))

		e.must(204, "DELETE", tenantPath(id, "domains", "c.example"), apiKey(p.key), nil)
		e.must(404, "GET", tenantPath(id, "domains", "c.example"), apiKey(p.key), nil)

		// Audit: create, verified (by the partner's request), delete.
		es, err := st.ListAudit(t.Context(), whitelabel.AuditFilter{TenantID: id, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, a := range es {
			if a.TargetType == "domain" {
				seen[a.Action]++
				if a.PartnerID != p.id {
					t.Errorf("audit %s partner = %d, want %d", a.Action, a.PartnerID, p.id)
				}
			}
		}
		mustEqual(t, "domain.create entries", seen["domain.create"], 3)
		mustEqual(t, "domain.verified entries", seen["domain.verified"], 2)
		mustEqual(t, "domain.delete entries", seen["domain.delete"], 1)
	})
}

// checkRecorder passes the worker's results through to the store and
// reports each one written, as the worker computed it.
type checkRecorder struct {
	whitelabel.DomainCheckStore
	done chan whitelabel.DomainCheckResult
}

func (c *checkRecorder) FinishDomainCheck(ctx context.Context, r whitelabel.DomainCheckResult, audit *whitelabel.AuditEntry) error {
	d := *r.Domain
	err := c.DomainCheckStore.FinishDomainCheck(ctx, r, audit)
	if err == nil {
		r.Domain = &d
		select {
		case c.done <- r:
		default: // the test no longer listens
		}
	}
	return err
}

// next returns the next result written for domain, skipping others.
func (c *checkRecorder) next(t *testing.T, domain string) whitelabel.DomainCheckResult {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case r := <-c.done:
			if r.Domain.Domain == domain {
				return r
			}
		case <-deadline:
			t.Fatalf("no check of %s written within 30s", domain)
		}
	}
}

// TestVerifyWorker runs the background worker: pending checks back off
// as configured, pending → verified once the TXT appears, pending →
// failed after the window, active → moved when the records disappear.
func TestVerifyWorker(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		dns := testdns.Start(t)
		e := newEnv(t, st, func(c *Config) {
			c.Verify = VerifyConfig{Resolver: dns.Addr, HTTPPort: 1, Interval: 20 * time.Millisecond,
				Backoff: []time.Duration{0, 50 * time.Millisecond}, Recheck: 100 * time.Millisecond, MovedAfter: 2,
				Window: time.Hour}
		})
		checks := &checkRecorder{DomainCheckStore: e.srv.verifier.store, done: make(chan whitelabel.DomainCheckResult, 256)}
		e.srv.verifier.store = checks
		e.runWorker()
		p := e.createPartner("p")
		id := idOf(e.createTenant(p, "acme", map[string]any{"plan": "premium"}))
		d := e.must(201, "POST", tenantPath(id, "domains"), apiKey(p.key), map[string]any{"domain": "a.example"}).obj(t)
		e.must(201, "POST", tenantPath(id, "domains"), apiKey(p.key), map[string]any{"domain": "never.example"})
		status := func(name string) string {
			got, err := st.GetDomain(t.Context(), name)
			if err != nil {
				t.Fatal(err)
			}
			return string(got.Status)
		}
		// Without the record each check leaves a.example pending with the
		// reason, counts the attempt and schedules the next one after the
		// backoff (50ms, raised to the 1s floor). The clock is moved to
		// that time, so the second check does not wait for it.
		for attempt := 1; attempt <= 2; attempt++ {
			r := checks.next(t, "a.example")
			mustEqual(t, "status after check without record", r.Domain.Status, whitelabel.DomainPending)
			mustEqual(t, "attempts after check without record", r.Attempts, attempt)
			if !strings.Contains(r.Domain.LastCheckError, "no TXT record") {
				t.Errorf("check %d: last_check_error = %q, want the missing TXT record", attempt, r.Domain.LastCheckError)
			}
			if r.Domain.LastCheckedAt == nil || r.NextCheckAt == nil || r.NextCheckAt.Sub(*r.Domain.LastCheckedAt) != time.Second {
				t.Fatalf("check %d: last checked %v, next check %v; want the next 1s after", attempt, r.Domain.LastCheckedAt, r.NextCheckAt)
			}
			e.clock.Advance(time.Second)
		}
		mustEqual(t, "stored status without record", status("a.example"), "pending")
		dns.SetTXT("_whitelabel-challenge.a.example", d["verification_token"].(string))
		waitFor(t, "a.example verified", 30*time.Second, func() bool { return status("a.example") == "verified" })

		e.clock.Advance(2 * time.Hour) // past the window
		waitFor(t, "never.example failed", 30*time.Second, func() bool { return status("never.example") == "failed" })
		got, _ := st.GetDomain(t.Context(), "never.example")
		if got.LastCheckError == "" {
			t.Error("failed domain has no last_check_error")
		}

		dns.SetTXT("_whitelabel-challenge.a.example")
		waitFor(t, "a.example moved", 30*time.Second, func() bool { return status("a.example") == "moved" })
	})
}

// TestClaimDueDomainsDisjoint: workers claiming at once (two control
// instances) never get the same domain, and a claim hides a domain until
// its lease ends.
func TestClaimDueDomainsDisjoint(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("p")
		id := idOf(e.createTenant(p, "acme", map[string]any{"plan": "enterprise"}))
		for i := range 20 {
			e.must(201, "POST", tenantPath(id, "domains"), apiKey(p.key), map[string]any{"domain": "d" + itoa(int64(i)) + ".example"})
		}
		dc := st.(whitelabel.DomainCheckStore)
		now := time.Now()
		results := make(chan []*whitelabel.DomainCheck, 4)
		for range 4 {
			go func() {
				cs, err := dc.ClaimDueDomains(t.Context(), now, time.Minute, 7)
				if err != nil {
					t.Error(err)
				}
				results <- cs
			}()
		}
		seen := map[string]bool{}
		for range 4 {
			for _, c := range <-results {
				if seen[c.Domain] {
					t.Errorf("%s claimed twice", c.Domain)
				}
				seen[c.Domain] = true
			}
		}
		mustEqual(t, "claimed", len(seen), 20)
		if cs, _ := dc.ClaimDueDomains(t.Context(), now, time.Minute, 50); len(cs) != 0 {
			t.Errorf("claimed %d domains under a live lease", len(cs))
		}
		if cs, _ := dc.ClaimDueDomains(t.Context(), now.Add(2*time.Minute), time.Minute, 50); len(cs) != 20 {
			t.Errorf("after the lease: claimed %d, want 20", len(cs))
		}
	})
}
