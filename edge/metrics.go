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
	routes             []string // label of each route index (routeOf); the last is otherRoute
	other              *seriesCache

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
	for _, rt := range c.Routes {
		m.routes = append(m.routes, rt.Name)
	}
	m.routes = append(m.routes, otherRoute)
	m.other = m.newSeriesCache(otherLabel)
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
	c := m.seriesOf(st.tenant)
	rs := c.request(m, codeIndex(status), methodIndex(method), st.routeIdx)
	rs.requests.Inc()
	rs.duration.Observe(dur.Seconds())
	if st.upstreamDur > 0 {
		c.upstream(m, st.routeIdx).Observe(st.upstreamDur.Seconds())
	}
}

// seriesCache holds the series of one tenant label, each created on first
// use: a request then finds its series by index instead of hashing its
// label values into the vectors. Series are never deleted from the
// vectors, so a cached one stays valid. Safe for concurrent use.
type seriesCache struct {
	tenant string
	req    []atomic.Pointer[requestSeries]  // by (code, method, route) index
	up     []atomic.Pointer[upstreamSeries] // by route index
}

// requestSeries are the request counter and duration histogram of one
// label set; upstreamSeries the upstream histogram of one.
type requestSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

type upstreamSeries struct{ prometheus.Observer }

func (m *metrics) newSeriesCache(tenant string) *seriesCache {
	return &seriesCache{
		tenant: tenant,
		req:    make([]atomic.Pointer[requestSeries], len(codeClasses)*len(methodLabels)*len(m.routes)),
		up:     make([]atomic.Pointer[upstreamSeries], len(m.routes)),
	}
}

// seriesOf returns the series cache of e's tenant label: e's own once
// its key is admitted (tenantLabels), else the shared one of otherLabel.
func (m *metrics) seriesOf(e *tenantEntry) *seriesCache {
	if e == nil {
		return m.other
	}
	if c := e.series.Load(); c != nil {
		return c
	}
	c := m.other
	if label := m.tenants.label(e); label != otherLabel {
		c = m.newSeriesCache(label)
	}
	if !e.series.CompareAndSwap(nil, c) {
		c = e.series.Load()
	}
	return c
}

func (c *seriesCache) request(m *metrics, code, method, route int) *requestSeries {
	slot := &c.req[(code*len(methodLabels)+method)*len(m.routes)+route]
	if rs := slot.Load(); rs != nil {
		return rs
	}
	cl, ml, rl := codeClasses[code], methodLabels[method], m.routes[route]
	rs := &requestSeries{requests: m.requests.WithLabelValues(cl, ml, rl, c.tenant)}
	if m.tenantInHistograms {
		rs.duration = m.duration.WithLabelValues(cl, ml, rl, c.tenant)
	} else {
		rs.duration = m.duration.WithLabelValues(cl, ml, rl)
	}
	slot.CompareAndSwap(nil, rs) // a racing twin holds the same series
	return rs
}

func (c *seriesCache) upstream(m *metrics, route int) prometheus.Observer {
	slot := &c.up[route]
	if us := slot.Load(); us != nil {
		return us.Observer
	}
	us := &upstreamSeries{}
	if m.tenantInHistograms {
		us.Observer = m.upstream.WithLabelValues(m.routes[route], c.tenant)
	} else {
		us.Observer = m.upstream.WithLabelValues(m.routes[route])
	}
	slot.CompareAndSwap(nil, us)
	return us.Observer
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

// codeClasses and methodLabels are the code and method label values;
// codeIndex and methodIndex give a request's.
var (
	codeClasses  = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}
	methodLabels = [...]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace, "OTHER"}
)

// codeIndex is status's index in codeClasses: its class, or "other".
func codeIndex(status int) int {
	if status >= 100 && status < 600 {
		return status/100 - 1
	}
	return len(codeClasses) - 1
}

// methodIndex is m's index in methodLabels: the standard methods are
// kept, the rest fold to "OTHER".
func methodIndex(m string) int {
	for i, l := range methodLabels[:len(methodLabels)-1] {
		if m == l {
			return i
		}
	}
	return len(methodLabels) - 1
}

// routeOf names r's route for metrics (see Route) and gives its index
// in metrics.routes: len(Routes) for otherRoute.
func (s *Server) routeOf(r *http.Request) (string, int) {
	for i := range s.cfg.Routes {
		rt := &s.cfg.Routes[i]
		if (rt.Method == "" || rt.Method == r.Method) && strings.HasPrefix(r.URL.Path, rt.PathPrefix) {
			return rt.Name, i
		}
	}
	return otherRoute, len(s.cfg.Routes)
}
