// Command devstack runs the whole gateway in one process for development:
// the demo core app, the control API and the edge on the embedded SQLite
// store, with a demo partner and an active demo tenant "acme", so that
//
//	curl http://acme.localhost:8080/
//
// works at once. It takes the same settings as control and edge, plus
// -demo-addr for the demo core app (default 127.0.0.1:8082). ADMIN_TOKEN
// defaults to "dev-admin-token" here, and only here.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/estatecore/whitelabel/internal/app"
	"github.com/estatecore/whitelabel/internal/config"
	"github.com/estatecore/whitelabel/internal/democore"
	"golang.org/x/sync/errgroup"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	demoAddr := fs.String("demo-addr", "127.0.0.1:8082", "demo core app listen address")
	cfg, rest, err := config.Load(fs, args, getenv)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(rest, " "))
	}
	if cfg.AdminToken == "" {
		cfg.AdminToken = "dev-admin-token"
	}
	if cfg.LogFormat == "json" && getenv("LOG_FORMAT") == "" {
		cfg.LogFormat = "text"
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := app.NewLogger(cfg, stderr)

	st, err := app.OpenStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer st.Close()
	_, loc, _ := cfg.Store()
	demo, err := app.SeedDemo(ctx, st, filepath.Join(filepath.Dir(loc), "demo-partner-key"))
	if err != nil {
		return err
	}

	core := &app.Server{Name: "democore", Addr: *demoAddr, Handler: democore.Handler()}
	ctrl := &app.Server{Addr: cfg.ControlAddr}
	edgeSrv := &app.Server{Addr: cfg.EdgeAddr}
	metrics := &app.Server{Addr: cfg.MetricsAddr}
	for _, s := range []*app.Server{core, ctrl, edgeSrv, metrics} {
		if s.Addr == "" {
			continue
		}
		if err := s.Listen(); err != nil {
			return err
		}
	}
	cfg.UpstreamURL = "http://" + core.Listener.Addr().String()
	if _, err := url.Parse(cfg.UpstreamURL); err != nil {
		return err
	}

	edgeAddr := edgeSrv.Listener.Addr().String()
	_, port, _ := strings.Cut(edgeAddr, ":")
	fmt.Fprintf(stdout, `
whitelabel dev stack is up (store: %s)

  tenant site     http://acme.%[2]s:%[3]s/
  tenant info     http://acme.%[2]s:%[3]s/api/white-label/current/info
  control API     http://%[4]s/api/white-label/   (X-Admin-Token: %[5]s)
  OpenAPI         http://%[4]s/api/white-label/openapi.json
  metrics         http://%[6]s/metrics
  demo core app   %[7]s
  partner API key %[8]s

try:
  curl http://acme.%[2]s:%[3]s/
  curl -H 'X-API-Key: <key>' http://%[4]s/api/white-label/tenants

`, loc, cfg.BaseDomain, port, ctrl.Listener.Addr(), cfg.AdminToken, addrOf(metrics), cfg.UpstreamURL, keyOrHint(demo.APIKey))

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return app.Serve(ctx, log, cfg.ShutdownTimeout, core) })
	g.Go(func() error { return app.RunControl(ctx, cfg, st, log, ctrl) })
	g.Go(func() error {
		var m *app.Server
		if metrics.Listener != nil {
			m = metrics
		}
		return app.RunEdge(ctx, cfg, st, log, edgeSrv, m)
	})
	return g.Wait()
}

func addrOf(s *app.Server) string {
	if s.Listener == nil {
		return "(disabled)"
	}
	return s.Listener.Addr().String()
}

func keyOrHint(k string) string {
	if k == "" {
		return "(made by an earlier run; its file is gone: create one with `control partner create`)"
	}
	return k
}
