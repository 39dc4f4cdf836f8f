package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/edge/ratelimit"
)

// fakeSource is an in-memory whitelabel.ConfigSource for unit tests.
type fakeSource struct {
	mu      sync.Mutex
	version int64
	tenants map[int64]whitelabel.TenantConfig
	changes []whitelabel.Change
	down    bool
	wake    chan struct{} // closed and replaced on every change
	now     func() time.Time
}

var errDown = errors.New("fake store is down")

func newFakeSource(tcs ...whitelabel.TenantConfig) *fakeSource {
	f := &fakeSource{tenants: map[int64]whitelabel.TenantConfig{}, wake: make(chan struct{}), now: time.Now}
	for _, tc := range tcs {
		f.put(tc)
	}
	return f
}

func (f *fakeSource) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// put stores tc and records a change.
func (f *fakeSource) put(tc whitelabel.TenantConfig) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tenants[tc.Tenant.ID] = tc
	f.bump(whitelabel.ChangeTenant, tc.Tenant.ID)
}

func (f *fakeSource) remove(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.tenants, id)
	f.bump(whitelabel.ChangeTenant, id)
}

func (f *fakeSource) bump(kind whitelabel.ChangeKind, id int64) {
	f.version++
	f.changes = append(f.changes, whitelabel.Change{Version: f.version, Kind: kind, TenantID: id, At: f.now()})
	close(f.wake)
	f.wake = make(chan struct{})
}

// trim drops the feed up to and including version v, as a store that
// prunes old changes would.
func (f *fakeSource) trim(v int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = slices.DeleteFunc(f.changes, func(c whitelabel.Change) bool { return c.Version <= v })
}

func (f *fakeSource) ConfigVersion(ctx context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return 0, errDown
	}
	return f.version, nil
}

func (f *fakeSource) ChangesSince(ctx context.Context, after int64, limit int) ([]whitelabel.Change, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	var out []whitelabel.Change
	for _, c := range f.changes {
		if c.Version > after && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeSource) WaitForChange(ctx context.Context, after int64) (int64, error) {
	for {
		f.mu.Lock()
		if f.down {
			f.mu.Unlock()
			return 0, errDown
		}
		v, wake := f.version, f.wake
		f.mu.Unlock()
		if v > after {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-wake:
		}
	}
}

func (f *fakeSource) LoadConfig(ctx context.Context) (int64, []whitelabel.TenantConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return 0, nil, errDown
	}
	var out []whitelabel.TenantConfig
	for _, tc := range f.tenants {
		out = append(out, tc)
	}
	return f.version, out, nil
}

func (f *fakeSource) LoadTenantConfigs(ctx context.Context, ids []int64) ([]whitelabel.TenantConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	var out []whitelabel.TenantConfig
	for _, id := range ids {
		if tc, ok := f.tenants[id]; ok {
			out = append(out, tc)
		}
	}
	return out, nil
}

var _ whitelabel.ConfigSource = (*fakeSource)(nil)

// tenant returns a tenant config with sensible fields for id and name.
func tenant(id int64, name string, status whitelabel.TenantStatus, domains ...string) whitelabel.TenantConfig {
	tc := whitelabel.TenantConfig{Tenant: whitelabel.Tenant{
		ID: id, PartnerID: 1, OrganizationID: 1000 + id, TenantKey: name + "-key", DisplayName: strings.ToUpper(name[:1]) + name[1:],
		Subdomain: name, ContactEmail: "admin@" + name + ".test", Plan: "premium", Status: status,
		BrandConfig: json.RawMessage(`{"name":"` + name + ` Brand","colors":{"primary":"#ff6b35"}}`),
		Version:     1,
	}}
	for i, d := range domains {
		st := whitelabel.DomainActive
		if strings.HasPrefix(d, "pending:") {
			d, st = strings.TrimPrefix(d, "pending:"), whitelabel.DomainPending
		}
		tc.Domains = append(tc.Domains, whitelabel.TenantDomain{ID: id*100 + int64(i), TenantID: id, Domain: d, Status: st})
	}
	return tc
}

// seenRequest is what the test upstream saw.
type seenRequest struct {
	Host   string
	Path   string
	Header http.Header
}

// upstream is an httptest server that records requests and answers
// "upstream ok".
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, seenRequest{Host: r.Host, Path: r.URL.Path, Header: r.Header.Clone()})
		u.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "upstream ok")
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.seen)
}

func (u *upstream) last(t *testing.T) seenRequest {
	t.Helper()
	rs := u.requests()
	if len(rs) == 0 {
		t.Fatal("upstream saw no request")
	}
	return rs[len(rs)-1]
}

// testEdge is an edge server on a loopback listener.
type testEdge struct {
	*Server
	URL string
	srv *httptest.Server
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// startEdge builds a Server over src proxying to upstreamURL, serves its
// handler on loopback and runs its feed until the test ends. edit may
// change the config first.
func startEdge(t testing.TB, src whitelabel.ConfigSource, upstreamURL string, edit func(*Config)) *testEdge {
	t.Helper()
	cfg := Config{
		Source:     src,
		Plans:      whitelabel.DefaultPlans(),
		BaseDomain: "example.test",
		Upstream:   mustURL(t, upstreamURL),
		Logger:     slog.New(slog.DiscardHandler),
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
	})
	return &testEdge{Server: s, URL: srv.URL, srv: srv}
}

// get sends method to the edge with the given Host and headers.
func (e *testEdge) do(t testing.TB, method, host, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header[k] = []string{v} // as given: no canonicalisation, so x_tenant_id stays x_tenant_id
	}
	return e.send(t, req)
}

// send sends req to the edge and returns the response with its whole
// body read.
func (e *testEdge) send(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", req.Method, req.Host, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

// waitFor polls cond until it holds or the deadline passes. It is for
// waiting on asynchronous work (the feed), not for timing assertions.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func errorCode(t testing.TB, body string) string {
	t.Helper()
	var b errorBody
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("body %q is not a JSON error: %v", body, err)
	}
	return string(b.Error.Code)
}

var _ = fmt.Sprint

// quota returns the policy called name in h's RateLimit-Policy and
// RateLimit fields; the zero Policy (Name "") when h lists none.
func quota(t testing.TB, h http.Header, name string) ratelimit.Policy {
	t.Helper()
	ps, err := ratelimit.ReadHeaders(h)
	if err != nil {
		t.Fatalf("rate limit headers: %v", err)
	}
	for _, p := range ps {
		if p.Name == name {
			return p
		}
	}
	return ratelimit.Policy{}
}
