package config

import (
	"flag"
	"strings"
	"testing"
	"time"
)

func TestLimitSettings(t *testing.T) {
	c, _, err := Load(flag.NewFlagSet("x", flag.ContinueOnError), []string{"-fleet-size", "3"}, env(map[string]string{
		"RATE_LIMIT_BACKEND": "redis", "REDIS_URL": "redis://127.0.0.1:6379/0", "RATE_LIMIT_FALLBACK": "open",
		"RATE_LIMIT_POLICY_FIELD": "always", "EDGE_ID": "edge-a", "USAGE_FLUSH_INTERVAL": "2s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimitBackend != "redis" || c.RateLimitFallback != "open" || c.FleetSize != 3 || c.RateLimitPolicyField != "always" || c.EdgeID != "edge-a" || c.UsageFlushInterval != 2*time.Second {
		t.Errorf("Load = %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate = %v", err)
	}
	d := Defaults()
	if d.RateLimitBackend != "local" || d.RateLimitFallback != "local" || d.FleetSize != 1 || d.RateLimitPolicyField != "refusals" || d.UsageFlushInterval != 10*time.Second {
		t.Errorf("Defaults = %+v", d)
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"redis without url", func(c *Config) { c.RedisURL = "" }, "RATE_LIMIT_BACKEND redis needs REDIS_URL"},
		{"unknown backend", func(c *Config) { c.RateLimitBackend = "memcached" }, "RATE_LIMIT_BACKEND"},
		{"unknown fallback", func(c *Config) { c.RateLimitFallback = "maybe" }, "RATE_LIMIT_FALLBACK"},
		{"unknown policy field mode", func(c *Config) { c.RateLimitPolicyField = "sometimes" }, "RATE_LIMIT_POLICY_FIELD"},
		{"fleet of zero", func(c *Config) { c.FleetSize = 0 }, "FLEET_SIZE"},
		{"no flush interval", func(c *Config) { c.UsageFlushInterval = 0 }, "USAGE_FLUSH_INTERVAL"},
		{"bad route cost", func(c *Config) { c.RouteCosts = []RouteCost{{Path: "reports", Cost: 0}} }, "route_costs[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := c
			tt.edit(&bad)
			if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}
