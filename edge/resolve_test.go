package edge

import (
	"net/http"
	"strings"
	"testing"

	"github.com/estatecore/whitelabel"
)

func TestNormalizeHost(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"plain", "acme.example.test", "acme.example.test", true},
		{"upper case", "ACME.Example.TEST", "acme.example.test", true},
		{"port", "acme.example.test:8443", "acme.example.test", true},
		{"trailing dot", "acme.example.test.", "acme.example.test", true},
		{"trailing dot and port", "acme.example.test.:80", "acme.example.test", true},
		{"idn", "bücher.example.test", "xn--bcher-kva.example.test", true},
		{"idn upper", "BÜCHER.example.test", "xn--bcher-kva.example.test", true},
		{"punycode", "xn--bcher-kva.example.test", "xn--bcher-kva.example.test", true},
		{"empty", "", "", false},
		{"only port", ":80", "", false},
		{"ipv6", "[::1]:80", "", false},
		{"bad port", "acme.example.test:80a", "", false},
		{"space", "acme example.test", "", false},
		{"slash", "acme.example.test/x", "", false},
		{"empty label", "acme..example.test", "", false},
		{"leading dot", ".example.test", "", false},
		{"too long", strings.Repeat("a.", 130) + "test", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := normalizeHost(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("normalizeHost(%q) = %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"acme.example.test", "ACME.example.test:80", "bücher.example.test.", "[::1]:80", "a..b", "xn--bcher-kva.de", "ß.de", "\u200d.de", ":", "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, ok := normalizeHost(in)
		if !ok {
			if out != "" {
				t.Fatalf("normalizeHost(%q) = %q, false: want empty on failure", in, out)
			}
			return
		}
		if out == "" || len(out) > maxHostLen || strings.HasSuffix(out, ".") {
			t.Fatalf("normalizeHost(%q) = %q", in, out)
		}
		for i := 0; i < len(out); i++ {
			c := out[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
				t.Fatalf("normalizeHost(%q) = %q: byte %q not lower-case ASCII host", in, out, c)
			}
		}
		if again, ok := normalizeHost(out); !ok || again != out {
			t.Fatalf("normalizeHost not idempotent: %q → %q → %q, %v", in, out, again, ok)
		}
	})
}

// TestResolution runs the resolution table end to end: real HTTP to the
// edge, asserting which tenant the upstream was told about.
func TestResolution(t *testing.T) {
	src := newFakeSource(
		tenant(1, "acme", whitelabel.StatusActive, "props.acme.com", "xn--bcher-kva.example", "pending:pending.acme.com"),
		tenant(2, "globex", whitelabel.StatusActive),
	)
	up := newUpstream(t, nil)
	e := startEdge(t, src, up.URL, nil)

	tests := []struct {
		name       string
		host       string
		hdr        map[string]string
		wantTenant string // X-Tenant-Id at the upstream; "" for 404 unknown site
	}{
		{"subdomain", "acme.example.test", nil, "1"},
		{"other subdomain", "globex.example.test", nil, "2"},
		{"custom domain", "props.acme.com", nil, "1"},
		{"upper case", "ACME.Example.Test", nil, "1"},
		{"port", "acme.example.test:8080", nil, "1"},
		{"trailing dot", "acme.example.test.", nil, "1"},
		{"custom domain case port dot", "Props.ACME.com.:443", nil, "1"},
		{"idn custom domain", "bücher.example", nil, "1"},
		{"pending custom domain", "pending.acme.com", nil, ""},
		{"unknown subdomain", "nobody.example.test", nil, ""},
		{"unknown host", "evil.test", nil, ""},
		{"base domain itself", "example.test", nil, ""},
		{"nested subdomain", "x.acme.example.test", nil, ""},
		{"tenant key on api host", "api.example.test", map[string]string{"X-Tenant-Key": "globex-key"}, "2"},
		{"tenant key case on api host", "API.example.test:443", map[string]string{"X-Tenant-Key": "GLOBEX-KEY"}, "2"},
		{"unknown tenant key on api host", "api.example.test", map[string]string{"X-Tenant-Key": "nobody"}, ""},
		{"api host without key", "api.example.test", nil, ""},
		{"underscore tenant key ignored on api host", "api.example.test", map[string]string{"x_tenant_key": "globex-key"}, ""},
		{"tenant key ignored on subdomain", "acme.example.test", map[string]string{"X-Tenant-Key": "globex-key"}, "1"},
		{"tenant key ignored on unknown host", "evil.test", map[string]string{"X-Tenant-Key": "globex-key"}, ""},
		{"x-forwarded-host ignored", "evil.test", map[string]string{"X-Forwarded-Host": "acme.example.test"}, ""},
		{"x-forwarded-host does not override", "globex.example.test", map[string]string{"X-Forwarded-Host": "acme.example.test"}, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(up.requests())
			resp, body := e.do(t, "GET", tt.host, "/app", tt.hdr)
			after := up.requests()
			if tt.wantTenant == "" {
				if resp.StatusCode != http.StatusNotFound || errorCode(t, body) != string(whitelabel.CodeNotFound) {
					t.Fatalf("Host %q: got %d %s, want 404 unknown site", tt.host, resp.StatusCode, body)
				}
				if len(after) != before {
					t.Fatalf("Host %q: unknown site reached the upstream", tt.host)
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("Host %q: status %d %s, want 200", tt.host, resp.StatusCode, body)
			}
			if got := after[len(after)-1].Header.Get("X-Tenant-Id"); got != tt.wantTenant {
				t.Errorf("Host %q: upstream X-Tenant-Id = %q, want %q", tt.host, got, tt.wantTenant)
			}
		})
	}
}

func TestUnknownSiteHTML(t *testing.T) {
	up := newUpstream(t, nil)
	e := startEdge(t, newFakeSource(), up.URL, nil)
	resp, body := e.do(t, "GET", "nobody.example.test", "/", map[string]string{"Accept": "text/html,application/xhtml+xml"})
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "Unknown site") {
		t.Fatalf("got %d %s %q, want the 404 unknown-site page", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if resp.Header.Get("X-Request-Id") == "" || !strings.Contains(body, resp.Header.Get("X-Request-Id")) {
		t.Errorf("page does not show the request id %q", resp.Header.Get("X-Request-Id"))
	}
}
