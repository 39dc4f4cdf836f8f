package edge

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// otherLabel is the tenant label of requests without a known tenant and
// of tenants past MetricsTenantCap, and the route of unnamed paths.
const (
	otherLabel = "_other"
	otherRoute = "other"
)

// metrics are the edge's Prometheus collectors. Every label value comes
// from a closed set: code classes, known methods, configured route names
// and tenant keys from the snapshot, capped; so no request, however
// crafted, can add series (Host floods were caddy#7208).
type metrics struct {
	tenantInHistograms bool
	tenants            tenantLabels

	requests       *prometheus.CounterVec   // code, method, route, tenant
	duration       *prometheus.HistogramVec // code, method, route[, tenant]
	upstream       *prometheus.HistogramVec // route[, tenant]
	upstreamErrors *prometheus.CounterVec   // kind
	inFlight       prometheus.Gauge
	applyDelay     prometheus.Histogram
	storeErrors    prometheus.Counter
}

func newMetrics(s *Server) (*metrics, error) {
	c := s.cfg
	m := &metrics{tenantInHistograms: c.MetricsTenantLabel, tenants: tenantLabels{max: int64(c.MetricsTenantCap)}}
	histLabels := []string{"code", "method", "route"}
	upLabels := []string{"route"}
	if c.MetricsTenantLabel {
		histLabels = append(histLabels, "tenant")
		upLabels = append(upLabels, "tenant")
	}
	buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "whitelabel_edge_requests_total",
		Help: "Requests handled by the edge, by status class, method, route and tenant.",
	}, []string{"code", "method", "route", "tenant"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "whitelabel_edge_request_duration_seconds", Buckets: buckets,
		Help: "Time from receiving a request to its last byte written.",
	}, histLabels)
	m.upstream = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "whitelabel_edge_upstream_duration_seconds", Buckets: buckets,
		Help: "Time from sending a request upstream to its response headers.",
	}, upLabels)
	m.upstreamErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "whitelabel_edge_upstream_errors_total",
		Help: "Failed upstream round trips by kind (refused, timeout, client_gone, other).",
	}, []string{"kind"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "whitelabel_edge_requests_in_flight",
		Help: "Requests being handled.",
	})
	m.applyDelay = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "whitelabel_edge_config_apply_delay_seconds",
		Help:    "Time from a configuration change in the store to this edge serving it.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	})
	m.storeErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "whitelabel_edge_store_errors_total",
		Help: "Failed calls to the configuration store (the edge keeps serving its snapshot).",
	})
	version := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "whitelabel_edge_snapshot_version",
		Help: "Configuration version of the snapshot being served.",
	}, func() float64 {
		if snap := s.snap.Load(); snap != nil {
			return float64(snap.version)
		}
		return 0
	})
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "whitelabel_edge_snapshot_age_seconds",
		Help: "Seconds since the snapshot was last known to match the store; grows while the store is unreachable.",
	}, func() float64 {
		if ns := s.lastSync.Load(); ns != 0 {
			return max(s.now().Sub(time.Unix(0, ns)).Seconds(), 0)
		}
		return 0
	})
	tenants := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "whitelabel_edge_snapshot_tenants",
		Help: "Tenants in the snapshot being served.",
	}, func() float64 {
		if snap := s.snap.Load(); snap != nil {
			return float64(snap.tenants)
		}
		return 0
	})
	for _, col := range []prometheus.Collector{m.requests, m.duration, m.upstream, m.upstreamErrors, m.inFlight, m.applyDelay, m.storeErrors, version, age, tenants} {
		if err := c.Registry.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (s *Server) newMetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{ErrorLog: nil})
}

// observeRequest counts one finished request.
func (m *metrics) observeRequest(st *reqState, method string, status int, dur time.Duration) {
	code := codeClass(status)
	meth := methodLabel(method)
	tenant := m.tenants.label(st.tenant)
	m.requests.WithLabelValues(code, meth, st.route, tenant).Inc()
	if m.tenantInHistograms {
		m.duration.WithLabelValues(code, meth, st.route, tenant).Observe(dur.Seconds())
		if st.upstreamDur > 0 {
			m.upstream.WithLabelValues(st.route, tenant).Observe(st.upstreamDur.Seconds())
		}
		return
	}
	m.duration.WithLabelValues(code, meth, st.route).Observe(dur.Seconds())
	if st.upstreamDur > 0 {
		m.upstream.WithLabelValues(st.route).Observe(st.upstreamDur.Seconds())
	}
}

// tenantLabels admits tenant keys as label values, first come first
// served, up to max; the rest share otherLabel. Admitted keys stay
// admitted (their series exist anyway).
type tenantLabels struct {
	max      int64
	n        atomic.Int64
	admitted sync.Map // tenant key → struct{}
	mu       sync.Mutex
}

func (l *tenantLabels) label(e *tenantEntry) string {
	if e == nil || e.key == "" {
		return otherLabel
	}
	if _, ok := l.admitted.Load(e.key); ok {
		return e.key
	}
	if l.n.Load() >= l.max {
		return otherLabel
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.admitted.Load(e.key); ok {
		return e.key
	}
	if l.n.Load() >= l.max {
		return otherLabel
	}
	l.admitted.Store(e.key, struct{}{})
	l.n.Add(1)
	return e.key
}

var codeClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

func codeClass(status int) string {
	if status >= 100 && status < 600 {
		return codeClasses[status/100-1]
	}
	return "other"
}

// methodLabel keeps the standard methods and folds the rest.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// routeOf names r's route for metrics (see Route).
func (s *Server) routeOf(r *http.Request) string {
	for i := range s.cfg.Routes {
		rt := &s.cfg.Routes[i]
		if (rt.Method == "" || rt.Method == r.Method) && strings.HasPrefix(r.URL.Path, rt.PathPrefix) {
			return rt.Name
		}
	}
	return otherRoute
}
