package control

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
)

const testAdminToken = "test-admin-token-0123456789"

// testClock is a settable clock: real time plus an offset, so the
// provisioning worker's ticker still moves while tests can jump ahead.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// env is one control server over real HTTP on loopback, on one store.
type env struct {
	t     *testing.T
	srv   *Server
	hs    *httptest.Server
	store whitelabel.Store
	clock *testClock
}

// newEnv starts a server on st. Options may change the config before New.
func newEnv(t *testing.T, st whitelabel.Store, opts ...func(*Config)) *env {
	t.Helper()
	clock := &testClock{}
	cfg := Config{
		Store:          st,
		AdminToken:     testAdminToken,
		BaseDomain:     "estatecore.test",
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:            clock.Now,
		ProvisionDelay: time.Hour, // tests that want provisioning set it
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &env{t: t, srv: srv, hs: hs, store: st, clock: clock}
}

// runWorker runs the provisioning worker until the test ends.
func (e *env) runWorker() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			e.t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
}

// auth is the credential headers of one caller.
type auth map[string]string

var (
	noAuth = auth{}
	admin  = auth{headerAdminToken: testAdminToken}
)

func apiKey(k string) auth { return auth{headerAPIKey: k} }

// resp is a response read in full.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// obj decodes the body as a JSON object.
func (r *resp) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// errCode returns error.code and error.field of an error body.
func (r *resp) errCode(t *testing.T) (code, field string) {
	t.Helper()
	var b struct {
		Error struct {
			Code, Field, Message string
		}
	}
	if err := json.Unmarshal(r.body, &b); err != nil || b.Error.Code == "" {
		t.Fatalf("status %d body is not an error document: %v\n%s", r.status, err, r.body)
	}
	return b.Error.Code, b.Error.Field
}

// do sends a request. body may be nil (no body), a string or []byte
// (sent as is) or anything else (marshalled). A JSON Content-Type is set
// when there is a body, unless extra headers set one ("" removes it).
func (e *env) do(method, path string, a auth, body any, extra ...string) *resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.hs.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range a {
		req.Header.Set(k, v)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			req.Header.Del(extra[i])
		} else {
			req.Header.Set(extra[i], extra[i+1])
		}
	}
	res, err := e.hs.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &resp{status: res.StatusCode, header: res.Header, body: b}
}

// must sends a request and fails the test unless the status is want.
func (e *env) must(want int, method, path string, a auth, body any, extra ...string) *resp {
	e.t.Helper()
	r := e.do(method, path, a, body, extra...)
	if r.status != want {
		e.t.Fatalf("%s %s = %d, want %d\n%s", method, path, r.status, want, r.body)
	}
	return r
}

// partner is a partner created through the API.
type partner struct {
	id  int64
	key string
}

func (e *env) createPartner(name string) partner {
	e.t.Helper()
	m := e.must(201, "POST", BasePath+"/partners", admin, map[string]any{
		"name": name, "contact_email": "ops@" + name + ".example", "default_revenue_share": 20,
	}).obj(e.t)
	return partner{id: int64(m["id"].(float64)), key: m["api_key"].(string)}
}

// createTenant creates a tenant as p with the given subdomain; fields
// are merged into the body.
func (e *env) createTenant(p partner, sub string, fields map[string]any) map[string]any {
	e.t.Helper()
	body := map[string]any{"name": "Tenant " + sub, "subdomain": sub, "contact_email": "admin@" + sub + ".example"}
	for k, v := range fields {
		body[k] = v
	}
	return e.must(201, "POST", BasePath+"/tenants", apiKey(p.key), body).obj(e.t)
}

func idOf(m map[string]any) int64 { return int64(m["id"].(float64)) }

func tenantPath(id int64, rest ...string) string {
	p := BasePath + "/tenants/" + strconv.FormatInt(id, 10)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustEqual[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

type contextT = context.Context
