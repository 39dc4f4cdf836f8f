package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estatecore/whitelabel/internal/testenv"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHealthy polls url until it answers 200 or the deadline passes.
func waitHealthy(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not become healthy", url)
}

// TestQuickStart follows the "done means": control partner create
// → the reference document's create-tenant request → 201, on both stores.
func TestQuickStart(t *testing.T) {
	stores := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "wl.db") },
		"postgres": func(t *testing.T) string { return testenv.PostgresURL(t) },
	}
	for name, dbURL := range stores {
		t.Run(name, func(t *testing.T) {
			addr := freeAddr(t)
			env := map[string]string{"DATABASE_URL": dbURL(t), "CONTROL_ADDR": addr, "ADMIN_TOKEN": "t0ken", "LOG_LEVEL": "warn"}
			getenv := func(k string) string { return env[k] }

			var out, errb bytes.Buffer
			if err := run(t.Context(), []string{"migrate"}, getenv, &out, &errb); err != nil {
				t.Fatalf("migrate: %v\n%s", err, errb.String())
			}
			if err := run(t.Context(), []string{"migrate"}, getenv, &out, &errb); err != nil {
				t.Fatalf("second migrate: %v\n%s", err, errb.String())
			}
			out.Reset()
			if err := run(t.Context(), []string{"partner", "create", "--name", "Acme Reseller", "--email", "ops@acme.com", "--json"}, getenv, &out, &errb); err != nil {
				t.Fatalf("partner create: %v\n%s", err, errb.String())
			}
			var created struct {
				ID     int64  `json:"id"`
				APIKey string `json:"api_key"`
			}
			if err := json.Unmarshal(out.Bytes(), &created); err != nil || created.ID == 0 || !strings.HasPrefix(created.APIKey, "wl_live_") {
				t.Fatalf("partner create --json printed %q (%v)", out.String(), err)
			}

			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- run(ctx, []string{"serve"}, getenv, io.Discard, io.Discard) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve returned %v", err)
				}
			})
			base := "http://" + addr
			waitHealthy(t, base+"/healthz")

			body := `{
    "name": "Acme Property Management",
    "subdomain": "acme",
    "contact_email": "admin@acme.com",
    "plan": "premium",
    "feature_flags": {
        "ai_analytics": true,
        "custom_domains": true
    },
    "brand_config": {
        "name": "Acme Properties",
        "colors": {
            "primary": "#ff6b35",
            "secondary": "#004e89"
        }
    }
}`
			req, _ := http.NewRequest("POST", base+"/api/white-label/tenants", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-API-Key", created.APIKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				t.Fatalf("create tenant = %d %s, want 201", resp.StatusCode, b)
			}
			var tenant map[string]any
			if err := json.Unmarshal(b, &tenant); err != nil {
				t.Fatalf("create tenant body: %v: %s", err, b)
			}
			if tenant["subdomain"] != "acme" || tenant["partner_id"] != float64(created.ID) {
				t.Errorf("created tenant = %s", b)
			}

			out.Reset()
			if err := run(t.Context(), []string{"tenant", "list", "--json"}, getenv, &out, &errb); err != nil {
				t.Fatalf("tenant list: %v", err)
			}
			if !strings.Contains(out.String(), `"subdomain":"acme"`) {
				t.Errorf("tenant list = %s, want acme", out.String())
			}
			out.Reset()
			if err := run(t.Context(), []string{"partner", "list"}, getenv, &out, &errb); err != nil || !strings.Contains(out.String(), "Acme Reseller") {
				t.Errorf("partner list = %q, %v", out.String(), err)
			}
		})
	}
}

func TestBadConfigurationErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no command", nil, nil, "no command"},
		{"unknown command", []string{"launch"}, nil, "unknown command"},
		{"bad database scheme", []string{"migrate"}, map[string]string{"DATABASE_URL": "mysql://x/y"}, "not supported"},
		{"unreachable postgres", []string{"migrate"}, map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"}, "PostgreSQL"},
		{"bad address", []string{"serve"}, map[string]string{"CONTROL_ADDR": "localhost"}, "CONTROL_ADDR"},
		{"missing name", []string{"partner", "create", "--email", "a@b.com"}, nil, "--name"},
		{"bad email", []string{"partner", "create", "--name", "X", "--email", "nope"}, nil, "--email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			getenv := func(k string) string { return tt.env[k] }
			err := run(t.Context(), tt.args, getenv, &out, &errb)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run(%q) = %v, want an error mentioning %q", tt.args, err, tt.want)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			fmt.Fprint(io.Discard, out.String())
		})
	}
}
