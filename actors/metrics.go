package actors

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the TaskActor's Prometheus metrics.
type Metrics struct {
	calls *prometheus.HistogramVec
	late  *prometheus.HistogramVec
	tick  prometheus.Histogram
}

// NewMetrics registers the actor metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "taskflow_actor_call_seconds",
		Help:    "TaskActor method latency inside the actors app, by method and outcome.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"method", "outcome"}),
		late: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "taskflow_reminder_lateness_seconds",
			Help:    "How late reminders and overdue notices fired, by type.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
		}, []string{"type"}),
		tick: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "taskflow_series_tick_lag_seconds",
			Help:    "How late a series' tick (the reminder that creates its next instance) fired after it was due.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
		})}
	for _, c := range []prometheus.Collector{m.calls, m.late, m.tick} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) fired(typ string, late time.Duration) {
	if m != nil {
		m.late.WithLabelValues(typ).Observe(max(late, 0).Seconds())
	}
}

func (m *Metrics) observe(method, outcome string, d time.Duration) {
	if m != nil {
		m.calls.WithLabelValues(method, outcome).Observe(d.Seconds())
	}
}

func (m *Metrics) ticked(late time.Duration) {
	if m != nil {
		m.tick.Observe(max(late, 0).Seconds())
	}
}
