package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/estatecore/whitelabel"
)

// Defaults of TLSConfig.
const (
	DefaultIssuePerMinute       = 20
	DefaultTenantIssuePerHour   = 10
	DefaultCertReconcileTick    = 500 * time.Millisecond
	letsEncryptProductionDirURL = certmagic.LetsEncryptProductionCA
)

// TLSConfig configures HTTPS at the edge: certmagic with on-demand
// issuance decided from the snapshot only, proactive issuance and
// background renewal for verified custom domains, and an optional
// operator-provided wildcard certificate for the base domain.
type TLSConfig struct {
	// Storage holds certificates, keys, ACME accounts and challenge
	// tokens. Edges that share it share certificates, and only one of
	// them orders a given certificate (its locks). Nil means certmagic's
	// file storage in StorageDir.
	Storage certmagic.Storage
	// StorageDir is the file storage's directory when Storage is nil.
	// Default "./data/certmagic".
	StorageDir string
	// Directory is the ACME directory URL. Default Let's Encrypt
	// production.
	Directory string
	// Email is the ACME account's contact address; "" registers without.
	Email string
	// EAB binds the ACME account to an external account (KeyID and the
	// base64url MACKey), for CAs that require it. Nil means none.
	EAB *acme.EAB
	// TrustedRoots verify the ACME server's certificate, for private CAs
	// (Pebble, step-ca). Nil means the system roots.
	TrustedRoots *x509.CertPool
	// HTTPPort and TLSPort are the ports of this edge's HTTP and HTTPS
	// listeners: certmagic leaves HTTP-01 and TLS-ALPN-01 to them instead
	// of binding its own. HTTPPort 0 disables HTTP-01 and TLSPort 0
	// TLS-ALPN-01 (both 0 is an error). RedirectPort is where plain HTTP
	// is sent; 0 means TLSPort (443 is left out of URLs).
	HTTPPort, TLSPort, RedirectPort int
	// CertFile and KeyFile are an operator-provided certificate (PEM),
	// typically *.BaseDomain; names it covers are served from it and
	// never ordered. Both or neither.
	CertFile, KeyFile string
	// IssuePerMinute caps the certificate orders placed on demand (from
	// a handshake) for the whole edge; TenantIssuePerHour per tenant.
	// Only orders count: a handshake served from the cache or from
	// storage costs nothing. Defaults 20 and 10.
	IssuePerMinute, TenantIssuePerHour int
	// Certs is where the edge records that a custom domain's certificate
	// exists (verified → active, with issuer and validity). Nil: the
	// edge does not write back (another edge or process must).
	Certs whitelabel.DomainCertStore
	// DisableOCSP turns OCSP stapling off. It is on by default.
	DisableOCSP bool
	// ZapLogger receives certmagic's logs. Nil discards them (the edge
	// logs issuance outcomes itself through Config.Logger).
	ZapLogger *zap.Logger
}

// tlsManager runs certmagic for a Server.
type tlsManager struct {
	s     *Server
	cfg   TLSConfig
	cache *certmagic.Cache
	magic *certmagic.Config // on demand: handshakes for names not in the cache
	// managedCfg manages verified custom domains and renews every cached
	// certificate in the background.
	managedCfg *certmagic.Config
	issuer     *certmagic.ACMEIssuer
	tlsCfg     *tls.Config

	global *rate.Limiter
	mu     sync.Mutex
	tenant map[int64]*rate.Limiter

	managed map[string]int64 // custom domains handed to certmagic → tenant ID; owned by run
	poke    chan struct{}
}

func newTLSManager(s *Server, cfg TLSConfig) (*tlsManager, error) {
	if cfg.HTTPPort == 0 && cfg.TLSPort == 0 {
		return nil, errors.New("edge: TLS needs HTTPPort or TLSPort for ACME challenges")
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("edge: TLS CertFile and KeyFile go together")
	}
	if cfg.Directory == "" {
		cfg.Directory = letsEncryptProductionDirURL
	}
	if cfg.Storage == nil {
		if cfg.StorageDir == "" {
			cfg.StorageDir = "./data/certmagic"
		}
		cfg.Storage = &certmagic.FileStorage{Path: cfg.StorageDir}
	}
	if cfg.IssuePerMinute <= 0 {
		cfg.IssuePerMinute = DefaultIssuePerMinute
	}
	if cfg.TenantIssuePerHour <= 0 {
		cfg.TenantIssuePerHour = DefaultTenantIssuePerHour
	}
	if cfg.RedirectPort == 0 {
		cfg.RedirectPort = cfg.TLSPort
	}
	if cfg.ZapLogger == nil {
		cfg.ZapLogger = zap.NewNop()
	}
	m := &tlsManager{
		s:       s,
		cfg:     cfg,
		global:  rate.NewLimiter(rate.Limit(float64(cfg.IssuePerMinute)/60), cfg.IssuePerMinute),
		tenant:  make(map[int64]*rate.Limiter),
		managed: make(map[string]int64),
		poke:    make(chan struct{}, 1),
	}
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return m.managedCfg, nil },
		Logger:           cfg.ZapLogger,
	})
	// Two policies on one cache: certmagic defers ManageAsync to
	// handshakes when OnDemand is set, so verified custom domains are
	// managed (obtained now, renewed in the background) through a config
	// without OnDemand, and handshakes for names not in the cache go
	// through the on-demand one. Both use the same storage and CA, so
	// each finds what the other obtained.
	newConfig := func(onDemand *certmagic.OnDemandConfig) (*certmagic.Config, *certmagic.ACMEIssuer) {
		c := certmagic.New(m.cache, certmagic.Config{
			Storage:  cfg.Storage,
			OnDemand: onDemand,
			OnEvent:  m.onEvent,
			OCSP:     certmagic.OCSPConfig{DisableStapling: cfg.DisableOCSP},
			Logger:   cfg.ZapLogger,
		})
		iss := certmagic.NewACMEIssuer(c, certmagic.ACMEIssuer{
			CA:                      cfg.Directory,
			Email:                   cfg.Email,
			Agreed:                  true,
			ExternalAccount:         cfg.EAB,
			TrustedRoots:            cfg.TrustedRoots,
			DisableHTTPChallenge:    cfg.HTTPPort == 0,
			DisableTLSALPNChallenge: cfg.TLSPort == 0,
			AltHTTPPort:             cfg.HTTPPort,
			AltTLSALPNPort:          cfg.TLSPort,
			Logger:                  cfg.ZapLogger,
		})
		c.Issuers = []certmagic.Issuer{iss}
		if onDemand != nil {
			c.Issuers = []certmagic.Issuer{limitedIssuer{ACMEIssuer: iss, m: m}}
		}
		return c, iss
	}
	m.magic, m.issuer = newConfig(&certmagic.OnDemandConfig{DecisionFunc: m.decide})
	m.managedCfg, _ = newConfig(nil)
	if cfg.CertFile != "" {
		if _, err := m.magic.CacheUnmanagedCertificatePEMFile(context.Background(), cfg.CertFile, cfg.KeyFile, []string{"operator"}); err != nil {
			m.cache.Stop()
			return nil, fmt.Errorf("edge: load TLS_CERT_FILE/TLS_KEY_FILE: %w", err)
		}
	}
	tc := m.magic.TLSConfig()
	tc.NextProtos = append([]string{"h2", "http/1.1"}, tc.NextProtos...)
	tc.MinVersion = tls.VersionTLS12
	m.tlsCfg = tc
	return m, nil
}

// TLSConfig returns the configuration of the HTTPS listener (HTTP/2,
// HTTP/1.1 and ACME TLS-ALPN-01), or nil when Config.TLS is nil.
func (s *Server) TLSConfig() *tls.Config {
	if s.tls == nil {
		return nil
	}
	return s.tls.tlsCfg
}

// HTTPHandler is the handler of the plain-HTTP listener. Without TLS it
// is Handler. With TLS it answers ACME HTTP-01 challenges and domain
// verification tokens, redirects the hosts the edge serves to HTTPS and
// answers any other host with the unknown-site error, as Handler does.
func (s *Server) HTTPHandler() http.Handler {
	if s.tls == nil {
		return s.handler
	}
	return s.answerChallenges(http.HandlerFunc(s.tls.redirect))
}

// redirect sends plain HTTP for a host of the current snapshot (or the
// API host) to HTTPS. Other hosts get the unknown-site error: the edge
// does not point browsers at names it has no certificate for, nor act as
// an open redirector for whatever Host a client sends.
func (m *tlsManager) redirect(w http.ResponseWriter, r *http.Request) {
	host, ok := normalizeHost(r.Host)
	if !ok || host != m.s.cfg.APIHost && m.s.snap.Load().lookupHost(host) == nil {
		m.s.writeError(w, r, errUnknownSite)
		return
	}
	if m.cfg.RedirectPort != 443 {
		host = net.JoinHostPort(host, strconv.Itoa(m.cfg.RedirectPort))
	}
	w.Header().Set("Connection", "close")
	http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
}

// challengePath is where the control plane's HTTP verification looks for
// a custom domain's token (control.ChallengePath).
const challengePath = "/.well-known/whitelabel-challenge/"

// answerChallenges answers, before anything else, ACME HTTP-01 challenges
// (when TLS is on; from certmagic's storage, so any edge answers for an
// order another edge placed) and GET challengePath+token for a custom
// domain of the snapshot whose token it is.
func (s *Server) answerChallenges(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.tls != nil && s.tls.issuer.HandleHTTPChallenge(w, r) {
			return
		}
		if token, ok := strings.CutPrefix(r.URL.Path, challengePath); ok && r.Method == http.MethodGet {
			host, hok := normalizeHost(r.Host)
			if want := s.domainToken(host); hok && want != "" && token == want {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.Write([]byte(want))
				return
			}
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tokenIndex maps custom domains (any status) to verification tokens for
// one snapshot; built on the first challenge request after a change.
type tokenIndex struct {
	snap   *snapshot
	tokens map[string]string
}

func (s *Server) domainToken(host string) string {
	snap := s.snap.Load()
	if idx := s.tokens.Load(); idx != nil && idx.snap == snap {
		return idx.tokens[host]
	}
	idx := &tokenIndex{snap: snap, tokens: make(map[string]string)}
	snap.entries(func(e *tenantEntry) {
		for _, d := range e.cfg.Domains {
			idx.tokens[d.Domain] = d.VerificationToken
		}
	})
	s.tokens.Store(idx)
	return idx.tokens[host]
}

// errNoCertificate refuses a handshake for a name the edge does not serve.
var errNoCertificate = errors.New("edge: no certificate for this name")

// decide is certmagic's on-demand DecisionFunc: a certificate may be
// held for name only if the current snapshot serves it for an active
// tenant (its subdomain, or a verified or active custom domain), or it is
// the API host, whose certificate lets X-Tenant-Key clients use HTTPS. It
// reads memory only, never the network, and charges no rate limit: certmagic
// asks it before loading a certificate from storage as well as before
// ordering one, so a limit here would refuse certificates that already
// exist (after a restart with many on-demand certificates in storage,
// certmagic#272). limitedIssuer charges orders.
func (m *tlsManager) decide(ctx context.Context, name string) error {
	_, err := m.servedTenant(strings.ToLower(name))
	return err
}

// servedTenant returns the active tenant whose certificate name is, nil
// for the API host (the edge's own), or errNoCertificate or a refusal for
// anything else.
func (m *tlsManager) servedTenant(name string) (*tenantEntry, error) {
	if name == m.s.cfg.APIHost {
		return nil, nil
	}
	e := m.s.snap.Load().lookupHost(name)
	if e == nil {
		return nil, errNoCertificate
	}
	if e.status != whitelabel.StatusActive {
		return nil, fmt.Errorf("edge: tenant %s is %s; no certificate issued", e.key, e.status)
	}
	return e, nil
}

// limitedIssuer is the on-demand policy's issuer: the ACME issuer with
// each order charged to the issuance rate limits, the edge's and the
// tenant's. certmagic calls Issue only when storage holds no usable
// certificate, so certificates that exist are never refused. Its other
// methods (PreCheck, Revoke, renewal information, IssuerKey) are the
// ACME issuer's, so certificates it orders are stored where the managed
// policy finds them.
type limitedIssuer struct {
	*certmagic.ACMEIssuer
	m *tlsManager
}

var (
	_ certmagic.Issuer     = limitedIssuer{}
	_ certmagic.PreChecker = limitedIssuer{}
	_ certmagic.Revoker    = limitedIssuer{}
)

// Issue orders a certificate for csr if the snapshot still serves all of
// its names and the rate limits allow; a refusal is certmagic.ErrNoRetry,
// so the handshake waiting on it fails at once instead of retrying.
func (l limitedIssuer) Issue(ctx context.Context, csr *x509.CertificateRequest) (*certmagic.IssuedCertificate, error) {
	if err := l.m.chargeOrder(csr.DNSNames); err != nil {
		return nil, certmagic.ErrNoRetry{Err: err}
	}
	return l.ACMEIssuer.Issue(ctx, csr)
}

// chargeOrder takes one token from the edge's limiter and from the
// limiter of each tenant among names (the API host has none), or no token
// at all if any of them is empty.
func (m *tlsManager) chargeOrder(names []string) error {
	ls := []*rate.Limiter{m.global}
	var tenants []*tenantEntry
	for _, n := range names {
		e, err := m.servedTenant(strings.ToLower(n))
		if err != nil {
			return err
		}
		if e != nil && !slices.Contains(tenants, e) {
			tenants = append(tenants, e)
			ls = append(ls, m.tenantLimiter(e.tenant.ID))
		}
	}
	now := time.Now()
	taken := make([]*rate.Reservation, 0, len(ls))
	for i, l := range ls {
		r := l.ReserveN(now, 1)
		if r.OK() && r.DelayFrom(now) == 0 {
			taken = append(taken, r)
			continue
		}
		r.CancelAt(now)
		for _, t := range taken { // give back what the others granted
			t.CancelAt(now)
		}
		if i == 0 {
			return errors.New("edge: certificate issuance rate limit reached")
		}
		return fmt.Errorf("edge: certificate issuance rate limit of tenant %s reached", tenants[i-1].key)
	}
	return nil
}

func (m *tlsManager) tenantLimiter(id int64) *rate.Limiter {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.tenant[id]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(float64(m.cfg.TenantIssuePerHour)/3600), m.cfg.TenantIssuePerHour)
		m.tenant[id] = l
	}
	return l
}

// onEvent wakes the reconciler when certmagic obtained a certificate.
func (m *tlsManager) onEvent(ctx context.Context, event string, data map[string]any) error {
	switch event {
	case "cert_obtained", "cached_managed_cert":
		m.wake()
	case "cert_failed":
		m.s.log.Warn("edge: certificate not obtained", "identifier", data["identifier"], "error", data["error"])
	}
	return nil
}

func (m *tlsManager) wake() {
	select {
	case m.poke <- struct{}{}:
	default:
	}
}

// run keeps certmagic's managed set equal to the snapshot's serving
// custom domains, and records obtained certificates, until ctx ends.
func (m *tlsManager) run(ctx context.Context) {
	defer m.cache.Stop()
	t := time.NewTicker(DefaultCertReconcileTick)
	defer t.Stop()
	var last *snapshot
	for {
		snap := m.s.snap.Load()
		if snap != last {
			m.sync(ctx, snap)
			last = snap
		}
		m.record(ctx, snap)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.poke:
		}
	}
}

// servingCustomDomains returns the custom domains snap serves, with
// their tenant entries. Subdomains of the base domain are left out: they
// are on demand (or the operator's wildcard).
func (m *tlsManager) servingCustomDomains(snap *snapshot) map[string]*tenantEntry {
	out := make(map[string]*tenantEntry)
	suffix := "." + m.s.cfg.BaseDomain
	snap.entries(func(e *tenantEntry) {
		if e.status == whitelabel.StatusDeactivated {
			return
		}
		for _, d := range e.cfg.Domains {
			if d.Status.Serving() && !strings.HasSuffix(d.Domain, suffix) {
				out[d.Domain] = e
			}
		}
	})
	return out
}

// sync starts managing (obtaining now, renewing in the background) every
// newly serving custom domain and stops managing the rest: removed from
// the cache, so they are neither served nor renewed, and their
// certificate deleted from storage.
func (m *tlsManager) sync(ctx context.Context, snap *snapshot) {
	want := m.servingCustomDomains(snap)
	var add []string
	for d, e := range want {
		if _, ok := m.managed[d]; !ok {
			add = append(add, d)
			m.managed[d] = e.tenant.ID
		}
	}
	var gone []certmagic.SubjectIssuer
	for d := range m.managed {
		if _, ok := want[d]; !ok {
			gone = append(gone, certmagic.SubjectIssuer{Subject: d})
			delete(m.managed, d)
		}
	}
	if len(gone) > 0 {
		m.cache.RemoveManaged(gone)
		for _, g := range gone {
			prefix := certmagic.StorageKeys.CertsSitePrefix(m.issuer.IssuerKey(), g.Subject)
			if err := m.cfg.Storage.Delete(ctx, prefix); err != nil {
				m.s.log.Warn("edge: delete certificate of removed domain", "domain", g.Subject, "err", err)
			}
			m.s.log.Info("edge: stopped serving and renewing certificate", "domain", g.Subject)
		}
	}
	m.s.log.Debug("edge: certificate sync", "version", snap.version, "serving_custom_domains", len(want), "added", add, "removed", len(gone))
	if len(add) > 0 {
		if err := m.managedCfg.ManageAsync(ctx, add); err != nil {
			m.s.log.Warn("edge: manage certificates", "domains", add, "err", err)
		}
	}
}

// record writes back, through cfg.Certs, the certificate of every
// managed custom domain that the snapshot shows verified (not yet active)
// or active with other validity dates (renewed).
func (m *tlsManager) record(ctx context.Context, snap *snapshot) {
	if m.cfg.Certs == nil {
		return
	}
	for name, tid := range m.managed {
		e := snap.lookupID(tid)
		if e == nil {
			continue
		}
		var d *whitelabel.TenantDomain
		for i := range e.cfg.Domains {
			if e.cfg.Domains[i].Domain == name {
				d = &e.cfg.Domains[i]
			}
		}
		if d == nil || !d.Status.Serving() {
			continue
		}
		leaf := m.managedLeaf(name)
		if leaf == nil {
			continue
		}
		if d.Status == whitelabel.DomainActive && d.CertNotAfter != nil && d.CertNotAfter.Equal(leaf.NotAfter.UTC().Truncate(time.Microsecond)) {
			continue
		}
		audit := &whitelabel.AuditEntry{Actor: "edge", TargetType: "domain", TargetID: name, PartnerID: e.tenant.PartnerID, TenantID: e.tenant.ID}
		issuer := leaf.Issuer.CommonName
		if issuer == "" {
			issuer = leaf.Issuer.String()
		}
		err := m.cfg.Certs.RecordDomainCertificate(ctx, name, issuer, leaf.NotBefore, leaf.NotAfter, audit)
		switch whitelabel.ErrorCodeOf(err) {
		case "":
			m.s.log.Info("edge: custom domain certificate recorded", "domain", name, "issuer", issuer, "not_after", leaf.NotAfter)
		case whitelabel.CodeNotFound, whitelabel.CodePreconditionFailed:
			// changed meanwhile, or another edge recorded it first
		default:
			m.s.log.Warn("edge: record custom domain certificate", "domain", name, "err", err)
		}
	}
}

// managedLeaf returns the leaf of a cached certificate for exactly name.
func (m *tlsManager) managedLeaf(name string) *x509.Certificate {
	for _, c := range m.cache.AllMatchingCertificates(name) {
		if c.Leaf != nil {
			return c.Leaf
		}
	}
	return nil
}

// EnableTLS turns HTTPS on as Config.TLS does, for callers that learn
// their listeners' ports only after New. Call it before Run and before
// serving any request; it returns an error if TLS is already on or cfg is
// invalid.
func (s *Server) EnableTLS(cfg TLSConfig) error {
	if s.tls != nil {
		return errors.New("edge: TLS is already enabled")
	}
	m, err := newTLSManager(s, cfg)
	if err != nil {
		return err
	}
	s.tls = m
	return nil
}
