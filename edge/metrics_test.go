package edge

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/estatecore/whitelabel"
)

// counterValue sums the named metric's samples whose labels include want.
func counterValue(t testing.TB, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metric
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

// labelValues returns the distinct values of label across every metric.
func labelValues(t testing.TB, reg *prometheus.Registry, label string) map[string]bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label {
					out[lp.GetValue()] = true
				}
			}
		}
	}
	return out
}

// TestMetricsCardinality: a flood of random Host headers and more tenants
// than the cap leave the tenant label bounded.
func TestMetricsCardinality(t *testing.T) {
	var tcs []whitelabel.TenantConfig
	for i := range 20 {
		tcs = append(tcs, tenant(int64(i+1), fmt.Sprintf("tenant%02d", i), whitelabel.StatusActive))
	}
	up := newUpstream(t, nil)
	const capN = 5
	e := startEdge(t, newFakeSource(tcs...), up.URL, func(c *Config) {
		c.MetricsTenantLabel = true
		c.MetricsTenantCap = capN
		c.Routes = []Route{{Name: "info", Method: "GET", PathPrefix: "/api/white-label/current/"}, {Name: "app", PathPrefix: "/app"}}
	})
	h := e.Handler()
	serve := func(host, path string) int {
		req := httptest.NewRequest("GET", path, nil)
		req.Host = host
		req.RemoteAddr = "192.0.2.1:1234"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for range 1000 {
		host := fmt.Sprintf("%x.example.test", rand.Uint64())
		if rand.IntN(2) == 0 {
			host = fmt.Sprintf("random-%x.attacker.test", rand.Uint64())
		}
		if code := serve(host, fmt.Sprintf("/x/%d", rand.Uint64())); code != 404 {
			t.Fatalf("random host: %d, want 404", code)
		}
	}
	for i := range 20 {
		if code := serve(fmt.Sprintf("tenant%02d.example.test", i), "/app/page"); code != 200 {
			t.Fatalf("tenant %d: %d", i, code)
		}
	}
	serve("tenant00.example.test", "/api/white-label/current/info")

	tenants := labelValues(t, e.cfg.Registry, "tenant")
	if len(tenants) > capN+1 || !tenants[otherLabel] {
		t.Errorf("tenant label values = %v: want at most %d tenants plus %q", tenants, capN, otherLabel)
	}
	routes := labelValues(t, e.cfg.Registry, "route")
	for r := range routes {
		if r != "info" && r != "app" && r != otherRoute {
			t.Errorf("route label %q: raw path leaked into metrics", r)
		}
	}
	if got := counterValue(t, e.cfg.Registry, "whitelabel_edge_requests_total", map[string]string{"code": "4xx", "tenant": otherLabel}); got != 1000 {
		t.Errorf("4xx _other requests = %v, want 1000", got)
	}
	if got := counterValue(t, e.cfg.Registry, "whitelabel_edge_requests_total", map[string]string{"route": "info"}); got != 1 {
		t.Errorf("info route requests = %v, want 1", got)
	}
	if got := counterValue(t, e.cfg.Registry, "whitelabel_edge_upstream_duration_seconds", nil); got != 20 {
		t.Errorf("upstream duration samples = %v, want 20", got)
	}
	if got := counterValue(t, e.cfg.Registry, "whitelabel_edge_snapshot_tenants", nil); got != 20 {
		t.Errorf("snapshot tenants = %v, want 20", got)
	}
}

func TestMetricsHandler(t *testing.T) {
	up := newUpstream(t, nil)
	e := startEdge(t, activeSource(), up.URL, nil)
	e.do(t, "GET", "acme.example.test", "/", nil)
	rec := httptest.NewRecorder()
	e.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`whitelabel_edge_requests_total{code="2xx",method="GET",route="other",tenant="acme-key"} 1`,
		"whitelabel_edge_request_duration_seconds_bucket", "whitelabel_edge_upstream_duration_seconds_bucket",
		"whitelabel_edge_requests_in_flight 0", "whitelabel_edge_snapshot_version 1", "whitelabel_edge_snapshot_age_seconds",
		"whitelabel_edge_config_apply_delay_seconds_bucket",
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(rec.Body.String(), `whitelabel_edge_request_duration_seconds_bucket{code="2xx",le="0.001",method="GET",route="other",tenant=`) {
		t.Error("tenant label on histograms although MetricsTenantLabel is false")
	}
}

func TestHealthEndpoints(t *testing.T) {
	up := newUpstream(t, nil)
	e := startEdge(t, activeSource(), up.URL, nil)
	for _, p := range []string{healthzPath, readyzPath} {
		resp, body := e.do(t, "GET", "anything.invalid", p, nil)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, body)
		}
	}
	if len(up.requests()) != 0 {
		t.Error("health checks reached the upstream")
	}
	_ = http.StatusOK
}
