package app

import (
	"context"
	"log/slog"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/control"
	"github.com/estatecore/whitelabel/internal/config"
)

// NewControl builds the control API from cfg on st.
func NewControl(cfg config.Config, st whitelabel.Store, log *slog.Logger) (*control.Server, error) {
	sl, err := NewSealer(cfg)
	if err != nil {
		return nil, err
	}
	return control.New(control.Config{
		Sealer:         sl,
		Store:          st,
		Plans:          cfg.Plans,
		AdminToken:     cfg.AdminToken,
		BaseDomain:     cfg.BaseDomain,
		Logger:         log,
		ProvisionDelay: cfg.ProvisionDelay,
		KeyGracePeriod: cfg.KeyGracePeriod,
		Verify:         controlVerify(cfg),
	})
}

// RunControl serves the control API on cfg.ControlAddr (or ln) and runs
// its background work until ctx ends.
func RunControl(ctx context.Context, cfg config.Config, st whitelabel.Store, log *slog.Logger, srv *Server) error {
	c, err := NewControl(cfg, st, log)
	if err != nil {
		return err
	}
	srv.Name, srv.Handler = "control", c
	if srv.Addr == "" {
		srv.Addr = cfg.ControlAddr
	}
	if srv.WriteTimeout == 0 {
		srv.WriteTimeout = 60e9
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		if err := c.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("control background work stopped", "err", err)
		}
	}()
	return Serve(ctx, log, cfg.ShutdownTimeout, srv)
}
