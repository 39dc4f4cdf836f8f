package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/edge/bandwidth"
	"github.com/estatecore/whitelabel/internal/config"
)

// NewBandwidthMeter returns the meter that enforces bandwidth_gb_monthly,
// following RATE_LIMIT_BACKEND: with "redis" it shares each tenant's
// monthly bytes with the fleet on REDIS_URL (its own client, so a slow
// flush never holds the limiter's connections); otherwise it counts this
// edge's bytes, seeded with the month-to-date bytes of the usage store
// when src is one (both stores are). Its metrics go to reg. The returned
// close releases the Redis client; it is never nil.
func NewBandwidthMeter(cfg config.Config, src whitelabel.ConfigSource, reg prometheus.Registerer, log *slog.Logger) (*bandwidth.Meter, func() error, error) {
	noop := func() error { return nil }
	bc := bandwidth.Config{Logger: log, Registerer: reg}
	var client *redis.Client
	if cfg.RateLimitBackend == "redis" {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, noop, fmt.Errorf("REDIS_URL: %w", err)
		}
		// A failed flush is retried by the next one with the same bytes;
		// client retries would only delay it.
		opt.MaxRetries = -1
		opt.DialTimeout = 500 * time.Millisecond
		opt.ReadTimeout = 500 * time.Millisecond
		opt.WriteTimeout = 500 * time.Millisecond
		opt.PoolSize = 2
		client = redis.NewClient(opt)
		bc.Redis = client
	} else if us, ok := src.(whitelabel.UsageStore); ok {
		bc.Seed = func(ctx context.Context, tenantID int64, from, to time.Time) (int64, error) {
			tot, err := us.UsageTotal(ctx, tenantID, from, to)
			return tot.BytesIn + tot.BytesOut, err
		}
	}
	m, err := bandwidth.New(bc)
	if err != nil {
		if client != nil {
			client.Close()
		}
		return nil, noop, fmt.Errorf("bandwidth meter: %w", err)
	}
	if client == nil {
		return m, noop, nil
	}
	return m, client.Close, nil
}

// addBandwidthMeter returns NewBandwidthMeter's meter and a release that
// also calls release; on error it calls release itself.
func addBandwidthMeter(cfg config.Config, src whitelabel.ConfigSource, reg prometheus.Registerer, log *slog.Logger, release func() error) (*bandwidth.Meter, func() error, error) {
	m, closeMeter, err := NewBandwidthMeter(cfg, src, reg, log)
	if err != nil {
		release()
		return nil, func() error { return nil }, err
	}
	return m, func() error { return errors.Join(release(), closeMeter()) }, nil
}
