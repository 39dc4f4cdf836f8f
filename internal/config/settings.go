package config

import (
	"flag"
	"fmt"
	"strconv"
	"time"
)

// setting is one configurable value: its flag name, environment variable,
// help text and where it lives in Config.
type setting struct {
	name  string // flag name
	env   string // environment variable ("" for flag-only)
	help  string
	flag  func(fs *flag.FlagSet, c *Config)
	parse func(c *Config, v string) error
	copy  func(dst, src *Config)
}

func str(name, env, help string, field func(*Config) *string) setting {
	return setting{
		name: name, env: env, help: help,
		flag:  func(fs *flag.FlagSet, c *Config) { fs.StringVar(field(c), name, "", help+envNote(env)) },
		parse: func(c *Config, v string) error { *field(c) = v; return nil },
		copy:  func(dst, src *Config) { *field(dst) = *field(src) },
	}
}

func dur(name, env, help string, field func(*Config) *time.Duration) setting {
	return setting{
		name: name, env: env, help: help,
		flag: func(fs *flag.FlagSet, c *Config) { fs.DurationVar(field(c), name, 0, help+envNote(env)) },
		parse: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return fmt.Errorf("%q is not a duration like 2s or 24h", v)
			}
			*field(c) = d
			return nil
		},
		copy: func(dst, src *Config) { *field(dst) = *field(src) },
	}
}

func boolean(name, env, help string, field func(*Config) *bool) setting {
	return setting{
		name: name, env: env, help: help,
		flag: func(fs *flag.FlagSet, c *Config) { fs.BoolVar(field(c), name, false, help+envNote(env)) },
		parse: func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			*field(c) = b
			return nil
		},
		copy: func(dst, src *Config) { *field(dst) = *field(src) },
	}
}

func integer(name, env, help string, field func(*Config) *int) setting {
	return setting{
		name: name, env: env, help: help,
		flag: func(fs *flag.FlagSet, c *Config) { fs.IntVar(field(c), name, 0, help+envNote(env)) },
		parse: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%q is not a whole number", v)
			}
			*field(c) = n
			return nil
		},
		copy: func(dst, src *Config) { *field(dst) = *field(src) },
	}
}

func envNote(env string) string {
	if env == "" {
		return ""
	}
	return " (env " + env + ")"
}

// settings is the one list of every setting; README.md documents each
// (TestREADMEDocumentsEverySetting checks).
var settings = []setting{
	str("config", "CONFIG_FILE", "YAML configuration file; its values are overridden by env vars and flags",
		func(c *Config) *string { return &c.ConfigFile }),
	str("database-url", "DATABASE_URL", "store: postgres://… for PostgreSQL; unset, a path or sqlite://path for embedded SQLite (default ./data/whitelabel.db)",
		func(c *Config) *string { return &c.DatabaseURL }),
	str("admin-token", "ADMIN_TOKEN", "operator token accepted in X-Admin-Token; empty disables the admin API",
		func(c *Config) *string { return &c.AdminToken }),
	str("secret-key", "SECRET_KEY", "key material for encrypting secrets at rest and signing sessions",
		func(c *Config) *string { return &c.SecretKey }),
	str("secret-key-previous", "SECRET_KEY_PREVIOUS", "the former SECRET_KEY during a rotation: still opens sealed secrets and stays in the JWKS",
		func(c *Config) *string { return &c.SecretKeyPrevious }),
	str("session-store", "SESSION_STORE", "where the edge keeps SSO sessions: store (the database, default) or redis",
		func(c *Config) *string { return &c.SessionStore }),
	str("redis-url", "REDIS_URL", "Redis for the fleet (redis://host:6379/0); needed by SESSION_STORE=redis and RATE_LIMIT_BACKEND=redis",
		func(c *Config) *string { return &c.RedisURL }),
	str("base-domain", "BASE_DOMAIN", "tenants are served at <subdomain>.<base domain> (default localhost)",
		func(c *Config) *string { return &c.BaseDomain }),
	str("api-host", "API_HOST", "host on which X-Tenant-Key selects the tenant (default api.<base domain>)",
		func(c *Config) *string { return &c.APIHost }),
	str("control-addr", "CONTROL_ADDR", "control API listen address (default 127.0.0.1:8081)",
		func(c *Config) *string { return &c.ControlAddr }),
	str("edge-addr", "EDGE_ADDR", "edge listen address (default 127.0.0.1:8080)",
		func(c *Config) *string { return &c.EdgeAddr }),
	str("upstream-url", "UPSTREAM_URL", "the core app the edge proxies to (default http://127.0.0.1:8082)",
		func(c *Config) *string { return &c.UpstreamURL }),
	str("metrics-addr", "METRICS_ADDR", "Prometheus metrics listen address of the edge (default 127.0.0.1:9090; empty disables)",
		func(c *Config) *string { return &c.MetricsAddr }),
	str("snapshot-path", "SNAPSHOT_PATH", "where the edge keeps its last good configuration snapshot (default ./data/edge-snapshot.json; empty disables)",
		func(c *Config) *string { return &c.SnapshotPath }),
	str("log-level", "LOG_LEVEL", "debug, info, warn or error (default info)",
		func(c *Config) *string { return &c.LogLevel }),
	str("log-format", "LOG_FORMAT", "json or text (default json)",
		func(c *Config) *string { return &c.LogFormat }),
	dur("provision-delay", "PROVISION_DELAY", "how long a new tenant stays provisioning before it turns active (default 2s)",
		func(c *Config) *time.Duration { return &c.ProvisionDelay }),
	dur("key-grace-period", "KEY_GRACE_PERIOD", "how long a partner's old API key keeps working after a rotation (default 24h)",
		func(c *Config) *time.Duration { return &c.KeyGracePeriod }),
	dur("upstream-timeout", "UPSTREAM_TIMEOUT", "how long the edge waits for the core app's response headers (default 30s)",
		func(c *Config) *time.Duration { return &c.UpstreamTimeout }),
	dur("shutdown-timeout", "SHUTDOWN_TIMEOUT", "how long SIGTERM waits for in-flight requests to finish (default 30s)",
		func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
	boolean("metrics-tenant-label", "METRICS_TENANT_LABEL", "label request metrics with the tenant (default true)",
		func(c *Config) *bool { return &c.MetricsTenantLabel }),
	integer("metrics-tenant-cap", "METRICS_TENANT_CAP", "at most this many distinct tenant label values; the rest count as _other (default 1000)",
		func(c *Config) *int { return &c.MetricsTenantCap }),
	boolean("theme-inject", "THEME_INJECT", "add each tenant's theme stylesheet to the core app's HTML pages (default true; a tenant opts out with \"inject\": false in its brand)",
		func(c *Config) *bool { return &c.ThemeInject }),
	integer("asset-cache-mb", "ASSET_CACHE_MB", "size of the edge's in-memory cache of brand assets, in MiB (default 64)",
		func(c *Config) *int { return &c.AssetCacheMB }),
	integer("max-request-body", "MAX_REQUEST_BODY", "largest request body the edge accepts, in bytes; larger ones are refused with 413 (default 33554432, 32 MiB; 0 for no limit)",
		func(c *Config) *int { return &c.MaxRequestBody }),
	str("edge-tls-addr", "EDGE_TLS_ADDR", "edge HTTPS listen address; set, it turns TLS on (certmagic) and EDGE_ADDR answers ACME HTTP-01 and redirects to HTTPS (default empty: plain HTTP only)",
		func(c *Config) *string { return &c.EdgeTLSAddr }),
	str("acme-directory", "ACME_DIRECTORY", "ACME directory URL of the CA (default Let's Encrypt production)",
		func(c *Config) *string { return &c.ACMEDirectory }),
	str("acme-email", "ACME_EMAIL", "contact e-mail of the ACME account",
		func(c *Config) *string { return &c.ACMEEmail }),
	str("acme-eab-kid", "ACME_EAB_KID", "ACME external account binding key ID (with ACME_EAB_HMAC)",
		func(c *Config) *string { return &c.ACMEEABKID }),
	str("acme-eab-hmac", "ACME_EAB_HMAC", "ACME external account binding MAC key, base64url (with ACME_EAB_KID)",
		func(c *Config) *string { return &c.ACMEEABHMAC }),
	str("acme-ca-roots", "ACME_CA_ROOTS", "PEM bundle of roots trusted for the ACME server's own certificate (private CAs such as Pebble)",
		func(c *Config) *string { return &c.ACMECARoots }),
	str("cert-storage-dir", "CERT_STORAGE_DIR", "certificate storage directory on the embedded store; PostgreSQL stores certificates in the database (default ./data/certmagic)",
		func(c *Config) *string { return &c.CertStorageDir }),
	str("tls-cert-file", "TLS_CERT_FILE", "operator certificate (PEM), e.g. *.<base domain>; names it covers are never ordered (with TLS_KEY_FILE)",
		func(c *Config) *string { return &c.TLSCertFile }),
	str("tls-key-file", "TLS_KEY_FILE", "private key (PEM) of TLS_CERT_FILE",
		func(c *Config) *string { return &c.TLSKeyFile }),
	str("dns-resolver", "DNS_RESOLVER", "host:port of the DNS server domain verification asks (default the first nameserver of /etc/resolv.conf)",
		func(c *Config) *string { return &c.DNSResolver }),
	dur("domain-verify-window", "DOMAIN_VERIFY_WINDOW", "how long a new custom domain may take to verify before it is failed (default 72h)",
		func(c *Config) *time.Duration { return &c.DomainVerifyWindow }),
	dur("domain-recheck-interval", "DOMAIN_RECHECK_INTERVAL", "how often verified and active custom domains are re-checked (default 6h)",
		func(c *Config) *time.Duration { return &c.DomainRecheckInterval }),
	str("rate-limit-backend", "RATE_LIMIT_BACKEND", "where the edge keeps rate limits and monthly counts: local (this process, default) or redis (shared by the fleet; needs REDIS_URL)",
		func(c *Config) *string { return &c.RateLimitBackend }),
	str("rate-limit-fallback", "RATE_LIMIT_FALLBACK", "what the edge does while Redis is unreachable: local (each edge limits at its 1/FLEET_SIZE share, default), open or closed",
		func(c *Config) *string { return &c.RateLimitFallback }),
	str("rate-limit-policy-field", "RATE_LIMIT_POLICY_FIELD", "which answers carry the RateLimit-Policy header: refusals (default; every answer carries RateLimit) or always",
		func(c *Config) *string { return &c.RateLimitPolicyField }),
	integer("fleet-size", "FLEET_SIZE", "number of edges sharing the limits, for the local fallback's share (default 1)",
		func(c *Config) *int { return &c.FleetSize }),
	str("edge-id", "EDGE_ID", "this edge's name in usage rows, unique in the fleet (default <hostname>-<pid>)",
		func(c *Config) *string { return &c.EdgeID }),
	dur("usage-flush-interval", "USAGE_FLUSH_INTERVAL", "how often the edge writes complete usage minutes to the store (default 10s)",
		func(c *Config) *time.Duration { return &c.UsageFlushInterval }),
}
