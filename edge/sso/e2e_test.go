package sso_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/control"
	"github.com/estatecore/whitelabel/edge"
	"github.com/estatecore/whitelabel/edge/sso"
	"github.com/estatecore/whitelabel/idp"
	"github.com/estatecore/whitelabel/internal/sealer"
	"github.com/estatecore/whitelabel/store/sqlite"
)

const (
	adminToken = "test-admin-token-0123456789"
	baseDomain = "example.test"
	secretKey  = "test-secret-key-0123456789abcdef"
)

// world is a store, control, an upstream that echoes what it received,
// and (once started) an edge with the SSO gate, all over loopback HTTP.
type world struct {
	t        *testing.T
	store    *sqlite.Store
	sealer   *sealer.Sealer
	control  *httptest.Server
	upstream *httptest.Server
	edge     *httptest.Server
	edgePort string
	gateNow  func() time.Time
}

func newWorld(t *testing.T) *world {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "wl.db"), Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sl, err := sealer.New(secretKey)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := control.New(control.Config{
		Store: st, AdminToken: adminToken, BaseDomain: baseDomain, Logger: quiet, Sealer: sl,
		ProvisionDelay: time.Hour, Providers: idp.NewRegistry(idp.Options{AllowInsecureLoopback: true}),
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, store: st, sealer: sl, control: httptest.NewServer(c)}
	t.Cleanup(w.control.Close)
	w.upstream = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		json.NewEncoder(rw).Encode(map[string]any{"path": r.URL.RequestURI(), "headers": r.Header})
	}))
	t.Cleanup(w.upstream.Close)
	return w
}

// api calls control as admin and decodes the JSON answer.
func (w *world) api(method, path string, body any, want int) map[string]any {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, w.control.URL+control.BasePath+path, rd)
	req.Header.Set("X-Admin-Token", adminToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		w.t.Fatalf("%s %s = %d, want %d\n%s", method, path, res.StatusCode, want, b)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

// tenant creates an active tenant and returns its id.
func (w *world) tenant(sub string) int64 {
	w.t.Helper()
	p := w.api("POST", "/partners", map[string]any{"name": "p" + sub, "contact_email": "ops@" + sub + ".example"}, 201)
	m := w.api("POST", "/tenants", map[string]any{"name": "Tenant " + sub, "subdomain": sub, "contact_email": "a@" + sub + ".example",
		"partner_id": p["id"]}, 201)
	id := int64(m["id"].(float64))
	w.api("POST", "/tenants/"+strconv.FormatInt(id, 10)+"/status", map[string]any{"status": "active"}, 200)
	return id
}

// startEdge starts the edge on the current store contents and follows
// changes until the test ends.
func (w *world) startEdge() {
	w.t.Helper()
	up, _ := url.Parse(w.upstream.URL)
	now := time.Now
	if w.gateNow != nil {
		now = w.gateNow
	}
	gate, err := sso.New(sso.Config{
		Registry: idp.NewRegistry(idp.Options{AllowInsecureLoopback: true, Now: now}),
		Sessions: w.store, Sealer: w.sealer, Now: now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		w.t.Fatal(err)
	}
	e, err := edge.New(w.t.Context(), edge.Config{
		Source: w.store, Plans: whitelabel.DefaultPlans(), BaseDomain: baseDomain, Upstream: up, SSO: gate,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PollInterval: 50 * time.Millisecond,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	w.t.Cleanup(func() { cancel(); <-done })
	w.edge = httptest.NewServer(e.Handler())
	w.t.Cleanup(w.edge.Close)
	_, w.edgePort, _ = net.SplitHostPort(w.edge.Listener.Addr().String())
}

// browser is a cookie-keeping client that reaches every *.example.test
// host at the edge. It does not follow redirects by itself.
func (w *world) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	edgeAddr := w.edge.Listener.Addr().String()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if h, _, _ := net.SplitHostPort(addr); strings.HasSuffix(h, "."+baseDomain) {
			addr = edgeAddr
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	return &http.Client{Jar: jar, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (w *world) siteURL(sub, path string) string {
	return "http://" + sub + "." + baseDomain + ":" + w.edgePort + path
}

// get sends a browser GET.
func get(t *testing.T, c *http.Client, u string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept", "text/html")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// follow follows redirects from u, returning the last response.
func follow(t *testing.T, c *http.Client, u string, max int) (*http.Response, string, []string) {
	t.Helper()
	var seen []string
	for range max {
		res, body := get(t, c, u)
		seen = append(seen, u)
		if res.StatusCode < 300 || res.StatusCode > 399 {
			return res, body, seen
		}
		loc, err := res.Location()
		if err != nil {
			t.Fatalf("redirect without Location from %s", u)
		}
		u = loc.String()
	}
	t.Fatalf("too many redirects: %v", seen)
	return nil, "", nil
}

// upstreamSaw decodes the echo upstream's body.
func upstreamSaw(t *testing.T, body string) (string, http.Header) {
	t.Helper()
	var m struct {
		Path    string      `json:"path"`
		Headers http.Header `json:"headers"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not the upstream's echo: %v\n%s", err, body)
	}
	return m.Path, m.Headers
}

func startMockOIDC(t *testing.T) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	return m
}

func (w *world) putOIDC(tid int64, m *mockoidc.MockOIDC, extra map[string]any) {
	w.t.Helper()
	body := map[string]any{"issuer": m.Issuer(), "client_id": m.ClientID, "client_secret": m.ClientSecret, "name": "Mock IdP",
		"scopes": []string{"openid", "email", "profile", "groups"}}
	for k, v := range extra {
		body[k] = v
	}
	w.api("PUT", "/tenants/"+strconv.FormatInt(tid, 10)+"/sso/oidc", body, 200)
}

func TestOIDCFlowThroughEdge(t *testing.T) {
	w := newWorld(t)
	m := startMockOIDC(t)
	a, b := w.tenant("acme"), w.tenant("bravo")
	w.putOIDC(a, m, map[string]any{"public_paths": []string{"/public"}})
	w.putOIDC(b, m, nil)
	w.startEdge()
	m.QueueUser(&mockoidc.MockUser{Subject: "user-42", Email: "jane@acme.com", EmailVerified: true, Groups: []string{"staff", "admins"}})

	br := w.browser()
	// Public path: no sign-in, no identity.
	res, body := get(t, br, w.siteURL("acme", "/public/x"))
	if res.StatusCode != 200 {
		t.Fatalf("public path = %d\n%s", res.StatusCode, body)
	}
	if _, h := upstreamSaw(t, body); h.Get("X-Auth-User") != "" {
		t.Errorf("public path sent identity %q", h.Get("X-Auth-User"))
	}
	// An API client gets 401 JSON with the login URL.
	res, body = get(t, br, w.siteURL("acme", "/app/data"), "Accept", "application/json")
	if res.StatusCode != 401 || !strings.Contains(body, `"login_url":"http://acme.example.test:`) {
		t.Fatalf("API client = %d %s, want 401 with login_url", res.StatusCode, body)
	}
	// A browser on a protected page goes through the IdP and back, with
	// a spoofed identity header that must not survive.
	res, body, seen := follow(t, br, w.siteURL("acme", "/app/page?x=1"), 10)
	if res.StatusCode != 200 {
		t.Fatalf("after login = %d %s (via %v)", res.StatusCode, body, seen)
	}
	if !strings.HasPrefix(seen[1], m.AuthorizationEndpoint()) || !strings.Contains(seen[1], "code_challenge_method=S256") || !strings.Contains(seen[1], "nonce=") {
		t.Errorf("second hop %s, want the IdP's authorization endpoint with PKCE and nonce", seen[1])
	}
	path, h := upstreamSaw(t, body)
	if path != "/app/page?x=1" {
		t.Errorf("returned to %q, want /app/page?x=1", path)
	}
	if h.Get("X-Auth-User") != "user-42" || h.Get("X-Auth-Email") != "jane@acme.com" || h.Get("X-Auth-Groups") != "staff,admins" {
		t.Errorf("identity headers = user %q email %q groups %q", h.Get("X-Auth-User"), h.Get("X-Auth-Email"), h.Get("X-Auth-Groups"))
	}

	// The assertion verifies with the JWKS fetched from control.
	jr, err := http.Get(w.control.URL + control.BasePath + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	json.NewDecoder(jr.Body).Decode(&set)
	jr.Body.Close()
	claims, err := sealer.VerifyAssertion(set, h.Get("X-Edge-Assertion"), "whitelabel-edge", "whitelabel-upstream", time.Now())
	if err != nil {
		t.Fatalf("VerifyAssertion = %v", err)
	}
	if claims.Subject != "user-42" || claims.Tenant != a || claims.Email != "jane@acme.com" || len(claims.Groups) != 2 {
		t.Errorf("claims = %+v", claims)
	}
	if exp := claims.Expiry.Time().Sub(claims.IssuedAt.Time()); exp > 61*time.Second {
		t.Errorf("assertion lives %v, want about 60s", exp)
	}
	if _, err := sealer.VerifyAssertion(set, h.Get("X-Edge-Assertion"), "whitelabel-edge", "whitelabel-upstream", time.Now().Add(2*time.Minute)); err == nil {
		t.Error("assertion still valid after 2 minutes")
	}

	// Spoofed identity headers from the client never reach the upstream.
	for _, name := range []string{"X-Auth-User", "x-auth-user", "X_Auth_User", "X-AUTH-EMAIL", "X-Edge-Assertion"} {
		res, body = get(t, br, w.siteURL("acme", "/app/page"), name, "mallory")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("with spoofed %s: status %d, want 200", name, res.StatusCode)
		}
		_, h = upstreamSaw(t, body)
		for k, v := range h {
			if slicesContain(v, "mallory") {
				t.Errorf("spoofed %s reached the upstream as %s", name, k)
			}
		}
		if h.Get("X-Auth-User") != "user-42" {
			t.Errorf("with spoofed %s, X-Auth-User = %q", name, h.Get("X-Auth-User"))
		}
	}
	// Anonymous spoofing on a public path is stripped too.
	_, body = get(t, w.browser(), w.siteURL("acme", "/public/"), "X-Auth-User", "mallory", "X_Auth_Email", "m@evil")
	if _, h := upstreamSaw(t, body); h.Get("X-Auth-User") != "" || h.Get("X-Auth-Email") != "" {
		t.Errorf("anonymous spoofed identity reached the upstream: %v", h)
	}

	// The session cookie of tenant A is worthless on tenant B.
	var sessCookie *http.Cookie
	for _, c := range br.Jar.Cookies(mustURL(w.siteURL("acme", "/"))) {
		if c.Name == "wl_session" {
			sessCookie = c
		}
	}
	if sessCookie == nil {
		t.Fatal("no session cookie for acme")
	}
	other := w.browser()
	other.Jar.SetCookies(mustURL(w.siteURL("bravo", "/")), []*http.Cookie{{Name: "wl_session", Value: sessCookie.Value}})
	res, body = get(t, other, w.siteURL("bravo", "/app"), "Accept", "application/json")
	if res.StatusCode != 401 {
		t.Errorf("acme's cookie on bravo = %d %s, want 401", res.StatusCode, body)
	}

	// Logout ends the session.
	res, _ = get(t, br, w.siteURL("acme", sso.LogoutPath))
	if res.StatusCode != 302 {
		t.Errorf("logout = %d, want 302", res.StatusCode)
	}
	res, _ = get(t, br, w.siteURL("acme", "/app"), "Accept", "application/json")
	if res.StatusCode != 401 {
		t.Errorf("after logout = %d, want 401", res.StatusCode)
	}
	// The old cookie value no longer works either.
	again := w.browser()
	again.Jar.SetCookies(mustURL(w.siteURL("acme", "/")), []*http.Cookie{{Name: "wl_session", Value: sessCookie.Value}})
	if res, _ = get(t, again, w.siteURL("acme", "/app"), "Accept", "application/json"); res.StatusCode != 401 {
		t.Errorf("old cookie after logout = %d, want 401", res.StatusCode)
	}
}

func slicesContain(l []string, s string) bool {
	for _, v := range l {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// loginTo starts a login at the edge and returns the IdP URL it
// redirects to.
func loginTo(t *testing.T, br *http.Client, u string) *url.URL {
	t.Helper()
	res, body := get(t, br, u)
	if res.StatusCode != 302 {
		t.Fatalf("GET %s = %d, want 302\n%s", u, res.StatusCode, body)
	}
	loc, _ := res.Location()
	return loc
}

// atIdP follows the IdP's redirect and returns the edge callback URL.
func atIdP(t *testing.T, idpURL string) *url.URL {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(idpURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 302 {
		t.Fatalf("IdP answered %d", res.StatusCode)
	}
	loc, _ := res.Location()
	return loc
}

func TestOIDCRefusals(t *testing.T) {
	w := newWorld(t)
	m := startMockOIDC(t)
	a := w.tenant("acme")
	w.putOIDC(a, m, nil)
	w.startEdge()
	protected := w.siteURL("acme", "/app")

	refused := func(t *testing.T, br *http.Client, cb string) {
		t.Helper()
		res, body := get(t, br, cb)
		if res.StatusCode < 400 {
			t.Fatalf("callback %s = %d, want refused\n%s", cb, res.StatusCode, body)
		}
		if res, _ := get(t, br, protected, "Accept", "application/json"); res.StatusCode != 401 {
			t.Errorf("after a refused callback the site answers %d, want 401", res.StatusCode)
		}
	}

	t.Run("tampered state", func(t *testing.T) {
		br := w.browser()
		cb := atIdP(t, loginTo(t, br, protected).String())
		q := cb.Query()
		q.Set("state", q.Get("state")+"x")
		cb.RawQuery = q.Encode()
		refused(t, br, cb.String())
	})
	t.Run("wrong nonce", func(t *testing.T) {
		br := w.browser()
		u := loginTo(t, br, protected)
		q := u.Query()
		q.Set("nonce", "not-the-nonce")
		u.RawQuery = q.Encode()
		refused(t, br, atIdP(t, u.String()).String())
	})
	t.Run("expired token", func(t *testing.T) {
		br := w.browser()
		u := loginTo(t, br, protected)
		m.FastForward(-2 * time.Hour) // tokens issued now are long expired
		defer m.FastForward(2 * time.Hour)
		refused(t, br, atIdP(t, u.String()).String())
	})
	t.Run("replayed code", func(t *testing.T) {
		br := w.browser()
		cb := atIdP(t, loginTo(t, br, protected).String())
		res, _ := get(t, br, cb.String())
		if res.StatusCode != 303 {
			t.Fatalf("first callback = %d, want 303", res.StatusCode)
		}
		fresh := w.browser()
		fresh.Jar.SetCookies(cb, br.Jar.Cookies(cb)) // even with the login cookie
		for _, c := range br.Jar.Cookies(cb) {
			if c.Name == "wl_session" {
				fresh.Jar.SetCookies(cb, []*http.Cookie{{Name: "wl_session", Value: "", MaxAge: -1}})
			}
		}
		res, _ = get(t, fresh, cb.String())
		if res.StatusCode < 400 {
			t.Errorf("replayed callback = %d, want refused", res.StatusCode)
		}
	})
	t.Run("another browser", func(t *testing.T) {
		br := w.browser()
		cb := atIdP(t, loginTo(t, br, protected).String())
		refused(t, w.browser(), cb.String()) // login CSRF: the victim's browser did not start it
	})
	t.Run("callback on another tenant", func(t *testing.T) {
		b := w.tenant("bravo")
		w.putOIDC(b, m, nil)
		waitFor(t, func() bool {
			res, _ := get(t, w.browser(), w.siteURL("bravo", "/app"), "Accept", "application/json")
			return res.StatusCode == 401
		})
		br := w.browser()
		cb := atIdP(t, loginTo(t, br, protected).String())
		cb.Host = "bravo." + baseDomain + ":" + w.edgePort
		// Carry the login cookie over, as an attacker could.
		for _, c := range br.Jar.Cookies(mustURL(w.siteURL("acme", "/"))) {
			br.Jar.SetCookies(cb, []*http.Cookie{{Name: c.Name, Value: c.Value}})
		}
		res, _ := get(t, br, cb.String())
		if res.StatusCode < 400 {
			t.Errorf("acme's callback on bravo = %d, want refused", res.StatusCode)
		}
	})
	t.Run("allowed email domains", func(t *testing.T) {
		w.putOIDC(a, m, map[string]any{"allowed_email_domains": []string{"other.com"}})
		// The edge follows the change feed: sign in until it has the
		// change (a sign-in that still succeeds is the old config).
		var last int
		waitFor(t, func() bool {
			br := w.browser()
			cb := atIdP(t, loginTo(t, br, protected).String())
			res, _ := get(t, br, cb.String())
			last = res.StatusCode
			return last == 403 || last != 303 && last != 302
		})
		if last != 403 {
			t.Errorf("disallowed domain = %d, want 403", last)
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOpenRedirect(t *testing.T) {
	w := newWorld(t)
	m := startMockOIDC(t)
	a := w.tenant("acme")
	w.putOIDC(a, m, nil)
	w.startEdge()
	host := "acme." + baseDomain + ":" + w.edgePort
	tests := []struct {
		name, returnTo, want string
	}{
		{"path", "/app?x=1", "/app?x=1"},
		{"same host absolute", "http://" + host + "/ok", "/ok"},
		{"other host", "https://evil.com/", "/"},
		{"scheme-relative", "//evil.com/", "/"},
		{"backslash", "/\\evil.com", "/"},
		{"encoded backslash", "/%5Cevil.com", "/%5Cevil.com"},
		{"triple slash", "///evil.com", "/"},
		{"javascript", "javascript:alert(1)", "/"},
		{"no leading slash", "evil.com", "/"},
		{"control chars", "/\t/evil.com", "/"},
		{"edge path", "/_edge/logout", "/"},
		{"userinfo", "http://" + host + "@evil.com/", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := w.browser()
			u := loginTo(t, br, w.siteURL("acme", sso.LoginPath+"?return_to="+url.QueryEscape(tt.returnTo)))
			cb := atIdP(t, u.String())
			res, body := get(t, br, cb.String())
			if res.StatusCode != 303 {
				t.Fatalf("callback = %d %s", res.StatusCode, body)
			}
			if got := res.Header.Get("Location"); got != tt.want {
				t.Errorf("return_to %q → Location %q, want %q", tt.returnTo, got, tt.want)
			}
		})
	}
}

func TestLoginChooser(t *testing.T) {
	w := newWorld(t)
	m := startMockOIDC(t)
	a := w.tenant("acme")
	w.putOIDC(a, m, nil)
	w.api("PUT", "/tenants/"+strconv.FormatInt(a, 10)+"/sso/okta", map[string]any{"domain": "acme.okta.invalid", "client_id": "x", "client_secret": "y"}, 400)
	w.startEdge()
	// One provider: a browser goes straight to it.
	res, _ := get(t, w.browser(), w.siteURL("acme", "/app"))
	if loc, _ := res.Location(); res.StatusCode != 302 || loc == nil || !strings.HasPrefix(loc.String(), m.AuthorizationEndpoint()) {
		t.Errorf("one provider: %d %v, want 302 to the IdP", res.StatusCode, loc)
	}
}
