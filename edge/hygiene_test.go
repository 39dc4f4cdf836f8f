package edge

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/edge/ratelimit"
)

// rawRequest sends one request exactly as written (no client cleans
// its path) and returns the edge's response and body.
func (e *testEdge) rawRequest(t *testing.T, req string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response to %q: %v", req, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// prefixGate is the SSO gate's old path rule: /_edge/ and /public are
// public, everything else needs a sign-in (401 here).
type prefixGate struct{}

func (prefixGate) Check(w http.ResponseWriter, r *http.Request, tc *whitelabel.TenantConfig) (http.Header, bool) {
	if strings.HasPrefix(r.URL.Path, "/_edge/") || whitelabel.PathMatches("/public", r.URL.Path) {
		return nil, false
	}
	w.WriteHeader(http.StatusUnauthorized)
	return nil, true
}

func ssoTenant() whitelabel.TenantConfig {
	tc := tenant(1, "acme", whitelabel.StatusActive)
	tc.SSO = []whitelabel.SSOConfig{{TenantID: 1, Provider: whitelabel.SSOOIDC, PublicPaths: []string{"/public"}}}
	return tc
}

// TestHygienePathBypass: paths that an upstream may resolve to a
// protected one never reach it without a sign-in.
func TestHygienePathBypass(t *testing.T) {
	up := newUpstream(t, nil)
	e := startEdge(t, newFakeSource(ssoTenant()), up.URL, func(c *Config) { c.SSO = prefixGate{} })
	tests := []struct {
		name   string
		target string
		want   int
	}{
		{"edge dot-dot", "/_edge/../admin", 400},
		{"edge dot-dot encoded slash", "/_edge/..%2fadmin", 400},
		{"edge encoded dot-dot", "/_edge/%2e%2e/admin", 400},
		{"public dot-dot", "/public/../app", 400},
		{"public dot then dot-dot", "/public/./../app", 400},
		{"public encoded dot-dot lower", "/public/%2e%2e/app", 400},
		{"public encoded dot-dot upper", "/public/%2E%2E/app", 400},
		{"public half-encoded dot-dot", "/public/.%2e/app", 400},
		{"public encoded slashes", "/public%2f..%2fapp", 400},
		{"public backslash", `/public/..\app`, 400},
		{"public encoded backslash", "/public/..%5capp", 400},
		{"public encoded backslash upper", "/public/..%5Capp", 400},
		{"public NUL", "/public/%00/../app", 400},
		{"public encoded NUL", "/public%00/app", 400},
		{"double slash", "//public/../app", 400},
		{"dot segment", "/public/./x", 400},
		{"trailing dot-dot", "/public/..", 400},
		{"two trailing slashes", "/public//", 400},
		{"absolute form", "http://acme.example.test/public/../app", 400},
		{"asterisk", "*", 400},
		{"unknown edge path", "/_edge/admin", 404},
		{"unknown edge path deeper", "/_edge/x/y", 404},
		{"edge login without SSO answer", "/_edge/login", 404}, // prefixGate serves nothing
		{"not under public", "/publicity", 401},
		{"protected", "/app", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(up.requests())
			resp, body := e.rawRequest(t, "GET "+tt.target+" HTTP/1.1\r\nHost: acme.example.test\r\nConnection: close\r\n\r\n")
			if resp.StatusCode != tt.want {
				t.Errorf("GET %s = %d, want %d (%s)", tt.target, resp.StatusCode, tt.want, body)
			}
			if n := len(up.requests()); n != before {
				t.Errorf("GET %s reached the upstream as %q", tt.target, up.last(t).Path)
			}
			if tt.want == 400 && errorCode(t, body) != string(whitelabel.CodeInvalid) {
				t.Errorf("GET %s: code %q, want invalid_input", tt.target, errorCode(t, body))
			}
		})
	}
	// Clean paths still pass, one trailing slash included.
	for _, p := range []string{"/public", "/public/", "/public/a.b/c", "/public/%41", "/public/x%20y"} {
		resp, body := e.rawRequest(t, "GET "+p+" HTTP/1.1\r\nHost: acme.example.test\r\nConnection: close\r\n\r\n")
		if resp.StatusCode != 200 || body != "upstream ok" {
			t.Errorf("GET %s = %d %q, want 200 from the upstream", p, resp.StatusCode, body)
		}
	}
	// A browser gets the page, not JSON.
	resp, body := e.rawRequest(t, "GET /public/../app HTTP/1.1\r\nHost: acme.example.test\r\nAccept: text/html\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "acme Brand") {
		t.Errorf("browser GET /public/../app = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestHygieneOpaqueRequest: a request whose path Go's client does not
// clean (URL.Opaque) is refused the same way.
func TestHygieneOpaqueRequest(t *testing.T) {
	up := newUpstream(t, nil)
	e := startEdge(t, newFakeSource(ssoTenant()), up.URL, func(c *Config) { c.SSO = prefixGate{} })
	u := mustURL(t, e.URL)
	req := &http.Request{Method: "GET", Host: "acme.example.test", Header: http.Header{},
		URL: &url.URL{Scheme: "http", Host: u.Host, Opaque: "/public/%2e%2e/app"}}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || len(up.requests()) != 0 {
		t.Errorf("GET /public/%%2e%%2e/app = %d, upstream saw %d requests; want 400, none", resp.StatusCode, len(up.requests()))
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct {
		raw  string
		want bool
	}{
		{"/", true},
		{"/a", true},
		{"/a/", true},
		{"/a.b/c..d/...", true},
		{"/a%20b", true},
		{"/a%41", true},
		{"", false},
		{"//", false},
		{"/a//", false},
		{"/a//b", false},
		{"/./a", false},
		{"/a/.", false},
		{"/a/..", false},
		{"/a%2Fb", false},
		{"/a%2fb", false},
		{"/a%2eb", false},
		{"/a%5cb", false},
		{"/a\\b", false},
		{"/a%00", false},
	}
	for _, tt := range tests {
		u, err := url.ParseRequestURI(tt.raw)
		if err != nil {
			u = &url.URL{Path: tt.raw}
		}
		if got := cleanPath(u); got != tt.want {
			t.Errorf("cleanPath(%q) = %v, want %v", tt.raw, got, tt.want)
		}
	}
}

// TestHygieneBodyLimit: a body over MaxRequestBody is 413, before the
// upstream when its length is declared and as the proxy's answer when
// it is chunked.
func TestHygieneBodyLimit(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return
		}
		io.WriteString(w, "read "+strconv.FormatInt(n, 10))
	})
	e := startEdge(t, newFakeSource(tenant(1, "acme", whitelabel.StatusActive)), up.URL, func(c *Config) { c.MaxRequestBody = 1000 })
	post := func(t *testing.T, body string, chunked bool, accept string) (*http.Response, string) {
		t.Helper()
		hdr := "Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
		wire := body
		if chunked {
			hdr = "Transfer-Encoding: chunked\r\n"
			wire = ""
			for b := body; b != ""; {
				n := min(len(b), 300)
				wire += strconv.FormatInt(int64(n), 16) + "\r\n" + b[:n] + "\r\n"
				b = b[n:]
			}
			wire += "0\r\n\r\n"
		}
		if accept != "" {
			hdr += "Accept: " + accept + "\r\n"
		}
		return e.rawRequest(t, "POST /upload HTTP/1.1\r\nHost: acme.example.test\r\nConnection: close\r\n"+hdr+"\r\n"+wire)
	}
	tests := []struct {
		name     string
		size     int
		chunked  bool
		want     int
		upstream bool // the upstream is called
	}{
		{"at the limit", 1000, false, 200, true},
		{"over the limit", 1001, false, 413, false},
		{"chunked at the limit", 1000, true, 200, true},
		{"chunked over the limit", 5000, true, 413, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(up.requests())
			resp, body := post(t, strings.Repeat("a", tt.size), tt.chunked, "")
			if resp.StatusCode != tt.want {
				t.Fatalf("POST %d bytes = %d, want %d (%s)", tt.size, resp.StatusCode, tt.want, body)
			}
			if tt.want == 413 && errorCode(t, body) != string(whitelabel.CodeTooLarge) {
				t.Errorf("code %q, want payload_too_large", errorCode(t, body))
			}
			if called := len(up.requests()) > before; !tt.upstream && called {
				t.Errorf("the upstream was called")
			}
		})
	}
	resp, body := post(t, strings.Repeat("a", 2000), false, "text/html")
	if resp.StatusCode != 413 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "acme Brand") {
		t.Errorf("browser POST over the limit = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	unlimited := startEdge(t, newFakeSource(tenant(1, "acme", whitelabel.StatusActive)), up.URL, func(c *Config) { c.MaxRequestBody = -1 })
	e = unlimited
	if resp, body := post(t, strings.Repeat("a", 5000), true, ""); resp.StatusCode != 200 || body != "read 5000" {
		t.Errorf("unlimited: chunked POST = %d %q", resp.StatusCode, body)
	}
}

// TestRouteCostCleanPath: a dot segment cannot dodge a cost rule, since
// such a path is refused before the limiter.
func TestRouteCostCleanPath(t *testing.T) {
	lim, err := ratelimit.NewLocal(ratelimit.LocalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t, nil)
	src := newFakeSource(limitedTenant(1, "acme", whitelabel.Quotas{
		whitelabel.QuotaRequestsPerSecond: 100, whitelabel.QuotaRequestsBurst: 100, whitelabel.QuotaAPICallsMonthly: 25,
	}))
	e := startEdge(t, src, up.URL, func(c *Config) {
		c.Limiter = lim
		c.RouteCosts = []ratelimit.CostRule{{Method: "POST", PathPattern: "/api/reports", Cost: 10}}
	})
	for _, p := range []string{"/api/./reports", "/api//reports", "/x/../api/reports", "/api/%2e/reports"} {
		resp, body := e.rawRequest(t, "POST "+p+" HTTP/1.1\r\nHost: acme.example.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		if resp.StatusCode != 400 {
			t.Errorf("POST %s = %d, want 400 (%s)", p, resp.StatusCode, body)
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("the upstream saw %d requests, want none", n)
	}
	resp, _ := e.do(t, "POST", "acme.example.test", "/api/reports", nil)
	if left := quota(t, resp.Header, ratelimit.PolicyMonthly).Remaining; resp.StatusCode != 200 || left != 15 {
		t.Errorf("POST /api/reports = %d, monthly remaining %d; want 200, 15", resp.StatusCode, left)
	}
}
