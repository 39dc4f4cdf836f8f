package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/edge"
	"github.com/estatecore/whitelabel/internal/config"
)

// NewEdge builds the edge from cfg reading src, which also receives the
// usage when it is a whitelabel.UsageWriter (both stores are). Call the
// returned release after the edge's Close; it is never nil.
func NewEdge(ctx context.Context, cfg config.Config, src whitelabel.ConfigSource, log *slog.Logger) (*edge.Server, func() error, error) {
	noop := func() error { return nil }
	up, err := url.Parse(cfg.UpstreamURL)
	if err != nil {
		return nil, noop, fmt.Errorf("UPSTREAM_URL: %w", err)
	}
	reg := prometheus.NewRegistry()
	// The runtime's and the process's own series (go_*, process_*): GC,
	// goroutines, memory and file descriptors are what an operator
	// graphs first.
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	limiter, release, err := NewLimiter(cfg, reg, log)
	if err != nil {
		return nil, noop, err
	}
	meter, release, err := addBandwidthMeter(cfg, src, reg, log, release)
	if err != nil {
		return nil, noop, err
	}
	usage, _ := src.(whitelabel.UsageWriter)
	assets, _ := src.(whitelabel.AssetSource) // both stores are; nil serves no assets
	routes := make([]edge.Route, 0, len(cfg.Routes))
	for _, r := range cfg.Routes {
		routes = append(routes, edge.Route{Name: r.Name, Method: r.Method, PathPrefix: r.PathPrefix})
	}
	gate, err := NewSSOGate(cfg, src, log)
	if err != nil {
		release()
		return nil, noop, err
	}
	e, err := edge.New(ctx, edge.Config{
		Registry:              reg,
		Limiter:               limiter,
		Bandwidth:             meter,
		RouteCosts:            routeCosts(cfg),
		Usage:                 usage,
		EdgeID:                cfg.EdgeID,
		UsageFlushInterval:    cfg.UsageFlushInterval,
		SSO:                   gate,
		Source:                src,
		Plans:                 cfg.Plans,
		BaseDomain:            cfg.BaseDomain,
		APIHost:               cfg.APIHost,
		Upstream:              up,
		SnapshotPath:          cfg.SnapshotPath,
		Logger:                log,
		MetricsTenantLabel:    cfg.MetricsTenantLabel,
		MetricsTenantCap:      cfg.MetricsTenantCap,
		Routes:                routes,
		UpstreamTimeout:       cfg.UpstreamTimeout,
		Assets:                assets,
		AssetCacheBytes:       int64(cfg.AssetCacheMB) << 20,
		DisableInjection:      !cfg.ThemeInject,
		RateLimitPolicyAlways: cfg.RateLimitPolicyField == "always",
		MaxRequestBody:        maxRequestBody(cfg.MaxRequestBody),
	})
	if err != nil {
		release()
		return nil, noop, err
	}
	return e, release, nil
}

// RunEdge serves the edge on srv (default cfg.EdgeAddr) and its metrics on
// metrics (default cfg.MetricsAddr; nil or empty address disables), and
// follows the change feed, until ctx ends.
func RunEdge(ctx context.Context, cfg config.Config, src whitelabel.ConfigSource, log *slog.Logger, srv, metrics *Server) error {
	e, release, err := NewEdge(ctx, cfg, src, log)
	if err != nil {
		return err
	}
	defer release()
	srv.Name, srv.Handler = "edge", e.Handler()
	if srv.Addr == "" {
		srv.Addr = cfg.EdgeAddr
	}
	servers := []*Server{srv}
	if cfg.EdgeTLSAddr != "" {
		tlsSrv, err := enableEdgeTLS(cfg, src, log, e, srv)
		if err != nil {
			return err
		}
		servers = append(servers, tlsSrv)
	}
	if metrics != nil {
		if metrics.Addr == "" {
			metrics.Addr = cfg.MetricsAddr
		}
		if metrics.Addr != "" || metrics.Listener != nil {
			metrics.Name, metrics.Handler = "metrics", e.MetricsHandler()
			servers = append(servers, metrics)
		}
	}
	for _, s := range servers {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		if err := e.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("edge config follower stopped", "err", err)
		}
	}()
	err = Serve(ctx, log, cfg.ShutdownTimeout, servers...)
	// No request is in flight now: stop Run, then write the usage still
	// in memory (the current minute included) before exiting.
	cancel()
	<-runDone
	cctx, ccancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer ccancel()
	if cerr := e.Close(cctx); cerr != nil {
		log.Error("edge: usage not written on shutdown", "err", cerr)
		if err == nil {
			err = cerr
		}
	}
	return err
}

// maxRequestBody turns MAX_REQUEST_BODY (0: no limit) into
// edge.Config.MaxRequestBody (0: the default, negative: no limit).
func maxRequestBody(n int) int64 {
	if n == 0 {
		return -1
	}
	return int64(n)
}
