package actors

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the TaskActor's Prometheus metrics.
type Metrics struct {
	calls *prometheus.HistogramVec
}

// NewMetrics registers the actor metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "taskflow_actor_call_seconds",
		Help:    "TaskActor method latency inside the actors app, by method and outcome.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"method", "outcome"})}
	if err := reg.Register(m.calls); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Metrics) observe(method, outcome string, d time.Duration) {
	if m != nil {
		m.calls.WithLabelValues(method, outcome).Observe(d.Seconds())
	}
}
