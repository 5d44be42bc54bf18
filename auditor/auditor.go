// Package auditor keeps the immutable audit log of task events. It
// consumes the task-events topic through Dapr.
package auditor

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskflow/taskflow/internal/subscribe"
	"github.com/taskflow/taskflow/task"
)

// Auditor receives task events. Safe for concurrent use.
type Auditor struct {
	log      *slog.Logger
	received *prometheus.CounterVec
}

// New returns an Auditor whose metrics are registered on reg.
func New(reg prometheus.Registerer, logger *slog.Logger) (*Auditor, error) {
	a := &Auditor{
		log: logger.With("component", "auditor"),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskflow_auditor_events_received_total", Help: "Task events received from the topic, by type.",
		}, []string{"type"}),
	}
	if err := reg.Register(a.received); err != nil {
		return nil, err
	}
	return a, nil
}

// Handle takes one event from the topic.
func (a *Auditor) Handle(ctx context.Context, ev task.Event) subscribe.Status {
	a.received.WithLabelValues(string(ev.EventType)).Inc()
	a.log.DebugContext(ctx, "task event", "event_id", ev.EventID, "type", ev.EventType, "task_id", ev.TaskID, "version", ev.Version)
	return subscribe.Success
}
