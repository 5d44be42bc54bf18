// Package notifier delivers task events to users' browsers. It consumes
// the task-events topic through Dapr; the Server-Sent Events stream is
// built on top of the Handle method.
package notifier

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskflow/taskflow/internal/subscribe"
	"github.com/taskflow/taskflow/task"
)

// Notifier receives task events. Safe for concurrent use.
type Notifier struct {
	log      *slog.Logger
	received *prometheus.CounterVec
}

// New returns a Notifier whose metrics are registered on reg.
func New(reg prometheus.Registerer, logger *slog.Logger) (*Notifier, error) {
	n := &Notifier{
		log: logger.With("component", "notifier"),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskflow_notifier_events_received_total", Help: "Task events received from the topic, by type.",
		}, []string{"type"}),
	}
	if err := reg.Register(n.received); err != nil {
		return nil, err
	}
	return n, nil
}

// Handle takes one event from the topic.
func (n *Notifier) Handle(ctx context.Context, ev task.Event) subscribe.Status {
	n.received.WithLabelValues(string(ev.EventType)).Inc()
	n.log.DebugContext(ctx, "task event", "event_id", ev.EventID, "type", ev.EventType, "task_id", ev.TaskID, "version", ev.Version)
	return subscribe.Success
}
