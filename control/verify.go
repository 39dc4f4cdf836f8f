package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/estatecore/whitelabel"
)

// Defaults of VerifyConfig.
const (
	DefaultVerifyWindow     = 72 * time.Hour
	DefaultVerifyRecheck    = 6 * time.Hour
	DefaultVerifyMovedAfter = 3
	DefaultVerifyInterval   = 5 * time.Second
	DefaultVerifyLease      = 2 * time.Minute
	DefaultVerifyTimeout    = 10 * time.Second

	// verifyDialTimeout bounds connecting for the HTTP token check, and
	// verifyKeepAlive is that connection's TCP keep-alive period.
	verifyDialTimeout = 5 * time.Second
	verifyKeepAlive   = 30 * time.Second
)

// DefaultVerifyBackoff returns the wait before each check of a pending
// domain: the first right away, then less and less often; the last
// repeats. The caller owns the returned slice.
func DefaultVerifyBackoff() []time.Duration {
	return []time.Duration{0, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
		15 * time.Minute, 30 * time.Minute, time.Hour}
}

// VerifyConfig configures custom domain verification. Zero fields take
// the defaults named here.
type VerifyConfig struct {
	// Resolver is the host:port of the DNS server asked for the TXT,
	// CNAME and A records. "" means the first nameserver in
	// /etc/resolv.conf.
	Resolver string
	// Window is how long after creation a pending domain may take to
	// verify before it turns failed. Default DefaultVerifyWindow (72h).
	Window time.Duration
	// Backoff lists the waits between checks of a pending domain; the
	// last one repeats. Default DefaultVerifyBackoff().
	Backoff []time.Duration
	// Recheck is the time between re-checks of verified and active
	// domains. Default DefaultVerifyRecheck (6h).
	Recheck time.Duration
	// MovedAfter is how many consecutive re-checks must find no proof
	// before a verified or active domain turns moved. Default 3.
	MovedAfter int
	// HTTPPort is the port of the HTTP token check. Default 80.
	HTTPPort int
	// Interval is how often the worker looks for due checks (creating a
	// domain also wakes it). Default 5s.
	Interval time.Duration
	// Lease is how long a claimed check stays hidden from other control
	// instances; a worker that dies loses its claims after it. Default 2m.
	Lease time.Duration
	// Timeout bounds one domain's check. Default 10s.
	Timeout time.Duration
	// AllowPrivateTargets lets the HTTP token check connect to addresses
	// that are not public (loopback, private, link-local, shared and other
	// special-purpose ranges; see publicAddr). Off by default, so a
	// partner's A record cannot point the control plane at internal
	// services; tests whose DNS answers 127.0.0.1 turn it on.
	AllowPrivateTargets bool
}

func (c VerifyConfig) withDefaults() (VerifyConfig, error) {
	for _, d := range []struct {
		p   *time.Duration
		def time.Duration
		n   string
	}{
		{&c.Window, DefaultVerifyWindow, "Window"}, {&c.Recheck, DefaultVerifyRecheck, "Recheck"},
		{&c.Interval, DefaultVerifyInterval, "Interval"}, {&c.Lease, DefaultVerifyLease, "Lease"},
		{&c.Timeout, DefaultVerifyTimeout, "Timeout"},
	} {
		if *d.p < 0 {
			return c, fmt.Errorf("control: Verify.%s must not be negative", d.n)
		}
		if *d.p == 0 {
			*d.p = d.def
		}
	}
	if len(c.Backoff) == 0 {
		c.Backoff = DefaultVerifyBackoff()
	}
	if c.MovedAfter <= 0 {
		c.MovedAfter = DefaultVerifyMovedAfter
	}
	if c.HTTPPort == 0 {
		c.HTTPPort = 80
	}
	if c.Resolver == "" {
		if cc, err := dns.ClientConfigFromFile("/etc/resolv.conf"); err == nil && len(cc.Servers) > 0 {
			c.Resolver = net.JoinHostPort(cc.Servers[0], cc.Port)
		} else {
			c.Resolver = "127.0.0.1:53"
		}
	}
	if _, _, err := net.SplitHostPort(c.Resolver); err != nil {
		return c, fmt.Errorf("control: Verify.Resolver %q must be host:port", c.Resolver)
	}
	return c, nil
}

// verifier checks custom domains: in the background for due checks
// claimed from the store, and on demand for POST …/verify.
type verifier struct {
	s     *Server
	cfg   VerifyConfig
	store whitelabel.DomainCheckStore
	dns   *dns.Client
	http  *http.Client
	dial  *net.Dialer // the HTTP token check's connections
	wake  chan struct{}
}

func newVerifier(s *Server, st whitelabel.DomainCheckStore) *verifier {
	v := &verifier{s: s, cfg: s.cfg.Verify, store: st, dns: &dns.Client{Timeout: 3 * time.Second}, wake: make(chan struct{}, 1),
		dial: &net.Dialer{Timeout: verifyDialTimeout, KeepAlive: verifyKeepAlive}}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           v.dialViaResolver,
		DisableKeepAlives:     true,
		ResponseHeaderTimeout: 5 * time.Second,
	}
	v.http = &http.Client{
		Transport: tr,
		Timeout:   8 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // the token must be answered on the name itself
		},
	}
	return v
}

// nudgeVerifier asks the worker for a pass now; it never blocks.
func (s *Server) nudgeVerifier() {
	if s.verifier == nil {
		return
	}
	select {
	case s.verifier.wake <- struct{}{}:
	default:
	}
}

// run checks due domains until ctx ends.
func (v *verifier) run(ctx context.Context) {
	t := time.NewTicker(v.cfg.Interval)
	defer t.Stop()
	for {
		if err := v.pass(ctx); err != nil && ctx.Err() == nil {
			v.s.log.WarnContext(ctx, "control: domain verification pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-v.wake:
		}
	}
}

// pass claims due checks in batches and runs them, a few at a time.
func (v *verifier) pass(ctx context.Context) error {
	for {
		cs, err := v.store.ClaimDueDomains(ctx, v.s.now(), v.cfg.Lease, 50)
		if err != nil {
			return err
		}
		sem := make(chan struct{}, 8)
		done := make(chan struct{}, len(cs))
		for _, c := range cs {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; done <- struct{}{} }()
				cctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
				defer cancel()
				if err := v.runCheck(cctx, c); err != nil && ctx.Err() == nil {
					v.s.log.WarnContext(ctx, "control: domain check failed", "domain", c.Domain, "err", err)
				}
			}()
		}
		for range cs {
			<-done
		}
		if len(cs) < 50 {
			return nil
		}
	}
}

// runCheck checks one claimed domain and writes the result.
func (v *verifier) runCheck(ctx context.Context, c *whitelabel.DomainCheck) error {
	t, err := v.s.store.GetTenant(ctx, c.TenantID)
	if err != nil {
		return err
	}
	d := c.TenantDomain
	res := v.check(ctx, t, &d)
	r, audit := v.apply(t, &d, c.Attempts, res, false)
	err = v.store.FinishDomainCheck(ctx, r, audit)
	switch whitelabel.ErrorCodeOf(err) {
	case whitelabel.CodeNotFound:
		return nil // deleted meanwhile
	case whitelabel.CodePreconditionFailed:
		// Changed by the edge (verified → active) or a user meanwhile:
		// release the claim and check the new state next, rather than
		// leaving the domain hidden until the lease ends.
		if err := v.store.ScheduleDomainCheck(ctx, d.Domain, v.s.now(), false); err != nil && whitelabel.ErrorCodeOf(err) != whitelabel.CodeNotFound {
			return fmt.Errorf("release check of domain %q: %w", d.Domain, err)
		}
		return nil
	}
	return err
}

// checkNow checks d at once (POST …/verify) and writes the result,
// returning the domain as stored afterwards. audit carries the caller.
func (v *verifier) checkNow(ctx context.Context, t *whitelabel.Tenant, d *whitelabel.TenantDomain, audit *whitelabel.AuditEntry) (*whitelabel.TenantDomain, error) {
	for range 3 {
		c := *d
		res := v.check(ctx, t, &c)
		r, a := v.apply(t, &c, 0, res, true)
		if a != nil {
			audit.Action, audit.Before, audit.After = a.Action, a.Before, a.After
			a = audit
		}
		err := v.store.FinishDomainCheck(ctx, r, a)
		if err == nil {
			return &c, nil
		}
		if whitelabel.ErrorCodeOf(err) != whitelabel.CodePreconditionFailed {
			return nil, err
		}
		if d, err = v.s.store.GetDomain(ctx, d.Domain); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// checkResult is what a check found.
type checkResult struct {
	ok        bool   // some proof was found
	reason    string // why not, when !ok
	transient bool   // the answer was an error, not an absence
}

// apply turns a check result into the domain's next state and schedule,
// with an audit entry when the status changes. manual (POST …/verify)
// also revives failed and moved domains and never counts towards moved.
func (v *verifier) apply(t *whitelabel.Tenant, d *whitelabel.TenantDomain, attempts int, res checkResult, manual bool) (whitelabel.DomainCheckResult, *whitelabel.AuditEntry) {
	now := v.s.now().UTC()
	before := *d
	prev := d.Status
	d.LastCheckedAt = &now
	d.LastCheckError = res.reason
	var next *time.Time
	at := func(wait time.Duration) *time.Time { x := now.Add(wait); return &x }
	backoff := func(n int) time.Duration { return v.cfg.Backoff[min(n, len(v.cfg.Backoff)-1)] }
	switch {
	case res.ok:
		attempts = 0
		if prev == whitelabel.DomainPending || prev == whitelabel.DomainFailed || prev == whitelabel.DomainMoved {
			d.Status = whitelabel.DomainVerified
			d.VerifiedAt = &now
			d.CertIssuer, d.CertNotBefore, d.CertNotAfter = "", nil, nil
		}
		next = at(v.cfg.Recheck)
	case prev == whitelabel.DomainPending:
		attempts++
		if now.After(d.CreatedAt.Add(v.cfg.Window)) && !manual {
			d.Status = whitelabel.DomainFailed
		} else {
			next = at(max(backoff(attempts), time.Second))
		}
	case prev == whitelabel.DomainFailed || prev == whitelabel.DomainMoved:
		// A manual check that found nothing: the domain stays as it is.
	case res.transient || manual:
		next = at(min(max(backoff(1), time.Second), v.cfg.Recheck))
	default: // verified or active without proof
		attempts++
		if attempts >= v.cfg.MovedAfter {
			d.Status = whitelabel.DomainMoved
		} else {
			next = at(min(max(backoff(attempts), time.Second), v.cfg.Recheck))
		}
	}
	r := whitelabel.DomainCheckResult{Domain: d, Prev: prev, NextCheckAt: next, Attempts: attempts}
	if d.Status == prev {
		return r, nil
	}
	a := domainAudit("system", whitelabel.DomainAuditAction(d.Status), t, d.Domain)
	a.Before, a.After = mustJSON(&before), mustJSON(d)
	v.s.log.Info("control: domain status changed", "domain", d.Domain, "tenant_id", t.ID, "from", prev, "to", d.Status, "reason", res.reason)
	return r, a
}

// check looks for any proof of control of d: the TXT token, a CNAME to
// the tenant's hostname, or the HTTP token.
func (v *verifier) check(ctx context.Context, t *whitelabel.Tenant, d *whitelabel.TenantDomain) checkResult {
	var reasons []string
	transient := false
	txts, err := v.lookup(ctx, ChallengePrefix+"."+d.Domain, dns.TypeTXT)
	switch {
	case err != nil:
		transient = true
		reasons = append(reasons, "TXT lookup: "+err.Error())
	default:
		for _, rr := range txts {
			if txt, ok := rr.(*dns.TXT); ok && strings.Join(txt.Txt, "") == d.VerificationToken {
				return checkResult{ok: true}
			}
		}
		reasons = append(reasons, "no TXT record "+ChallengePrefix+"."+d.Domain+" with the verification token")
	}
	target := dns.Fqdn(v.s.tenantHostname(t))
	if cnames, err := v.lookup(ctx, d.Domain, dns.TypeCNAME); err == nil {
		for _, rr := range cnames {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Target, target) {
				return checkResult{ok: true}
			}
		}
	}
	if body, err := v.fetchToken(ctx, d); err == nil && body == d.VerificationToken {
		return checkResult{ok: true}
	}
	return checkResult{reason: strings.Join(reasons, "; "), transient: transient}
}

// errServerFailure is a DNS answer that says nothing about the records.
var errServerFailure = errors.New("DNS server failure")

// lookup asks the resolver for name's records of type qtype, following
// no CNAMEs. An NXDOMAIN or empty answer is no records and no error.
func (v *verifier) lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	in, _, err := v.dns.ExchangeContext(ctx, m, v.cfg.Resolver)
	if err == nil && in.Truncated {
		tcp := *v.dns
		tcp.Net = "tcp"
		in, _, err = tcp.ExchangeContext(ctx, m, v.cfg.Resolver)
	}
	if err != nil {
		return nil, err
	}
	switch in.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
		return in.Answer, nil
	}
	return nil, fmt.Errorf("%w: %s", errServerFailure, dns.RcodeToString[in.Rcode])
}

// fetchToken GETs the HTTP token URL of d and returns the trimmed body.
func (v *verifier) fetchToken(ctx context.Context, d *whitelabel.TenantDomain) (string, error) {
	u := "http://" + net.JoinHostPort(d.Domain, strconv.Itoa(v.cfg.HTTPPort)) + ChallengePath + d.VerificationToken
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	res, err := v.http.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d", res.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 512))
	return strings.TrimSpace(string(b)), err
}

// dialViaResolver dials the first A record the configured resolver gives
// for the host, so the HTTP check sees what the DNS check sees. Records
// that are not public addresses are skipped unless
// VerifyConfig.AllowPrivateTargets is set.
func (v *verifier) dialViaResolver(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	rrs, err := v.lookup(ctx, host, dns.TypeA)
	if err != nil {
		return nil, err
	}
	var refused []string
	for _, rr := range rrs {
		a, ok := rr.(*dns.A)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.A)
		if !ok {
			continue
		}
		if ip = ip.Unmap(); !v.cfg.AllowPrivateTargets && !publicAddr(ip) {
			refused = append(refused, ip.String())
			continue
		}
		return v.dial.DialContext(ctx, "tcp4", net.JoinHostPort(ip.String(), port))
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("address of %s is not public: %s", host, strings.Join(refused, ", "))
	}
	return nil, fmt.Errorf("no A record for %s", host)
}

// nonPublicPrefixes are special-purpose ranges (RFC 6890 and its IANA
// registries) that netip's predicates do not cover.
var nonPublicPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // this network
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (carrier-grade NAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and limited broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64, which may lead to any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
}

// publicAddr reports whether ip is a global unicast address on the public
// internet: not loopback, private, link-local (cloud metadata services
// live there), multicast, unspecified or another special-purpose range.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range nonPublicPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}
