package ratelimit

import (
	"fmt"

	"github.com/estatecore/whitelabel"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a limiter's Prometheus collectors. Label values come from
// closed sets; there is no tenant label (the edge's request metrics carry
// the tenant).
type metrics struct {
	allowed, rateLimited, quotaExceeded prometheus.Counter
	degraded                            prometheus.Counter
	redisErrors                         prometheus.Counter
	fallbackEngaged                     prometheus.Gauge
	transitions                         *prometheus.CounterVec // to
	batchSize                           prometheus.Histogram   // redis only; nil otherwise
}

// newMetrics creates the collectors and registers them with reg when it
// is not nil. backend ("local" or "redis") is a constant label so one
// registry can hold both kinds.
func newMetrics(reg prometheus.Registerer, backend string) (*metrics, error) {
	cl := prometheus.Labels{"backend": backend}
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "whitelabel_ratelimit_decisions_total", ConstLabels: cl,
		Help: "Rate limit decisions by result (allowed, rate_limited, quota_exceeded).",
	}, []string{"result"})
	m := &metrics{
		allowed:       decisions.WithLabelValues("allowed"),
		rateLimited:   decisions.WithLabelValues(string(whitelabel.CodeRateLimited)),
		quotaExceeded: decisions.WithLabelValues(string(whitelabel.CodeQuotaExceeded)),
		degraded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "whitelabel_ratelimit_degraded_decisions_total", ConstLabels: cl,
			Help: "Decisions made by the fallback mode because Redis was unreachable.",
		}),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "whitelabel_ratelimit_redis_errors_total", ConstLabels: cl,
			Help: "Failed Redis round trips (decisions and breaker probes).",
		}),
		fallbackEngaged: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "whitelabel_ratelimit_fallback_engaged", ConstLabels: cl,
			Help: "1 while the circuit breaker is open and the fallback mode decides, else 0.",
		}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "whitelabel_ratelimit_breaker_transitions_total", ConstLabels: cl,
			Help: "Circuit breaker state changes by the state entered (open, closed).",
		}, []string{"to"}),
	}
	cs := []prometheus.Collector{decisions, m.degraded, m.redisErrors, m.fallbackEngaged, m.transitions}
	if backend == "redis" {
		m.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "whitelabel_ratelimit_redis_batch_size", ConstLabels: cl,
			Help:    "Decisions sent to Redis in one pipeline (one round trip).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 9), // 1 to maxBacklogBatch
		})
		cs = append(cs, m.batchSize)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register rate limit metrics: %w", err)
		}
	}
	return m, nil
}

// count records d's result.
func (m *metrics) count(d *Decision) {
	switch {
	case d.Allowed:
		m.allowed.Inc()
	case d.Code == whitelabel.CodeQuotaExceeded:
		m.quotaExceeded.Inc()
	default:
		m.rateLimited.Inc()
	}
	if d.Degraded {
		m.degraded.Inc()
	}
}
