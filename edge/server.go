package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/edge/ratelimit"
	"github.com/estatecore/whitelabel/edge/usage"
)

// Route names a group of paths for metrics labels. A request takes the
// Name of the first Route, in Config.Routes order, whose Method matches
// ("" matches any) and whose PathPrefix starts its path; others are
// labelled "other". Raw paths never become label values.
type Route struct {
	Name       string // label value: 1–63 of [a-z0-9_], starting with a letter
	Method     string // "GET", "POST", …; "" for any
	PathPrefix string // must start with "/"
}

// Config configures a Server. Zero fields take the defaults named here;
// New fills them once and rejects contradictions.
type Config struct {
	// Source is where tenants come from. Required.
	Source whitelabel.ConfigSource
	// Plans gives each tenant its effective features. Required (use
	// whitelabel.DefaultPlans for the built-in ones).
	Plans whitelabel.Plans
	// BaseDomain is the domain tenant subdomains live under:
	// <subdomain>.<BaseDomain>. Default "localhost".
	BaseDomain string
	// APIHost is the host on which X-Tenant-Key selects the tenant.
	// Default "api." + BaseDomain.
	APIHost string
	// Upstream is the core app every tenant request is proxied to.
	// Required; http or https.
	Upstream *url.URL
	// SnapshotPath is the file holding the last good snapshot, written
	// atomically after changes and read at start when Source is down.
	// "" disables it (and so starting without the store).
	SnapshotPath string
	// Logger receives the access log (one Info record per request) and
	// store and proxy errors. Default slog.Default().
	Logger *slog.Logger
	// Registry receives the edge's metrics. Nil: a new registry, served
	// by MetricsHandler.
	Registry *prometheus.Registry
	// MetricsTenantLabel adds the tenant label to the duration
	// histograms too; whitelabel_edge_requests_total always has it.
	MetricsTenantLabel bool
	// MetricsTenantCap bounds the number of distinct tenant label values;
	// tenants past it, unknown hosts and requests without a tenant are
	// labelled "_other". Default 1000.
	MetricsTenantCap int
	// Routes name paths for metrics labels; see Route.
	Routes []Route
	// UpstreamTimeout bounds the wait for the upstream's response headers
	// after the request is written (504 when exceeded). It does not bound
	// streaming bodies (SSE, WebSocket). Default 30s.
	UpstreamTimeout time.Duration
	// UpstreamDialTimeout bounds connecting (and the TLS handshake) to
	// the upstream. Default 5s.
	UpstreamDialTimeout time.Duration
	// MaxIdleConnsPerHost sizes the keep-alive pool to the upstream.
	// Default 256.
	MaxIdleConnsPerHost int
	// MaintenanceRetryAfter is the Retry-After sent with maintenance
	// pages, rounded to seconds. Default 5m.
	MaintenanceRetryAfter time.Duration
	// StoreTimeout bounds each call to Source except WaitForChange.
	// Default 30s.
	StoreTimeout time.Duration
	// PollInterval is how long Run waits for a change before asking
	// the store for its version, which proves the snapshot still current
	// (see whitelabel_edge_snapshot_age_seconds). Default 15s.
	PollInterval time.Duration
	// SnapshotWriteInterval is the least time between two writes of
	// SnapshotPath; changes in between are written together. Default 1s.
	SnapshotWriteInterval time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Limiter decides each request of a tenant with a rate or monthly
	// quota (see limits.go): a ratelimit.Local for one edge, a
	// ratelimit.Redis for a fleet. Nil enforces no limits.
	Limiter ratelimit.Limiter
	// RouteCosts give the cost of matching requests in rate and monthly
	// units, first match wins; others cost 1. New rejects invalid rules.
	RouteCosts []ratelimit.CostRule
	// Bandwidth meters each tenant's request and response body bytes per
	// UTC month and refuses a tenant's requests once its
	// bandwidth_gb_monthly quota is used (see bandwidth.go): a
	// *bandwidth.Meter, local or shared by the fleet through Redis. Run
	// runs its background work. Nil enforces no bandwidth quota.
	Bandwidth BandwidthMeter
	// RateLimitPolicyAlways writes RateLimit-Policy on every answer of a
	// tenant with quotas. By default only refusals (429) carry it, and
	// RateLimit (what is left of each quota and when it resets) every
	// answer: the policy changes only with the tenant's plan, and its
	// bytes cost about 2 % of the edge's CPU per small answer.
	RateLimitPolicyAlways bool
	// Usage receives each tenant's per-minute usage (requests, upstream
	// errors, bytes, latency histogram), aggregated in memory and written
	// by Run every UsageFlushInterval and by Close. Nil disables metering.
	Usage whitelabel.UsageWriter
	// EdgeID names this edge in usage rows; unique in the fleet. Default
	// the host name and process id.
	EdgeID string
	// UsageFlushInterval is how often complete minutes are written to
	// Usage. Default 10s.
	UsageFlushInterval time.Duration
	// Assets is where brand assets (/_edge/assets/<sha256>.<ext>) are
	// read on a cache miss; the snapshot decides which a tenant may
	// serve. Nil: assets are not served (404).
	Assets whitelabel.AssetSource
	// AssetCacheBytes bounds the in-memory LRU of assets. Default
	// DefaultAssetCacheBytes (64 MiB).
	AssetCacheBytes int64
	// DisableInjection turns off adding the theme to proxied HTML for
	// every tenant (a tenant turns it off with "inject": false in its
	// brand, a response with the X-Edge-No-Inject header).
	DisableInjection bool
	// SSO gates the tenants that have SSO configurations (see Gate and
	// package edge/sso). Nil: such tenants are refused with 503, never
	// served unprotected.
	SSO Gate
	// TLS turns on HTTPS with certmagic (see TLSConfig and tls.go): serve
	// TLSConfig on the HTTPS listener and HTTPHandler on the plain one.
	// Nil: plain HTTP only, Handler everywhere.
	TLS *TLSConfig
	// MaxRequestBody is the largest request body, in bytes, the edge
	// accepts (see hygiene.go): a larger Content-Length is refused with
	// 413 before the upstream is called, and a chunked body is cut there
	// (413 too). Default DefaultMaxRequestBody (32 MiB); negative means
	// no limit.
	MaxRequestBody int64
}

// withDefaults returns c with zero fields filled, or an error naming the
// first invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.Source == nil {
		return c, errors.New("edge: Source is required")
	}
	if len(c.Plans) == 0 {
		return c, errors.New("edge: Plans is required")
	}
	if err := c.Plans.Validate(); err != nil {
		return c, fmt.Errorf("edge: plans: %w", err)
	}
	if c.Upstream == nil || (c.Upstream.Scheme != "http" && c.Upstream.Scheme != "https") || c.Upstream.Host == "" {
		return c, errors.New("edge: Upstream must be an http or https URL with a host")
	}
	if c.BaseDomain == "" {
		c.BaseDomain = "localhost"
	}
	bd, ok := normalizeHost(c.BaseDomain)
	if !ok || strings.Contains(c.BaseDomain, ":") {
		return c, fmt.Errorf("edge: BaseDomain %q is not a host name", c.BaseDomain)
	}
	c.BaseDomain = bd
	if c.APIHost == "" {
		c.APIHost = "api." + c.BaseDomain
	}
	ah, ok := normalizeHost(c.APIHost)
	if !ok || strings.Contains(c.APIHost, ":") {
		return c, fmt.Errorf("edge: APIHost %q is not a host name", c.APIHost)
	}
	c.APIHost = ah
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.MetricsTenantCap == 0 {
		c.MetricsTenantCap = 1000
	}
	if c.MetricsTenantCap < 0 {
		return c, errors.New("edge: MetricsTenantCap must not be negative")
	}
	for i, rt := range c.Routes {
		if err := whitelabel.ValidateName("route", rt.Name); err != nil {
			return c, fmt.Errorf("edge: Routes[%d]: %w", i, err)
		}
		if !strings.HasPrefix(rt.PathPrefix, "/") {
			return c, fmt.Errorf("edge: Routes[%d] %s: PathPrefix must start with /", i, rt.Name)
		}
	}
	defDur := func(d *time.Duration, def time.Duration, name string) error {
		if *d == 0 {
			*d = def
		}
		if *d < 0 {
			return fmt.Errorf("edge: %s must not be negative", name)
		}
		return nil
	}
	for _, f := range []struct {
		d    *time.Duration
		def  time.Duration
		name string
	}{
		{&c.UpstreamTimeout, 30 * time.Second, "UpstreamTimeout"},
		{&c.UpstreamDialTimeout, 5 * time.Second, "UpstreamDialTimeout"},
		{&c.MaintenanceRetryAfter, 5 * time.Minute, "MaintenanceRetryAfter"},
		{&c.StoreTimeout, 30 * time.Second, "StoreTimeout"},
		{&c.PollInterval, 15 * time.Second, "PollInterval"},
		{&c.SnapshotWriteInterval, time.Second, "SnapshotWriteInterval"},
	} {
		if err := defDur(f.d, f.def, f.name); err != nil {
			return c, err
		}
	}
	if c.MaxIdleConnsPerHost == 0 {
		c.MaxIdleConnsPerHost = 256
	}
	if c.MaxIdleConnsPerHost < 0 {
		return c, errors.New("edge: MaxIdleConnsPerHost must not be negative")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.AssetCacheBytes < 0 {
		return c, errors.New("edge: AssetCacheBytes must not be negative")
	}
	if c.EdgeID == "" {
		c.EdgeID = defaultEdgeID()
	}
	if c.UsageFlushInterval < 0 {
		return c, errors.New("edge: UsageFlushInterval must not be negative")
	}
	if c.MaxRequestBody == 0 {
		c.MaxRequestBody = DefaultMaxRequestBody
	}
	return c, nil
}

// Server is the edge data plane: it resolves each request's tenant from
// an in-memory snapshot, refuses what it must and proxies the rest to the
// upstream. Its methods are safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	builder snapshotBuilder
	snap    atomic.Pointer[snapshot]
	// lastSync is when the snapshot was last known to match the store
	// (unix nanoseconds).
	lastSync atomic.Int64
	fromDisk bool // started from SnapshotPath; Run reloads fully first

	// assetCache holds brand assets read from Config.Assets (theme.go).
	assetCache assetCache

	metrics   *metrics
	costs     *ratelimit.CostTable // nil: every request costs 1
	usage     *usage.Recorder      // nil: metering off
	transport http.RoundTripper
	proxy     *httputil.ReverseProxy
	handler   http.Handler
	metricsH  http.Handler
	saveReq   chan struct{} // cap 1: a snapshot write is wanted
	tls       *tlsManager   // nil without Config.TLS
	tokens    atomic.Pointer[tokenIndex]
}

// New validates cfg, fills its defaults and loads the first snapshot from
// cfg.Source. If the source fails and cfg.SnapshotPath holds a snapshot,
// the server starts from that (fail static) and Run catches up once the
// store answers. New returns an error for an invalid Config or when
// neither the source nor the file gives a snapshot.
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		builder: snapshotBuilder{plans: cfg.Plans, baseDomain: cfg.BaseDomain},
		saveReq: make(chan struct{}, 1),
	}
	if s.metrics, err = newMetrics(s); err != nil {
		return nil, err
	}
	if s.costs, err = ratelimit.NewCostTable(cfg.RouteCosts); err != nil {
		return nil, fmt.Errorf("edge: RouteCosts: %w", err)
	}
	if s.usage, err = s.newRecorder(); err != nil {
		return nil, err
	}
	if err := s.reload(ctx); err != nil {
		if cfg.SnapshotPath == "" {
			return nil, fmt.Errorf("edge: load config: %w", err)
		}
		snap, savedAt, ferr := s.readSnapshotFile()
		if ferr != nil {
			return nil, fmt.Errorf("edge: load config: %w; and no usable snapshot file: %w", err, ferr)
		}
		s.log.Warn("edge: store unavailable at start, serving the snapshot from disk",
			"error", err, "path", cfg.SnapshotPath, "version", snap.version, "saved_at", savedAt, "tenants", snap.tenants)
		s.snap.Store(snap)
		s.lastSync.Store(savedAt.UnixNano())
		s.fromDisk = true
	}
	s.transport = newTransport(cfg)
	s.proxy = s.newProxy()
	s.proxy.ModifyResponse = s.modifyResponse // theme injection (inject.go)
	s.assetCache.max = cfg.AssetCacheBytes
	s.handler = s.answerChallenges(s.buildChain())
	if cfg.TLS != nil {
		if s.tls, err = newTLSManager(s, *cfg.TLS); err != nil {
			return nil, err
		}
	}
	s.metricsH = s.newMetricsHandler()
	return s, nil
}

// Handler returns the edge's whole request chain (see chain.go).
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves the Prometheus metrics of cfg.Registry. Serve it
// on a separate, private listener.
func (s *Server) MetricsHandler() http.Handler { return s.metricsH }

// Ready reports whether the server has a snapshot to serve from, which
// is true once New has returned successfully.
func (s *Server) Ready() bool { return s.snap.Load() != nil }

// now returns the configured clock's time.
func (s *Server) now() time.Time { return s.cfg.Now() }
