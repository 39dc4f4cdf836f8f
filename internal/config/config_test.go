package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "wl.yaml")
	if err := os.WriteFile(file, []byte("base_domain: file.example\nedge_addr: 127.0.0.1:1111\ncontrol_addr: 127.0.0.1:2222\nprovision_delay: 5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(Config) string
	}{
		{"defaults", nil, nil, func(c Config) string {
			if c.BaseDomain != "localhost" || c.ControlAddr != "127.0.0.1:8081" || c.APIHost != "api.localhost" || len(c.Plans) != 3 {
				return "defaults not applied"
			}
			return ""
		}},
		{"file", []string{"-config", file}, nil, func(c Config) string {
			if c.BaseDomain != "file.example" || c.ProvisionDelay != 5*time.Second || c.APIHost != "api.file.example" {
				return "file values not applied"
			}
			return ""
		}},
		{"env over file", []string{"-config", file}, map[string]string{"EDGE_ADDR": "127.0.0.1:3333"}, func(c Config) string {
			if c.EdgeAddr != "127.0.0.1:3333" || c.ControlAddr != "127.0.0.1:2222" {
				return "env did not override file"
			}
			return ""
		}},
		{"flag over env", []string{"-edge-addr", "127.0.0.1:4444"}, map[string]string{"EDGE_ADDR": "127.0.0.1:3333", "CONFIG_FILE": file}, func(c Config) string {
			if c.EdgeAddr != "127.0.0.1:4444" || c.BaseDomain != "file.example" {
				return "flag did not override env, or CONFIG_FILE ignored"
			}
			return ""
		}},
		{"bool flag false", []string{"-metrics-tenant-label=false"}, map[string]string{"METRICS_TENANT_LABEL": "true"}, func(c Config) string {
			if c.MetricsTenantLabel {
				return "bool flag not applied"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Load(flag.NewFlagSet("x", flag.ContinueOnError), tt.args, env(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if msg := tt.check(c); msg != "" {
				t.Errorf("%s: %+v", msg, c)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // substring of the error from Load or Validate
	}{
		{"bad duration", nil, map[string]string{"PROVISION_DELAY": "soon"}, "PROVISION_DELAY"},
		{"bad scheme", nil, map[string]string{"DATABASE_URL": "mysql://x"}, "not supported"},
		{"bad addr", nil, map[string]string{"EDGE_ADDR": "nope"}, "EDGE_ADDR"},
		{"bad upstream", nil, map[string]string{"UPSTREAM_URL": "ftp://x"}, "UPSTREAM_URL"},
		{"missing file", []string{"-config", "/nonexistent/wl.yaml"}, nil, "config file"},
		{"bad log format", nil, map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Load(flag.NewFlagSet("x", flag.ContinueOnError), tt.args, env(tt.env))
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one mentioning %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") && tt.name != "bad addr" {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestStoreSelection(t *testing.T) {
	tests := []struct {
		url      string
		wantKind StoreKind
		wantLoc  string
	}{
		{"", StoreSQLite, DefaultSQLitePath},
		{"./x.db", StoreSQLite, "./x.db"},
		{"sqlite:///var/wl.db", StoreSQLite, "/var/wl.db"},
		{"postgres://u@h/db", StorePostgres, "postgres://u@h/db"},
		{"postgresql://u@h/db", StorePostgres, "postgresql://u@h/db"},
	}
	for _, tt := range tests {
		kind, loc, err := Config{DatabaseURL: tt.url}.Store()
		if err != nil || kind != tt.wantKind || loc != tt.wantLoc {
			t.Errorf("Store(%q) = %v, %q, %v; want %v, %q", tt.url, kind, loc, err, tt.wantKind, tt.wantLoc)
		}
	}
}

// TestREADMEDocumentsEverySetting keeps the README's configuration table
// honest: every env var and flag must appear in it.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	readme := string(b)
	for _, s := range settings {
		if s.env != "" && !strings.Contains(readme, "`"+s.env+"`") {
			t.Errorf("README does not document env var %s", s.env)
		}
		if !strings.Contains(readme, "`-"+s.name+"`") {
			t.Errorf("README does not document flag -%s", s.name)
		}
	}
}

func TestExampleConfigsLoad(t *testing.T) {
	for _, f := range []string{"../../configs/dev.yaml", "../../configs/production.yaml"} {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, _, err := Load(flag.NewFlagSet("x", flag.ContinueOnError), []string{"-config", f}, env(nil))
			if err != nil {
				t.Fatalf("Load(%s): %v", f, err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate(%s): %v", f, err)
			}
			if len(c.Plans) == 0 || len(c.Routes) == 0 {
				t.Errorf("%s: plans or routes missing", f)
			}
		})
	}
}
