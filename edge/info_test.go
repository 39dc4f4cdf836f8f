package edge

import (
	"encoding/json"
	"testing"

	"github.com/estatecore/whitelabel"
)

func TestCurrentInfo(t *testing.T) {
	acme := tenant(1, "acme", whitelabel.StatusActive, "props.acme.com")
	acme.Tenant.FeatureFlags = whitelabel.Flags{"sso": true, "ai_analytics": false}
	src := newFakeSource(acme, tenant(2, "paused", whitelabel.StatusSuspended))
	up := newUpstream(t, nil)
	e := startEdge(t, src, up.URL, nil)

	tests := []struct {
		name, host string
		hdr        map[string]string
		wantKey    string
		wantStatus whitelabel.TenantStatus
	}{
		{"subdomain", "acme.example.test", nil, "acme-key", whitelabel.StatusActive},
		{"custom domain", "props.acme.com", nil, "acme-key", whitelabel.StatusActive},
		{"tenant key on api host", "api.example.test", map[string]string{"X-Tenant-Key": "acme-key"}, "acme-key", whitelabel.StatusActive},
		{"suspended tenant still answers", "paused.example.test", nil, "paused-key", whitelabel.StatusSuspended},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do(t, "GET", tt.host, infoPath, tt.hdr)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d %s", resp.StatusCode, body)
			}
			var info struct {
				DisplayName string                  `json:"display_name"`
				TenantKey   string                  `json:"tenant_key"`
				Status      whitelabel.TenantStatus `json:"status"`
				Brand       struct {
					Name   string            `json:"name"`
					Colors map[string]string `json:"colors"`
				} `json:"brand"`
				Features []string `json:"features"`
			}
			if err := json.Unmarshal([]byte(body), &info); err != nil {
				t.Fatal(err)
			}
			if info.TenantKey != tt.wantKey || info.Status != tt.wantStatus || info.DisplayName == "" || info.Brand.Colors["primary"] != "#ff6b35" {
				t.Errorf("info = %+v", info)
			}
		})
	}
	if len(up.requests()) != 0 {
		t.Error("current/info reached the upstream")
	}
	_, body := e.do(t, "GET", "acme.example.test", infoPath, nil)
	var info struct{ Features []string }
	json.Unmarshal([]byte(body), &info)
	want := "[advanced_reporting api_access custom_domains max_properties sso]"
	if got := fmtSlice(info.Features); got != want {
		t.Errorf("features = %s, want %s (plan defaults overlaid by overrides)", got, want)
	}
	resp, _ := e.do(t, "POST", "acme.example.test", infoPath, nil)
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST info: %d Allow %q, want 405", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp, _ = e.do(t, "GET", "nobody.example.test", infoPath, nil)
	if resp.StatusCode != 404 {
		t.Errorf("info for unknown host: %d, want 404", resp.StatusCode)
	}
}

func fmtSlice(s []string) string {
	b, _ := json.Marshal(s)
	var out string
	for i, c := range s {
		if i > 0 {
			out += " "
		}
		out += c
	}
	_ = b
	return "[" + out + "]"
}
