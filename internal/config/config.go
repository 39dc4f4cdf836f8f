package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/estatecore/whitelabel"
	"go.yaml.in/yaml/v3"
)

// Route names a group of paths for metrics labels.
type Route struct {
	Name       string `yaml:"name"`
	Method     string `yaml:"method"` // "" matches any method
	PathPrefix string `yaml:"path_prefix"`
}

// Config is every setting of both programs. Fields are documented in the
// settings table.
type Config struct {
	// Custom domains and TLS (see README "Custom domains and TLS").
	EdgeTLSAddr           string        `yaml:"edge_tls_addr"`
	ACMEDirectory         string        `yaml:"acme_directory"`
	ACMEEmail             string        `yaml:"acme_email"`
	ACMEEABKID            string        `yaml:"acme_eab_kid"`
	ACMEEABHMAC           string        `yaml:"acme_eab_hmac"`
	ACMECARoots           string        `yaml:"acme_ca_roots"`
	CertStorageDir        string        `yaml:"cert_storage_dir"`
	TLSCertFile           string        `yaml:"tls_cert_file"`
	TLSKeyFile            string        `yaml:"tls_key_file"`
	DNSResolver           string        `yaml:"dns_resolver"`
	DomainVerifyWindow    time.Duration `yaml:"domain_verify_window"`
	DomainRecheckInterval time.Duration `yaml:"domain_recheck_interval"`

	ConfigFile           string           `yaml:"-"`
	DatabaseURL          string           `yaml:"database_url"`
	AdminToken           string           `yaml:"admin_token"`
	SecretKey            string           `yaml:"secret_key"`
	SecretKeyPrevious    string           `yaml:"secret_key_previous"`
	SessionStore         string           `yaml:"session_store"`
	RedisURL             string           `yaml:"redis_url"`
	BaseDomain           string           `yaml:"base_domain"`
	APIHost              string           `yaml:"api_host"`
	ControlAddr          string           `yaml:"control_addr"`
	EdgeAddr             string           `yaml:"edge_addr"`
	UpstreamURL          string           `yaml:"upstream_url"`
	MetricsAddr          string           `yaml:"metrics_addr"`
	SnapshotPath         string           `yaml:"snapshot_path"`
	LogLevel             string           `yaml:"log_level"`
	LogFormat            string           `yaml:"log_format"`
	ProvisionDelay       time.Duration    `yaml:"provision_delay"`
	KeyGracePeriod       time.Duration    `yaml:"key_grace_period"`
	UpstreamTimeout      time.Duration    `yaml:"upstream_timeout"`
	ShutdownTimeout      time.Duration    `yaml:"shutdown_timeout"`
	MetricsTenantLabel   bool             `yaml:"metrics_tenant_label"`
	MetricsTenantCap     int              `yaml:"metrics_tenant_cap"`
	Plans                whitelabel.Plans `yaml:"plans"`
	Routes               []Route          `yaml:"routes"`
	RateLimitBackend     string           `yaml:"rate_limit_backend"`
	RateLimitFallback    string           `yaml:"rate_limit_fallback"`
	RateLimitPolicyField string           `yaml:"rate_limit_policy_field"`
	FleetSize            int              `yaml:"fleet_size"`
	EdgeID               string           `yaml:"edge_id"`
	UsageFlushInterval   time.Duration    `yaml:"usage_flush_interval"`
	RouteCosts           []RouteCost      `yaml:"route_costs"`
	ThemeInject          bool             `yaml:"theme_inject"`
	AssetCacheMB         int              `yaml:"asset_cache_mb"`
	MaxRequestBody       int              `yaml:"max_request_body"`
}

// RouteCost is one route cost rule (YAML only): requests matching Method
// ("" any) and Path (segments, "*" or "{name}" for one, a trailing "/"
// or "{rest...}" for the rest) use Cost units of the rate and monthly
// quotas instead of 1. The first matching rule wins.
type RouteCost struct {
	Method string `yaml:"method"`
	Path   string `yaml:"path"`
	Cost   int    `yaml:"cost"`
}

// Defaults returns the built-in settings: embedded SQLite, everything on
// loopback, base domain localhost.
func Defaults() Config {
	return Config{
		BaseDomain:           "localhost",
		ControlAddr:          "127.0.0.1:8081",
		EdgeAddr:             "127.0.0.1:8080",
		UpstreamURL:          "http://127.0.0.1:8082",
		MetricsAddr:          "127.0.0.1:9090",
		SnapshotPath:         "./data/edge-snapshot.json",
		LogLevel:             "info",
		LogFormat:            "json",
		ProvisionDelay:       2 * time.Second,
		KeyGracePeriod:       24 * time.Hour,
		UpstreamTimeout:      30 * time.Second,
		ShutdownTimeout:      30 * time.Second,
		MetricsTenantLabel:   true,
		MetricsTenantCap:     1000,
		RateLimitBackend:     "local",
		RateLimitFallback:    "local",
		RateLimitPolicyField: "refusals",
		FleetSize:            1,
		UsageFlushInterval:   10 * time.Second,
		ThemeInject:          true,
		AssetCacheMB:         64,
		MaxRequestBody:       32 << 20,
	}
}

// DefaultSQLitePath is where the embedded store lives when DATABASE_URL is
// unset.
const DefaultSQLitePath = "./data/whitelabel.db"

// Load builds a Config from defaults, the YAML file named by -config or
// CONFIG_FILE, the environment (getenv) and args (flags, parsed by fs,
// which must not be parsed yet). It returns the remaining arguments.
func Load(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, []string, error) {
	cfg := Defaults()
	// Flags are declared on a scratch copy first so that -config is known
	// before the file is read; their values are applied last.
	var flagged Config
	set := map[string]bool{}
	for _, s := range settings {
		s.flag(fs, &flagged)
	}
	if err := fs.Parse(args); err != nil {
		return cfg, nil, err
	}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	file := getenv("CONFIG_FILE")
	if set["config"] {
		file = flagged.ConfigFile
	}
	if file != "" {
		if err := readYAML(file, &cfg); err != nil {
			return cfg, nil, err
		}
		cfg.ConfigFile = file
	}
	for _, s := range settings {
		if s.env == "" {
			continue
		}
		if v, ok := lookup(getenv, s.env); ok {
			if err := s.parse(&cfg, v); err != nil {
				return cfg, nil, fmt.Errorf("%s: %w", s.env, err)
			}
		}
	}
	for _, s := range settings {
		if set[s.name] {
			s.copy(&cfg, &flagged)
		}
	}
	if cfg.APIHost == "" {
		cfg.APIHost = "api." + cfg.BaseDomain
	}
	if len(cfg.Plans) == 0 {
		cfg.Plans = whitelabel.DefaultPlans()
	}
	for name, p := range cfg.Plans {
		p.Name = name
		cfg.Plans[name] = p
	}
	return cfg, fs.Args(), nil
}

func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

func readYAML(path string, cfg *Config) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// StoreKind says which store a DatabaseURL selects.
type StoreKind int

// Store kinds.
const (
	StoreSQLite StoreKind = iota
	StorePostgres
)

// Store returns the kind of store and its location: a file path for
// SQLite (DATABASE_URL unset, a plain path, or sqlite:///path), a URL for
// PostgreSQL (postgres:// or postgresql://).
func (c Config) Store() (StoreKind, string, error) {
	u := strings.TrimSpace(c.DatabaseURL)
	switch {
	case u == "":
		return StoreSQLite, DefaultSQLitePath, nil
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		if _, err := url.Parse(u); err != nil {
			return 0, "", fmt.Errorf("DATABASE_URL is not a valid URL: %v", redactErr(err))
		}
		return StorePostgres, u, nil
	case strings.HasPrefix(u, "sqlite://"):
		p := strings.TrimPrefix(u, "sqlite://")
		if p == "" {
			return 0, "", errors.New("DATABASE_URL sqlite:// needs a path, e.g. sqlite:///var/lib/whitelabel/wl.db or sqlite://./data/wl.db")
		}
		return StoreSQLite, p, nil
	case strings.Contains(u, "://"):
		scheme, _, _ := strings.Cut(u, "://")
		return 0, "", fmt.Errorf("DATABASE_URL scheme %q is not supported (use postgres://… or sqlite://path)", scheme)
	default:
		return StoreSQLite, u, nil
	}
}

func redactErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "parse error"
}

// Validate rejects settings that cannot work, with one clear line each.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := c.Store(); err != nil {
		errs = append(errs, err)
	}
	if c.BaseDomain == "" || strings.ContainsAny(c.BaseDomain, "/: ") {
		errs = append(errs, fmt.Errorf("BASE_DOMAIN %q must be a bare host name such as example.com", c.BaseDomain))
	}
	for _, a := range []struct{ name, v string }{
		{"CONTROL_ADDR", c.ControlAddr}, {"EDGE_ADDR", c.EdgeAddr}, {"METRICS_ADDR", c.MetricsAddr},
	} {
		if a.v == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			errs = append(errs, fmt.Errorf("%s %q must be host:port (e.g. 127.0.0.1:8080)", a.name, a.v))
		}
	}
	if c.UpstreamURL != "" {
		u, err := url.Parse(c.UpstreamURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("UPSTREAM_URL %q must be an http:// or https:// URL", c.UpstreamURL))
		}
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("LOG_FORMAT %q must be json or text", c.LogFormat))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("LOG_LEVEL %q must be debug, info, warn or error", c.LogLevel))
	}
	switch c.SessionStore {
	case "", "store":
	case "redis":
		if c.RedisURL == "" {
			errs = append(errs, errors.New("SESSION_STORE redis needs REDIS_URL"))
		}
	default:
		errs = append(errs, fmt.Errorf("SESSION_STORE %q must be store or redis", c.SessionStore))
	}
	if c.SecretKey != "" && len(c.SecretKey) < 16 {
		errs = append(errs, errors.New("SECRET_KEY must be at least 16 characters"))
	}
	if c.SecretKeyPrevious != "" && c.SecretKey == "" {
		errs = append(errs, errors.New("SECRET_KEY_PREVIOUS is set but SECRET_KEY is not"))
	}
	errs = append(errs, c.validateTLS()...)
	if c.AssetCacheMB < 0 {
		errs = append(errs, errors.New("ASSET_CACHE_MB must not be negative"))
	}
	if c.MaxRequestBody < 0 {
		errs = append(errs, errors.New("MAX_REQUEST_BODY must not be negative"))
	}
	if c.MetricsTenantCap < 0 {
		errs = append(errs, errors.New("METRICS_TENANT_CAP must not be negative"))
	}
	if err := c.Plans.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("plans: %w", err))
	}
	for i, r := range c.Routes {
		if r.Name == "" || !strings.HasPrefix(r.PathPrefix, "/") {
			errs = append(errs, fmt.Errorf("routes[%d]: needs a name and a path_prefix starting with /", i))
		}
	}
	errs = append(errs, c.validateLimits()...)
	return errors.Join(errs...)
}
