package bandwidth

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a meter's Prometheus collectors; there is no tenant label
// (the edge's request metrics carry the tenant).
type metrics struct {
	flushes, flushErrors, seedErrors prometheus.Counter
	failing                          prometheus.Gauge
}

// newMetrics creates the collectors and registers them with reg when it
// is not nil.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		flushes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "whitelabel_bandwidth_flushes_total",
			Help: "Flushes of byte counts to Redis that had something to send.",
		}),
		flushErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "whitelabel_bandwidth_flush_errors_total",
			Help: "Flushes to Redis that failed for at least one tenant (the bytes are kept and sent later).",
		}),
		seedErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "whitelabel_bandwidth_seed_errors_total",
			Help: "Failed reads of a tenant's month-to-date bytes from the usage store (retried).",
		}),
		failing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "whitelabel_bandwidth_redis_failing",
			Help: "1 while the last flush to Redis failed (counting locally), else 0.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.flushes, m.flushErrors, m.seedErrors, m.failing} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register bandwidth metrics: %w", err)
		}
	}
	return m, nil
}
