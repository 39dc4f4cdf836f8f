package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/internal/config"
	"github.com/estatecore/whitelabel/store/postgres"
	"github.com/estatecore/whitelabel/store/sqlite"
)

// NewLogger returns the slog logger the config asks for, writing to w.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(cfg.LogLevel) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// OpenStore opens the store DATABASE_URL selects and, if migrate is set,
// brings its schema up to date. Errors are one line and never contain a
// password.
func OpenStore(ctx context.Context, cfg config.Config, migrate bool) (whitelabel.Store, error) {
	kind, loc, err := cfg.Store()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch kind {
	case config.StorePostgres:
		s, err := postgres.Open(ctx, postgres.Config{URL: loc, Migrate: migrate})
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL store: %w", err)
		}
		return s, nil
	default:
		s, err := sqlite.Open(ctx, sqlite.Config{Path: loc, Migrate: migrate})
		if err != nil {
			return nil, fmt.Errorf("open SQLite store %s: %w", loc, err)
		}
		return s, nil
	}
}

// Server is one HTTP listener run by Serve.
type Server struct {
	Name     string
	Addr     string // host:port; ":0" picks a free port
	Handler  http.Handler
	Listener net.Listener // optional; when set Addr is ignored
	// WriteTimeout caps handler run time; zero leaves it unlimited (the
	// edge streams, so it relies on per-phase upstream timeouts instead).
	WriteTimeout time.Duration
}

// Listen opens the listener for s unless it has one.
func (s *Server) Listen() error {
	if s.Listener != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("%s: listen on %s: %w", s.Name, s.Addr, err)
	}
	s.Listener = ln
	return nil
}

// Serve runs the servers until ctx ends, then shuts them down gracefully,
// letting in-flight requests finish within shutdownTimeout. It returns the
// first serving error, or nil after a clean shutdown. Every server must
// have been Listened.
func Serve(ctx context.Context, log *slog.Logger, shutdownTimeout time.Duration, servers ...*Server) error {
	errc := make(chan error, len(servers))
	var hs []*http.Server
	for _, s := range servers {
		h := &http.Server{
			Handler:           s.Handler,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      s.WriteTimeout,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		hs = append(hs, h)
		log.Info("listening", "server", s.Name, "addr", s.Listener.Addr().String())
		go func(s *Server) {
			if err := h.Serve(s.Listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", s.Name, err)
				return
			}
			errc <- nil
		}(s)
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for i, h := range hs {
		if err := h.Shutdown(sctx); err != nil {
			log.Warn("shutdown incomplete", "server", servers[i].Name, "err", err)
			h.Close()
		}
	}
	return first
}
