// Command democore runs the demo core app: an HTML page echoing the tenant
// headers the edge sends. Listen address: -addr or DEMO_ADDR (default
// 127.0.0.1:8082).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/estatecore/whitelabel/internal/democore"
)

func main() {
	addr := os.Getenv("DEMO_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8082"
	}
	flag.StringVar(&addr, "addr", addr, "listen address (env DEMO_ADDR)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: addr, Handler: democore.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	slog.Info("demo core app listening", "addr", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "democore:", err)
		os.Exit(1)
	}
}
