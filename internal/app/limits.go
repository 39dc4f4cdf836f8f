package app

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/estatecore/whitelabel/edge/ratelimit"
	"github.com/estatecore/whitelabel/internal/config"
)

// NewLimiter returns the edge's rate limiter for RATE_LIMIT_BACKEND: a
// local one, or one on REDIS_URL shared by the fleet (with
// RATE_LIMIT_FALLBACK and FLEET_SIZE). Its metrics go to reg. The
// returned close stops the limiter (waiting for its pipelines in flight)
// and then releases the Redis client; it is never nil.
func NewLimiter(cfg config.Config, reg prometheus.Registerer, log *slog.Logger) (ratelimit.Limiter, func() error, error) {
	noop := func() error { return nil }
	if cfg.RateLimitBackend != "redis" {
		l, err := ratelimit.NewLocal(ratelimit.LocalConfig{Registerer: reg})
		if err != nil {
			return nil, noop, fmt.Errorf("rate limiter: %w", err)
		}
		return l, noop, nil
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, noop, fmt.Errorf("REDIS_URL: %w", err)
	}
	// A decision must never wait long for Redis: the limiter's own
	// timeout (100ms) bounds each call, and no retries hide failures from
	// its breaker. ContextTimeoutEnabled lets that timeout end a pipeline
	// to a hung Redis too, rather than only the read timeout, so the
	// breaker hears of the failure in time.
	opt.MaxRetries = -1
	opt.ContextTimeoutEnabled = true
	opt.DialTimeout = 200 * time.Millisecond
	opt.ReadTimeout = 200 * time.Millisecond
	opt.WriteTimeout = 200 * time.Millisecond
	client := redis.NewClient(opt)
	l, err := ratelimit.NewRedis(ratelimit.RedisConfig{
		Client:     client,
		Fallback:   ratelimit.FallbackMode(cfg.RateLimitFallback),
		FleetSize:  cfg.FleetSize,
		Logger:     log,
		Registerer: reg,
	})
	if err != nil {
		client.Close()
		return nil, noop, fmt.Errorf("rate limiter: %w", err)
	}
	return l, func() error { return errors.Join(l.Close(), client.Close()) }, nil
}

// routeCosts converts the configured rules.
func routeCosts(cfg config.Config) []ratelimit.CostRule {
	out := make([]ratelimit.CostRule, 0, len(cfg.RouteCosts))
	for _, r := range cfg.RouteCosts {
		out = append(out, ratelimit.CostRule{Method: r.Method, PathPattern: r.Path, Cost: r.Cost})
	}
	return out
}
