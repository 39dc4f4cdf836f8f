package sso_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestSessionCacheFailStatic: with the session store down, a signed-in
// user keeps access for the cache TTL (30s), and only that long; logout
// empties this edge's cache at once.
func TestSessionCacheFailStatic(t *testing.T) {
	w := newWorld(t)
	var skew atomic.Int64
	w.gateNow = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	m := startMockOIDC(t)
	a := w.tenant("acme")
	w.putOIDC(a, m, nil)
	w.startEdge()
	protected := w.siteURL("acme", "/app")

	signIn := func() *http.Client {
		t.Helper()
		br := w.browser()
		if res, body, seen := follow(t, br, protected, 10); res.StatusCode != 200 {
			t.Fatalf("sign-in = %d %s (via %v)", res.StatusCode, body, seen)
		}
		return br
	}
	asAPI := func(br *http.Client) int {
		t.Helper()
		res, _ := get(t, br, protected, "Accept", "application/json")
		return res.StatusCode
	}

	// Logout removes the session from the cache: a copy of the cookie
	// is worthless right away.
	br := signIn()
	copied := w.browser()
	copied.Jar.SetCookies(mustURL(protected), br.Jar.Cookies(mustURL(protected)))
	if got := asAPI(copied); got != 200 {
		t.Fatalf("copied cookie before logout = %d, want 200", got)
	}
	if res, _ := get(t, br, w.siteURL("acme", "/_edge/logout")); res.StatusCode != http.StatusFound {
		t.Fatalf("logout = %d", res.StatusCode)
	}
	if got := asAPI(copied); got != 401 {
		t.Errorf("copied cookie after logout = %d, want 401", got)
	}

	br = signIn()
	w.store.Close()
	res, body := get(t, br, protected, "Accept", "application/json")
	if res.StatusCode != 200 {
		t.Fatalf("store down, signed in = %d %s, want 200", res.StatusCode, body)
	}
	if _, h := upstreamSaw(t, body); h.Get("X-Auth-User") == "" {
		t.Error("store down: no identity sent upstream")
	}
	skew.Store(int64(31 * time.Second))
	if got := asAPI(br); got < 500 {
		t.Errorf("store down past the cache TTL = %d, want a 5xx", got)
	}
}
