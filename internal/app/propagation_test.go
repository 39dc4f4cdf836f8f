package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/control"
	"github.com/estatecore/whitelabel/internal/app"
	"github.com/estatecore/whitelabel/internal/config"
	"github.com/estatecore/whitelabel/internal/testenv"
)

// propagationChanges is how many changes each store's run measures.
const propagationChanges = 50

// TestPropagation measures how long a change made through the control
// API takes to reach the edge (issue 3): from the API's response to the
// first edge answer that shows it, for each of 50 display-name changes,
// with control and the edge running as the programs do (app.RunControl,
// app.NewEdge) on one database. The targets are p99 under 250 ms on
// PostgreSQL and under 1 s on SQLite; the test asserts 1 s and 2 s, a 4x
// and 2x margin, because CI runs it under -race on two loaded cores.
// Run with -v for the figures.
func TestPropagation(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testPropagation(t, "sqlite", filepath.Join(t.TempDir(), "wl.db"), 2*time.Second)
	})
	t.Run("postgres", func(t *testing.T) {
		testPropagation(t, "postgres", testenv.PostgresURL(t), time.Second)
	})
}

func testPropagation(t *testing.T, name, databaseURL string, maxP99 time.Duration) {
	const (
		base  = "propagation.test"
		admin = "propagation-admin-token-0123456789"
		sub   = "acme"
	)
	cfg := config.Defaults()
	cfg.DatabaseURL = databaseURL
	cfg.BaseDomain = base
	cfg.AdminToken = admin
	cfg.ProvisionDelay = 10 * time.Millisecond
	cfg.SnapshotPath = filepath.Join(t.TempDir(), "edge-snapshot.json")
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.Plans = whitelabel.DefaultPlans() // what config.Load fills in
	log := quietLog()

	ctx, cancel := context.WithCancel(context.Background())
	// Control and the edge each open the store, as two processes would:
	// the edge learns of a change through the store's change feed
	// (LISTEN/NOTIFY on PostgreSQL, polling the file on SQLite), not
	// through a shared in-process handle.
	st, err := app.OpenStore(ctx, cfg, true)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	edgeStore, err := app.OpenStore(ctx, cfg, false)
	if err != nil {
		t.Fatalf("OpenStore for the edge: %v", err)
	}
	t.Cleanup(func() { edgeStore.Close() })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	controlDone := make(chan error, 1)
	go func() { controlDone <- app.RunControl(ctx, cfg, st, log, &app.Server{Listener: ln}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-controlDone; err != nil {
			t.Errorf("RunControl: %v", err)
		}
	})

	e, release, err := app.NewEdge(ctx, cfg, edgeStore, log)
	if err != nil {
		t.Fatalf("NewEdge: %v", err)
	}
	edgeDone := make(chan struct{})
	go func() { defer close(edgeDone); e.Run(ctx) }()
	edgeHTTP := httptest.NewServer(e.Handler())
	t.Cleanup(func() {
		edgeHTTP.Close()
		cancel()
		<-edgeDone
		e.Close(context.Background())
		release()
	})

	api := &apiClient{t: t, base: "http://" + ln.Addr().String() + control.BasePath, token: admin}
	p := api.call(http.StatusCreated, "POST", "/partners", map[string]any{"name": "Acme partner", "contact_email": "ops@acme.example"})
	tn := api.call(http.StatusCreated, "POST", "/tenants", map[string]any{"name": "Acme", "subdomain": sub,
		"contact_email": "a@acme.example", "plan": "premium", "partner_id": p["id"]})
	path := "/tenants/" + strconv.Itoa(int(tn["id"].(float64)))
	waitUntil(t, "tenant active", 10*time.Second, func() bool { return api.call(http.StatusOK, "GET", path, nil)["status"] == "active" })

	edgeName := func() string {
		req, _ := http.NewRequest("GET", edgeHTTP.URL+"/api/white-label/current/info", nil)
		req.Host = sub + "." + base
		res, err := edgeHTTP.Client().Do(req)
		if err != nil {
			t.Fatalf("GET edge info: %v", err)
		}
		defer res.Body.Close()
		var info struct {
			DisplayName string `json:"display_name"`
		}
		if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&info) != nil {
			return ""
		}
		return info.DisplayName
	}
	waitUntil(t, "the edge to serve the tenant", 20*time.Second, func() bool { return edgeName() == "Acme" })

	// The metrics endpoint has the edge's series and the runtime's.
	mrec := httptest.NewRecorder()
	e.MetricsHandler().ServeHTTP(mrec, httptest.NewRequest("GET", "/metrics", nil))
	for _, series := range []string{"whitelabel_edge_requests_total", "go_goroutines", "go_gc_duration_seconds", "process_open_fds"} {
		if !strings.Contains(mrec.Body.String(), "\n"+series) {
			t.Errorf("metrics lack %s", series)
		}
	}

	delays := make([]time.Duration, 0, propagationChanges)
	for i := range propagationChanges {
		want := fmt.Sprintf("Acme %d", i)
		api.call(http.StatusOK, "PATCH", path, map[string]any{"display_name": want})
		answered := time.Now()
		deadline := answered.Add(10 * time.Second)
		for edgeName() != want {
			if time.Now().After(deadline) {
				t.Fatalf("change %d (%q) not on the edge after 10s", i, want)
			}
			time.Sleep(time.Millisecond) // polling interval: the resolution of the measurement
		}
		delays = append(delays, time.Since(answered))
	}
	slices.Sort(delays)
	p50, p99 := nearestRank(delays, 0.50), nearestRank(delays, 0.99)
	t.Logf("propagation %s p50=%.1fms p99=%.1fms max=%.1fms n=%d", name, ms(p50), ms(p99), ms(delays[len(delays)-1]), len(delays))
	if p99 >= maxP99 {
		t.Errorf("propagation %s p99 = %v, want under %v", name, p99, maxP99)
	}
}

// nearestRank returns the q quantile of sorted by the nearest-rank
// method: with 50 samples p50 is the 25th and p99 the 50th (the slowest).
func nearestRank(sorted []time.Duration, q float64) time.Duration {
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// apiClient calls the control API as the operator.
type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (c *apiClient) call(want int, method, path string, body any) map[string]any {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("X-Admin-Token", c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	if res.StatusCode != want {
		c.t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	m := map[string]any{}
	json.Unmarshal(b, &m)
	return m
}
