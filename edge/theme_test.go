package edge

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/estatecore/whitelabel"
)

func TestThemeCSS(t *testing.T) {
	e := startEdge(t, activeSource(), "http://127.0.0.1:1", nil)
	resp, body := e.do(t, "GET", "acme.example.test", "/_edge/theme.css", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "--color-primary: #ff6b35;") || !strings.Contains(body, ".btn-primary {") {
		t.Fatalf("GET theme.css = %d\n%s", resp.StatusCode, body)
	}
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" ||
		resp.Header.Get("Cache-Control") != "public, max-age=300" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", resp.Header)
	}
	for _, inm := range []string{etag, "W/" + etag, `"x", ` + etag, "*"} {
		resp, body = e.do(t, "GET", "acme.example.test", "/_edge/theme.css", map[string]string{"If-None-Match": inm})
		if resp.StatusCode != 304 || body != "" || resp.Header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %d %q", inm, resp.StatusCode, body)
		}
	}
	if resp, _ = e.do(t, "GET", "acme.example.test", "/_edge/theme.css", map[string]string{"If-None-Match": `"other"`}); resp.StatusCode != 200 {
		t.Errorf("stale If-None-Match: %d", resp.StatusCode)
	}
	v := strings.Trim(etag, `"`)
	resp, _ = e.do(t, "GET", "acme.example.test", "/_edge/theme.css?v="+v, nil)
	if resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Errorf("versioned Cache-Control = %q", resp.Header.Get("Cache-Control"))
	}
	if resp, _ = e.do(t, "POST", "acme.example.test", "/_edge/theme.css", nil); resp.StatusCode != 405 {
		t.Errorf("POST theme.css = %d", resp.StatusCode)
	}
	// Another tenant, another theme; an unknown host, no theme.
	if resp, _ = e.do(t, "GET", "nobody.example.test", "/_edge/theme.css", nil); resp.StatusCode != 404 {
		t.Errorf("unknown host theme.css = %d", resp.StatusCode)
	}
}

func TestThemeFollowsBrandChange(t *testing.T) {
	src := activeSource()
	e := startEdge(t, src, "http://127.0.0.1:1", nil)
	resp, _ := e.do(t, "GET", "acme.example.test", "/_edge/theme.css", nil)
	old := resp.Header.Get("ETag")
	tc := tenant(1, "acme", whitelabel.StatusActive)
	tc.Tenant.BrandConfig = json.RawMessage(`{"colors":{"primary":"#00ff00"}}`)
	src.put(tc)
	waitFor(t, "the new theme", 5e9, func() bool {
		resp, body := e.do(t, "GET", "acme.example.test", "/_edge/theme.css", map[string]string{"If-None-Match": old})
		return resp.StatusCode == 200 && strings.Contains(body, "--color-primary: #00ff00;")
	})
}

// fakeAssets serves one asset and counts reads.
type fakeAssets struct {
	asset *whitelabel.Asset
	reads atomic.Int32
	fail  atomic.Bool
}

func (f *fakeAssets) Asset(ctx context.Context, sha string) (*whitelabel.Asset, error) {
	f.reads.Add(1)
	if f.fail.Load() {
		return nil, errors.New("store down")
	}
	if sha != f.asset.SHA256 {
		return nil, whitelabel.NotFound("asset")
	}
	return f.asset, nil
}

func TestAssets(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\nfake")
	hash := strings.Repeat("ab", 32)
	other := strings.Repeat("cd", 32)
	fa := &fakeAssets{asset: &whitelabel.Asset{SHA256: hash, ContentType: "image/png", Size: int64(len(png)), Data: png}}
	tc := tenant(1, "acme", whitelabel.StatusActive)
	tc.Tenant.BrandConfig = json.RawMessage(`{"logo":{"primary":"/_edge/assets/` + hash + `.png","favicon":"/_edge/assets/` + other + `.ico"}}`)
	src := newFakeSource(tc, tenant(2, "beta", whitelabel.StatusActive))
	e := startEdge(t, src, "http://127.0.0.1:1", func(c *Config) { c.Assets = fa })

	path := "/_edge/assets/" + hash + ".png"
	for i := range 2 {
		resp, body := e.do(t, "GET", "acme.example.test", path, nil)
		if resp.StatusCode != 200 || body != string(png) {
			t.Fatalf("GET asset = %d %q", resp.StatusCode, body)
		}
		for k, v := range map[string]string{"Content-Type": "image/png", "Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff", "ETag": `"` + hash + `"`} {
			if resp.Header.Get(k) != v {
				t.Errorf("request %d: %s = %q, want %q", i, k, resp.Header.Get(k), v)
			}
		}
	}
	if n := fa.reads.Load(); n != 1 {
		t.Errorf("store read %d times, want 1 (then cached)", n)
	}
	if resp, _ := e.do(t, "GET", "acme.example.test", path, map[string]string{"If-None-Match": `"` + hash + `"`}); resp.StatusCode != 304 {
		t.Errorf("If-None-Match = %d, want 304", resp.StatusCode)
	}
	for _, tt := range []struct {
		name, host, path string
		want             int
	}{
		{"other tenant's host", "beta.example.test", path, 404},
		{"wrong extension", "acme.example.test", "/_edge/assets/" + hash + ".jpg", 404},
		{"not in the brand", "acme.example.test", "/_edge/assets/" + strings.Repeat("ef", 32) + ".png", 404},
		{"in the brand, not in the store", "acme.example.test", "/_edge/assets/" + other + ".ico", 404},
		{"traversal", "acme.example.test", "/_edge/assets/../theme.css", 400}, // unclean path (hygiene.go)
	} {
		t.Run(tt.name, func(t *testing.T) {
			if resp, body := e.do(t, "GET", tt.host, tt.path, nil); resp.StatusCode != tt.want {
				t.Errorf("GET %s%s = %d, want %d: %s", tt.host, tt.path, resp.StatusCode, tt.want, body)
			}
		})
	}
	fa.fail.Store(true)
	if resp, _ := e.do(t, "GET", "acme.example.test", "/_edge/assets/"+other+".ico", nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("store down, uncached = %d, want 503", resp.StatusCode)
	}
	if resp, _ := e.do(t, "GET", "acme.example.test", path, nil); resp.StatusCode != 200 {
		t.Errorf("store down, cached = %d, want 200", resp.StatusCode)
	}
}

func TestAssetCacheEvicts(t *testing.T) {
	c := assetCache{max: 10}
	mk := func(id string, n int) *whitelabel.Asset { return &whitelabel.Asset{SHA256: id, Data: make([]byte, n)} }
	c.add("a", mk("a", 4))
	c.add("b", mk("b", 4))
	c.get("a") // a is now newer than b
	c.add("c", mk("c", 4))
	c.add("huge", mk("huge", 11))
	_, a := c.get("a")
	_, b := c.get("b")
	_, cc := c.get("c")
	_, h := c.get("huge")
	if !a || b || !cc || h || c.size != 8 {
		t.Errorf("after eviction a=%v b=%v c=%v huge=%v size=%d", a, b, cc, h, c.size)
	}
}
