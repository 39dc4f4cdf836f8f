package edge

import (
	"net/http"
	"strings"
	"testing"

	"github.com/estatecore/whitelabel"
)

func TestIsTrustedName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"X-Tenant-Id", true}, {"X-Tenant-ID", true}, {"x-tenant-id", true}, {"x_tenant_id", true}, {"X_TENANT_ID", true},
		{"X-Tenant_Id", true}, {"X-Tenant-Key", true}, {"x_tenant_key", true}, {"X-Organization-ID", true},
		{"x_organization_id", true}, {"X-Tenant-Plan", true}, {"X-TENANT-FEATURES", true}, {"x_tenant_features", true},
		{"X-Auth-User", true}, {"X_AUTH_USER", true}, {"x-auth-email", true}, {"X-Auth-", true}, {"X-Edge-Secret", true},
		{"x_edge_anything", true}, {"X-Request-ID", true}, {"x_request_id", true}, {"X-Forwarded-Host", true},
		{"x_forwarded_for", true}, {"Forwarded", true}, {"X-Real-IP", true},
		{"X-Tenant", false}, {"X-Tenant-Ids", false}, {"X-Tenant-Id2", false}, {"X-Author", false}, {"X-Authorization", false},
		{"Authorization", false}, {"Cookie", false}, {"X-Edged", false}, {"Accept", false}, {"", false}, {"X-Auth", false},
	}
	for _, tt := range tests {
		if got := isTrustedName(tt.name); got != tt.want {
			t.Errorf("isTrustedName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func FuzzStripUntrusted(f *testing.F) {
	for _, s := range []string{"X-Tenant-Id", "x_tenant_id", "X_AUTH_USER", "X-Edge-", "Accept", "x-tenant-idx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		h := http.Header{name: {"v"}, "Accept": {"*/*"}}
		copied := withoutUntrusted(h, 0)
		stripUntrusted(h)
		if len(copied) != len(h) || (len(h[name]) != 0) != (len(copied[name]) != 0) {
			t.Fatalf("withoutUntrusted = %v, stripUntrusted left %v", copied, h)
		}
		norm := strings.ReplaceAll(strings.ToLower(name), "_", "-")
		reserved := strings.HasPrefix(norm, "x-auth-") || strings.HasPrefix(norm, "x-edge-")
		for _, n := range trustedNames {
			reserved = reserved || norm == n
		}
		if _, kept := h[name]; kept == reserved && name != "Accept" {
			t.Fatalf("stripUntrusted kept=%v for %q (normalized %q), reserved=%v", kept, name, norm, reserved)
		}
		if _, ok := h["Accept"]; !ok && name != "Accept" {
			t.Fatal("stripUntrusted removed Accept")
		}
	})
}

// TestHeaderStripping asserts at the upstream that no spoofed trusted
// header passes, in any spelling, and that the edge's own values arrive.
func TestHeaderStripping(t *testing.T) {
	up := newUpstream(t, nil)
	e := startEdge(t, newFakeSource(tenant(7, "acme", whitelabel.StatusActive)), up.URL, nil)
	spoofed := map[string]string{
		"X-Tenant-ID": "999", "x_tenant_id": "999", "X_TENANT_ID": "999", "x-tenant-id": "999",
		"X-Tenant-Key": "evil", "x_tenant_key": "evil", "X-Organization-ID": "999", "x_organization_id": "999",
		"X-Tenant-Plan": "enterprise", "X_Tenant_Plan": "enterprise", "X-Tenant-Features": "sso", "x_tenant_features": "sso",
		"X-Auth-User": "admin", "X_AUTH_USER": "admin", "x-auth-email": "root@evil", "X-Edge-Trusted": "1", "x_edge_x": "1",
		"X-Forwarded-For": "6.6.6.6", "x_forwarded_for": "6.6.6.6", "X-Forwarded-Host": "evil.test", "Forwarded": "for=6.6.6.6",
		"X-Request-ID": "bad id with spaces", "x_request_id": "spoof",
		"X-Custom": "kept",
	}
	resp, body := e.do(t, "GET", "acme.example.test", "/", spoofed)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
	got := up.last(t).Header
	for name := range got {
		norm := strings.ReplaceAll(strings.ToLower(name), "_", "-")
		if strings.Contains(name, "_") && isTrustedName(name) {
			t.Errorf("upstream received spoofed header %q: %q", name, got[name])
		}
		_ = norm
	}
	for _, v := range []string{"999", "evil", "admin", "root@evil", "6.6.6.6", "evil.test", "spoof", "for=6.6.6.6", "sso"} {
		for name, vals := range got {
			for _, val := range vals {
				if val == v || (v == "6.6.6.6" && strings.Contains(val, v)) {
					t.Errorf("upstream received spoofed value %q in %s", v, name)
				}
			}
		}
	}
	want := map[string]string{
		"X-Tenant-Id": "7", "X-Tenant-Key": "acme-key", "X-Organization-Id": "1007", "X-Tenant-Plan": "premium",
		"X-Tenant-Features": "advanced_reporting,ai_analytics,api_access,custom_domains,max_properties",
		"X-Forwarded-For":   "127.0.0.1", "X-Forwarded-Host": "acme.example.test", "X-Forwarded-Proto": "http",
		"X-Custom": "kept",
	}
	for k, v := range want {
		if vals := got.Values(k); len(vals) != 1 || vals[0] != v {
			t.Errorf("upstream %s = %q, want [%q]", k, vals, v)
		}
	}
	for _, k := range []string{"X-Auth-User", "X-Auth-Email", "X-Edge-Trusted"} {
		if v := got.Values(k); len(v) != 0 {
			t.Errorf("upstream %s = %q, want none", k, v)
		}
	}
	if id := got.Get("X-Request-Id"); !validRequestID(id) || id != resp.Header.Get("X-Request-Id") {
		t.Errorf("upstream X-Request-Id = %q, response %q: want the same generated id", id, resp.Header.Get("X-Request-Id"))
	}
}

func TestRequestIDKept(t *testing.T) {
	up := newUpstream(t, nil)
	e := startEdge(t, newFakeSource(tenant(1, "acme", whitelabel.StatusActive)), up.URL, nil)
	for _, tt := range []struct {
		name, in string
		keep     bool
	}{
		{"valid", "abc-123_X.y", true},
		{"max length", strings.Repeat("a", 128), true},
		{"too long", strings.Repeat("a", 129), false},
		{"bad char", "abc/def", false},
		{"space", "abc def", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := e.do(t, "GET", "acme.example.test", "/", map[string]string{"X-Request-Id": tt.in})
			got := up.last(t).Header.Get("X-Request-Id")
			if (got == tt.in) != tt.keep || !validRequestID(got) || resp.Header.Get("X-Request-Id") != got {
				t.Errorf("X-Request-ID %q: upstream got %q, response %q, keep=%v", tt.in, got, resp.Header.Get("X-Request-Id"), tt.keep)
			}
		})
	}
}
