package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/edge"
	"github.com/estatecore/whitelabel/internal/config"
)

// NewEdge builds the edge from cfg reading src.
func NewEdge(ctx context.Context, cfg config.Config, src whitelabel.ConfigSource, log *slog.Logger) (*edge.Server, error) {
	up, err := url.Parse(cfg.UpstreamURL)
	if err != nil {
		return nil, fmt.Errorf("UPSTREAM_URL: %w", err)
	}
	routes := make([]edge.Route, 0, len(cfg.Routes))
	for _, r := range cfg.Routes {
		routes = append(routes, edge.Route{Name: r.Name, Method: r.Method, PathPrefix: r.PathPrefix})
	}
	gate, err := NewSSOGate(cfg, src, log)
	if err != nil {
		return nil, err
	}
	return edge.New(ctx, edge.Config{
		SSO:                gate,
		Source:             src,
		Plans:              cfg.Plans,
		BaseDomain:         cfg.BaseDomain,
		APIHost:            cfg.APIHost,
		Upstream:           up,
		SnapshotPath:       cfg.SnapshotPath,
		Logger:             log,
		MetricsTenantLabel: cfg.MetricsTenantLabel,
		MetricsTenantCap:   cfg.MetricsTenantCap,
		Routes:             routes,
		UpstreamTimeout:    cfg.UpstreamTimeout,
	})
}

// RunEdge serves the edge on srv (default cfg.EdgeAddr) and its metrics on
// metrics (default cfg.MetricsAddr; nil or empty address disables), and
// follows the change feed, until ctx ends.
func RunEdge(ctx context.Context, cfg config.Config, src whitelabel.ConfigSource, log *slog.Logger, srv, metrics *Server) error {
	e, err := NewEdge(ctx, cfg, src, log)
	if err != nil {
		return err
	}
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
	go func() {
		if err := e.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("edge config follower stopped", "err", err)
		}
	}()
	return Serve(ctx, log, cfg.ShutdownTimeout, servers...)
}
