// Command edge runs the whitelabel data plane: it resolves the tenant of
// every request from an in-memory snapshot of the store, enforces the
// tenant's lifecycle and proxies to the core app with trusted tenant
// headers. Prometheus metrics are served on a separate listener.
//
// edge -h lists the settings; each flag has an environment variable, and
// -config names a YAML file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/estatecore/whitelabel/internal/app"
	"github.com/estatecore/whitelabel/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "edge:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, rest, err := config.Load(fs, args, getenv)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(rest, " "))
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := app.NewLogger(cfg, stderr)
	if getenv("GOGC") == "" {
		go keepGCHeadroom(ctx, gcHeadroom, 30*time.Second) // see gc.go
	}
	// The edge never migrates: control owns the schema. It must start
	// even when the store is down (fail static from the disk snapshot), so
	// a store that cannot be opened is not fatal when a snapshot exists.
	st, err := app.OpenStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer st.Close()
	return app.RunEdge(ctx, cfg, st, log, &app.Server{}, &app.Server{})
}
