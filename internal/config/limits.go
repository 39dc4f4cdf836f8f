package config

import (
	"errors"
	"fmt"
	"strings"
)

// validateLimits checks the rate limit and usage settings.
func (c Config) validateLimits() []error {
	var errs []error
	switch c.RateLimitBackend {
	case "local":
	case "redis":
		if c.RedisURL == "" {
			errs = append(errs, errors.New("RATE_LIMIT_BACKEND redis needs REDIS_URL"))
		}
	default:
		errs = append(errs, fmt.Errorf("RATE_LIMIT_BACKEND %q must be local or redis", c.RateLimitBackend))
	}
	switch c.RateLimitFallback {
	case "local", "open", "closed":
	default:
		errs = append(errs, fmt.Errorf("RATE_LIMIT_FALLBACK %q must be local, open or closed", c.RateLimitFallback))
	}
	switch c.RateLimitPolicyField {
	case "refusals", "always":
	default:
		errs = append(errs, fmt.Errorf("RATE_LIMIT_POLICY_FIELD %q must be refusals or always", c.RateLimitPolicyField))
	}
	if c.FleetSize < 1 {
		errs = append(errs, fmt.Errorf("FLEET_SIZE %d must be at least 1", c.FleetSize))
	}
	if c.UsageFlushInterval <= 0 {
		errs = append(errs, errors.New("USAGE_FLUSH_INTERVAL must be positive"))
	}
	for i, r := range c.RouteCosts {
		if !strings.HasPrefix(r.Path, "/") || r.Cost < 1 {
			errs = append(errs, fmt.Errorf("route_costs[%d]: needs a path starting with / and a cost of at least 1", i))
		}
	}
	return errs
}
