package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/idp"
	"github.com/estatecore/whitelabel/internal/sealer"
)

// BasePath prefixes every API route.
const BasePath = "/api/white-label"

// Defaults for zero Config fields.
const (
	DefaultProvisionDelay = 2 * time.Second
	DefaultKeyGracePeriod = 24 * time.Hour
	DefaultMaxBodyBytes   = 1 << 20
)

// Config configures a Server. The zero value of every field except Store
// has a documented meaning.
type Config struct {
	// Store persists partners, tenants and the audit trail. Required.
	Store whitelabel.Store

	// Plans are the product tiers tenants may be on. Nil or empty means
	// whitelabel.DefaultPlans().
	Plans whitelabel.Plans

	// AdminToken authorises operators through the X-Admin-Token header.
	// Empty disables admin access entirely.
	AdminToken string

	// BaseDomain is the domain tenant subdomains live under
	// ("estatecore.com" gives acme.estatecore.com). Empty leaves the
	// "hostname" field out of tenant responses.
	BaseDomain string

	// Logger receives internal errors and one access-log line per request.
	// Nil means slog.Default().
	Logger *slog.Logger

	// Now is the clock used for key expiry and provisioning. Nil means
	// time.Now.
	Now func() time.Time

	// ProvisionDelay is how long a new tenant created with "activate"
	// unset or true stays provisioning before Run makes it active. Zero
	// means DefaultProvisionDelay (2s); negative is an error.
	ProvisionDelay time.Duration

	// KeyGracePeriod is how long a partner's old API keys keep working
	// after a rotation. Zero means DefaultKeyGracePeriod (24h); negative
	// is an error.
	KeyGracePeriod time.Duration

	// MaxBodyBytes caps request bodies; larger ones get 413. Zero means
	// DefaultMaxBodyBytes (1 MiB); negative is an error.
	MaxBodyBytes int64

	// Verify configures custom domain verification (see VerifyConfig).
	// The worker runs in Run when Store also implements
	// whitelabel.DomainCheckStore (both real stores do).
	Verify VerifyConfig

	// SSOPurgeInterval is how often Run removes expired SSO sessions and
	// login states, when Store implements whitelabel.SessionStore (both
	// real stores do). Zero means DefaultSSOPurgeInterval; negative is an
	// error.
	SSOPurgeInterval time.Duration

	// SSOStore persists tenants' SSO configurations. Nil means Store, if
	// it implements whitelabel.SSOConfigStore; without one the SSO routes
	// answer 503.
	SSOStore whitelabel.SSOConfigStore

	// Sealer seals SSO secrets and provides the JWKS of the edge's
	// assertion keys (see internal/sealer). Nil (no SECRET_KEY): PUT sso
	// answers 503 and the JWKS is empty.
	Sealer *sealer.Sealer

	// Providers are the SSO providers configurations are validated with.
	// Nil means idp.NewRegistry with HTTPClient.
	Providers *idp.Registry

	// HTTPClient fetches OIDC discovery documents and SAML metadata when
	// Providers is nil. Nil means a client with a 10s timeout.
	HTTPClient *http.Client
}

// Server is the control-plane HTTP API: partners, tenants, branding,
// feature flags, quotas and the audit trail, under BasePath, plus
// /healthz and /readyz. It is an http.Handler, safe for concurrent use.
// Background work (provisioning) runs in Run.
type Server struct {
	cfg    Config
	store  whitelabel.Store
	plans  whitelabel.Plans
	log    *slog.Logger
	now    func() time.Time
	routes []route
	mux    *http.ServeMux
	wake   chan struct{} // nudges the provisioning worker

	ssoStore  whitelabel.SSOConfigStore
	sealer    *sealer.Sealer
	providers *idp.Registry

	verifier *verifier // nil when Store cannot schedule domain checks

	openAPIOnce sync.Once
	openAPIJSON []byte
}

// New checks cfg, fills its defaults and returns a Server. It returns an
// error for a nil Store, invalid plans or negative durations and sizes.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("control: Config.Store is required")
	}
	if len(cfg.Plans) == 0 {
		cfg.Plans = whitelabel.DefaultPlans()
	}
	if err := cfg.Plans.Validate(); err != nil {
		return nil, fmt.Errorf("control: plans: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case cfg.ProvisionDelay < 0:
		return nil, errors.New("control: ProvisionDelay must not be negative")
	case cfg.ProvisionDelay == 0:
		cfg.ProvisionDelay = DefaultProvisionDelay
	}
	switch {
	case cfg.KeyGracePeriod < 0:
		return nil, errors.New("control: KeyGracePeriod must not be negative")
	case cfg.KeyGracePeriod == 0:
		cfg.KeyGracePeriod = DefaultKeyGracePeriod
	}
	switch {
	case cfg.SSOPurgeInterval < 0:
		return nil, errors.New("control: SSOPurgeInterval must not be negative")
	case cfg.SSOPurgeInterval == 0:
		cfg.SSOPurgeInterval = DefaultSSOPurgeInterval
	}
	switch {
	case cfg.MaxBodyBytes < 0:
		return nil, errors.New("control: MaxBodyBytes must not be negative")
	case cfg.MaxBodyBytes == 0:
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	cfg.BaseDomain = strings.TrimSuffix(strings.ToLower(cfg.BaseDomain), ".")
	if v, err := cfg.Verify.withDefaults(); err != nil {
		return nil, err
	} else {
		cfg.Verify = v
	}
	s := &Server{
		cfg:   cfg,
		store: cfg.Store,
		plans: cfg.Plans,
		log:   cfg.Logger,
		now:   cfg.Now,
		mux:   http.NewServeMux(),
		wake:  make(chan struct{}, 1),
	}
	s.ssoStore, s.sealer, s.providers = cfg.SSOStore, cfg.Sealer, cfg.Providers
	if s.ssoStore == nil {
		s.ssoStore, _ = cfg.Store.(whitelabel.SSOConfigStore)
	}
	if s.providers == nil {
		s.providers = idp.NewRegistry(idp.Options{HTTPClient: cfg.HTTPClient})
	}
	if dc, ok := cfg.Store.(whitelabel.DomainCheckStore); ok {
		s.verifier = newVerifier(s, dc)
	}
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.Method+" "+rt.Path, s.adapt(rt))
	}
	return s, nil
}

// authLevel says who may call a route.
type authLevel int

const (
	authPublic  authLevel = iota // anyone
	authAny                      // a partner or an admin
	authAdmin                    // an admin only
	authPartner                  // a partner only
)

func (a authLevel) String() string {
	switch a {
	case authPublic:
		return "public"
	case authAny:
		return "partner or admin"
	case authAdmin:
		return "admin"
	case authPartner:
		return "partner"
	}
	return "unknown"
}

// handlerFunc serves one route. It writes a response and returns nil, or
// writes nothing and returns an error for the adapter to write.
type handlerFunc func(w http.ResponseWriter, r *http.Request, rs *reqState) error

// route is one entry of the route table, the single source of both the
// mux and the OpenAPI document.
type route struct {
	Method   string
	Path     string // full ServeMux path pattern, e.g. BasePath+"/tenants/{id}"
	Summary  string
	Auth     authLevel
	Request  string // component schema of the JSON body; "" for none
	Response string // component schema of the success body
	Status   int    // success status
	Tag      string
	Handler  handlerFunc
}

// routeTable lists every route the server serves. Order is the order of
// the OpenAPI document.
func (s *Server) routeTable() []route {
	const b = BasePath
	return []route{
		{"GET", "/healthz", "Process liveness", authPublic, "", "Health", 200, "health", s.healthz},
		{"GET", "/readyz", "Readiness: the store answers", authPublic, "", "Health", 200, "health", s.readyz},
		{"GET", b + "/openapi.json", "This OpenAPI document", authPublic, "", "", 200, "meta", s.openAPI},

		{"POST", b + "/tenants", "Create a tenant", authAny, "TenantCreate", "Tenant", 201, "tenants", s.createTenant},
		{"GET", b + "/tenants", "List tenants", authAny, "", "TenantList", 200, "tenants", s.listTenants},
		{"GET", b + "/tenants/{id}", "Get a tenant", authAny, "", "Tenant", 200, "tenants", s.getTenant},
		{"PATCH", b + "/tenants/{id}", "Update a tenant's name, contact e-mail or plan", authAny, "TenantPatch", "Tenant", 200, "tenants", s.patchTenant},
		{"DELETE", b + "/tenants/{id}", "Deactivate a tenant", authAny, "", "Tenant", 200, "tenants", s.deleteTenant},
		{"POST", b + "/tenants/{id}/status", "Change a tenant's lifecycle status", authAny, "StatusChange", "Tenant", 200, "tenants", s.setTenantStatus},

		{"GET", b + "/tenants/{id}/branding", "Get a tenant's brand config", authAny, "", "Branding", 200, "branding", s.getBranding},
		{"PUT", b + "/tenants/{id}/branding", "Merge into a tenant's brand config (JSON Merge Patch: null resets a value)", authAny, "BrandConfig", "Branding", 200, "branding", s.putBranding},
		{"GET", b + "/tenants/{id}/branding/theme.css", "The tenant's theme stylesheet, as the edge serves it", authAny, "", "ThemeCSS", 200, "branding", s.getThemeCSS},
		{"GET", b + "/tenants/{id}/branding/preview", "A sample page in the tenant's brand", authAny, "", "PreviewPage", 200, "branding", s.getPreview},
		{"POST", b + "/tenants/{id}/branding/upload", "Upload a logo, favicon or background image and use it in the brand", authAny, "AssetUpload", "Asset", 201, "branding", s.uploadAsset},
		{"GET", b + "/tenants/{id}/email-templates", "The tenant's e-mail templates (overrides or built-ins)", authAny, "", "EmailTemplateList", 200, "branding", s.listEmailTemplates},
		{"GET", b + "/tenants/{id}/email-templates/{name}", "One e-mail template", authAny, "", "EmailTemplate", 200, "branding", s.getEmailTemplate},
		{"PUT", b + "/tenants/{id}/email-templates/{name}", "Override a built-in e-mail template", authAny, "EmailTemplateBody", "EmailTemplate", 200, "branding", s.putEmailTemplate},
		{"DELETE", b + "/tenants/{id}/email-templates/{name}", "Remove an e-mail template override", authAny, "", "EmailTemplate", 200, "branding", s.deleteEmailTemplate},
		{"POST", b + "/tenants/{id}/emails/render", "Render an e-mail in the tenant's brand", authAny, "EmailRender", "RenderedEmail", 200, "branding", s.renderEmail},

		{"GET", b + "/tenants/{id}/features", "Effective feature flags and their sources", authAny, "", "Features", 200, "features", s.getFeatures},
		{"PUT", b + "/tenants/{id}/features/{name}", "Override a feature flag", authAny, "FeatureValue", "Features", 200, "features", s.putFeature},
		{"DELETE", b + "/tenants/{id}/features/{name}", "Remove a feature flag override", authAny, "", "Features", 200, "features", s.deleteFeature},

		{"GET", b + "/tenants/{id}/quotas", "Effective quotas and their sources", authAny, "", "QuotaList", 200, "quotas", s.getQuotas},
		{"PUT", b + "/tenants/{id}/quotas/{name}", "Override a quota", authAny, "QuotaValue", "QuotaList", 200, "quotas", s.putQuota},
		{"DELETE", b + "/tenants/{id}/quotas/{name}", "Remove a quota override", authAny, "", "QuotaList", 200, "quotas", s.deleteQuota},
		{"GET", b + "/tenants/{id}/usage", "Metered usage per minute, hour or day", authAny, "", "Usage", 200, "quotas", s.getUsage},

		{"POST", b + "/partners", "Create a partner (API key shown once)", authAdmin, "PartnerCreate", "PartnerWithKey", 201, "partners", s.createPartner},
		{"GET", b + "/partners", "List partners", authAdmin, "", "PartnerList", 200, "partners", s.listPartners},
		{"GET", b + "/partners/me", "The calling partner", authPartner, "", "Partner", 200, "partners", s.getPartnerMe},
		{"GET", b + "/partners/{id}", "Get a partner", authAdmin, "", "Partner", 200, "partners", s.getPartner},
		{"POST", b + "/partners/{id}/deactivate", "Deactivate a partner (its keys stop working)", authAdmin, "", "Partner", 200, "partners", s.deactivatePartner},
		{"POST", b + "/partners/{id}/activate", "Reactivate a partner", authAdmin, "", "Partner", 200, "partners", s.activatePartner},
		{"POST", b + "/partners/{id}/rotate-key", "Issue a new API key; old keys expire after the grace period", authAdmin, "", "KeyRotation", 200, "partners", s.rotatePartnerKey},

		{"POST", b + "/tenants/{id}/domains", "Add a custom domain; the response says how to prove control", authAny, "DomainCreate", "Domain", 201, "domains", s.createDomain},
		{"GET", b + "/tenants/{id}/domains", "List a tenant's custom domains", authAny, "", "DomainList", 200, "domains", s.listDomains},
		{"GET", b + "/tenants/{id}/domains/{domain}", "Get a custom domain", authAny, "", "Domain", 200, "domains", s.getDomain},
		{"POST", b + "/tenants/{id}/domains/{domain}/verify", "Check a custom domain's proof now", authAny, "", "Domain", 200, "domains", s.verifyDomain},
		{"DELETE", b + "/tenants/{id}/domains/{domain}", "Remove a custom domain (its certificate is no longer served or renewed)", authAny, "", "", 204, "domains", s.deleteDomain},

		{"GET", b + "/audit", "List audit entries, newest first", authAny, "", "AuditList", 200, "audit", s.listAudit},

		{"GET", b + "/tenants/{id}/sso", "List a tenant's SSO providers (secrets masked)", authAny, "", "SSOList", 200, "sso", s.listSSO},
		{"GET", b + "/tenants/{id}/sso/{provider}", "Get an SSO provider's configuration (secrets masked)", authAny, "", "SSOConfig", 200, "sso", s.getSSO},
		{"PUT", b + "/tenants/{id}/sso/{provider}", "Create or replace an SSO provider (validated: discovery or metadata fetched)", authAny, "SSOConfigPut", "SSOConfig", 200, "sso", s.putSSO},
		{"DELETE", b + "/tenants/{id}/sso/{provider}", "Remove an SSO provider", authAny, "", "SSOList", 200, "sso", s.deleteSSO},
		{"POST", b + "/tenants/{id}/sso/{provider}/test", "The URL a sign-in with this provider starts at", authAny, "", "SSOTest", 200, "sso", s.testSSO},
		{"GET", b + "/.well-known/jwks.json", "Public keys that verify the edge's X-Edge-Assertion", authPublic, "", "JWKS", 200, "sso", s.jwks},
	}
}

// ServeHTTP routes r. Unknown paths and methods get JSON 404 and 405
// (with Allow) instead of the ServeMux's plain-text answers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	// No pattern: the mux would answer 404, 405 or a redirect (path
	// cleaning). Let it answer into a recorder and translate.
	rec := &recorder{header: make(http.Header)}
	h, _ := s.mux.Handler(r)
	h.ServeHTTP(rec, r)
	rs := s.newReqState(w, r)
	var err error
	switch rec.code {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.header.Get("Allow"))
		err = whitelabel.Errorf(whitelabel.CodeMethodNotAllowed, "", "method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, rec.header.Get("Allow"))
	case http.StatusNotFound, 0:
		err = &whitelabel.Error{Code: whitelabel.CodeNotFound, Message: "no route for " + r.Method + " " + r.URL.Path}
	default:
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.code)
		rs.status = rec.code
		s.logAccess(r, rs)
		return
	}
	s.writeError(w, r, rs, err)
	s.logAccess(r, rs)
}

// recorder captures what the mux's fallback handlers write.
type recorder struct {
	header http.Header
	code   int
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return len(b), nil
}
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

// adapt turns a route's handler into an http.Handler: request ID,
// authentication, panic recovery, error writing and the access log.
func (s *Server) adapt(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs := s.newReqState(w, r)
		sw := &statusWriter{ResponseWriter: w, rs: rs}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				err := fmt.Errorf("panic in %s %s: %v", rt.Method, rt.Path, p)
				if rs.status == 0 {
					s.writeError(sw, r, rs, err)
				} else {
					s.log.ErrorContext(r.Context(), "control: handler panic after response started", "err", err, "request_id", rs.requestID)
				}
			}
			s.logAccess(r, rs)
		}()
		var err error
		if hasBody(r) && !multipartRequests[rt.Request] {
			err = checkContentType(r)
		}
		if err == nil {
			err = s.authenticate(r, rs, rt.Auth)
		}
		if err == nil {
			err = rt.Handler(sw, r, rs)
		}
		if err != nil {
			if rs.status != 0 {
				// The handler already started its response; all we can do is log.
				s.log.ErrorContext(r.Context(), "control: error after response started", "err", err, "request_id", rs.requestID)
				return
			}
			s.writeError(sw, r, rs, err)
		}
	})
}

// statusWriter remembers the status for the access log and for knowing
// whether a response has started.
type statusWriter struct {
	http.ResponseWriter
	rs *reqState
}

func (w *statusWriter) WriteHeader(code int) {
	if w.rs.status == 0 {
		w.rs.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.rs.status == 0 {
		w.rs.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) logAccess(r *http.Request, rs *reqState) {
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "control: request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", rs.status),
		slog.Duration("duration", time.Since(rs.start)),
		slog.String("request_id", rs.requestID),
		slog.String("actor", rs.actor()),
		slog.String("client_addr", rs.clientAddr),
	)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyTimeout bounds the store ping of /readyz, so a hung database
// reports unavailable instead of hanging the probe.
const readyTimeout = 2 * time.Second

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(r.Context(), "control: readiness check failed", "err", err, "request_id", rs.requestID)
		return writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
