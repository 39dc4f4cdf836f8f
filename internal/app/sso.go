package app

import (
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/edge"
	"github.com/estatecore/whitelabel/edge/sso"
	"github.com/estatecore/whitelabel/idp"
	"github.com/estatecore/whitelabel/internal/config"
	"github.com/estatecore/whitelabel/internal/sealer"
)

// NewSealer returns the sealer SECRET_KEY (and SECRET_KEY_PREVIOUS)
// give, or nil when SECRET_KEY is unset (SSO is then unavailable).
func NewSealer(cfg config.Config) (*sealer.Sealer, error) {
	if cfg.SecretKey == "" {
		return nil, nil
	}
	sl, err := sealer.New(cfg.SecretKey, cfg.SecretKeyPrevious)
	if err != nil {
		return nil, fmt.Errorf("SECRET_KEY: %w", err)
	}
	return sl, nil
}

// NewSSOGate builds the edge's SSO gate, keeping sessions in the store
// (SESSION_STORE=store) or Redis. Without SECRET_KEY it returns nil: the
// edge then refuses tenants that have SSO configured.
func NewSSOGate(cfg config.Config, src whitelabel.ConfigSource, log *slog.Logger) (edge.Gate, error) {
	sl, err := NewSealer(cfg)
	if err != nil || sl == nil {
		return nil, err
	}
	var sessions whitelabel.SessionStore
	switch cfg.SessionStore {
	case "redis":
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		sessions = sso.NewRedis(redis.NewClient(opt), "")
	default:
		ss, ok := src.(whitelabel.SessionStore)
		if !ok {
			return nil, fmt.Errorf("SESSION_STORE store: %T keeps no sessions; use SESSION_STORE=redis", src)
		}
		sessions = ss
	}
	g, err := sso.New(sso.Config{Registry: idp.NewRegistry(idp.Options{}), Sessions: sessions, Sealer: sl, Logger: log})
	if err != nil {
		return nil, err
	}
	return g, nil
}
