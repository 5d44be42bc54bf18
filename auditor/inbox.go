package auditor

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskflow/taskflow/internal/subscribe"
	"github.com/taskflow/taskflow/postgres"
)

// DeadLetterStore keeps dead letters for operators to inspect and replay.
type DeadLetterStore interface {
	AddDeadLetter(ctx context.Context, dl postgres.DeadLetter) (bool, error)
	PendingDeadLetters(ctx context.Context) (int64, error)
}

// Inbox takes the messages of DeadLetterTopic into the dead_letters table,
// where the ops view lists them, and reports how many wait for an operator.
type Inbox struct {
	store   DeadLetterStore
	log     *slog.Logger
	pending prometheus.Gauge
	stored  prometheus.Counter
}

// NewInbox registers the dead-letter metrics on reg.
func NewInbox(store DeadLetterStore, reg prometheus.Registerer, logger *slog.Logger) (*Inbox, error) {
	in := &Inbox{store: store, log: logger.With("component", "dead_letters"),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "taskflow_dead_letters_pending",
			Help: "Dead-lettered messages stored and not replayed yet (the DLQ's size as operators see it)."}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{Name: "taskflow_dead_letters_stored_total",
			Help: "Dead-lettered messages taken from the DLQ topic into the dead_letters table."}),
	}
	for _, c := range []prometheus.Collector{in.pending, in.stored} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// Subscription is the inbox's entry of GET /dapr/subscribe.
func (in *Inbox) Subscription(pubsub, route string) subscribe.Subscription {
	return subscribe.Subscription{PubsubName: pubsub, Topic: DeadLetterTopic, Route: route}
}

// ServeHTTP takes one CloudEvent of DeadLetterTopic (Dapr wraps the
// DeadLetter it was published as). A message that is no dead letter is
// stored too, as what it is, so nothing on the DLQ goes unseen.
func (in *Inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	status := subscribe.Retry
	if err == nil {
		status = in.take(r.Context(), body)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]subscribe.Status{"status": status})
}

func (in *Inbox) take(ctx context.Context, body []byte) subscribe.Status {
	var ce struct {
		ID   string          `json:"id"`
		Data json.RawMessage `json:"data"`
	}
	var dl DeadLetter
	if json.Unmarshal(body, &ce) != nil || ce.ID == "" {
		in.log.WarnContext(ctx, "dropping a DLQ message that is not a CloudEvent")
		return subscribe.Drop
	}
	if json.Unmarshal(ce.Data, &dl) != nil || dl.Reason == "" {
		dl = newDeadLetter("not a dead letter: a message published to the DLQ topic directly", ce.Data, "", time.Now())
		dl.Subscriber, dl.Topic = "unknown", DeadLetterTopic
	}
	if dl.FailedAt.IsZero() {
		dl.FailedAt = time.Now().UTC()
	}
	added, err := in.store.AddDeadLetter(ctx, postgres.DeadLetter{MessageID: ce.ID, EventID: dl.EventID, Subscriber: dl.Subscriber,
		Topic: dl.Topic, Reason: dl.Reason, Message: dl.Message, MessageBase64: dl.MessageBase64, FailedAt: dl.FailedAt})
	if err != nil {
		in.log.ErrorContext(ctx, "cannot store a dead letter; Dapr redelivers it", "error", err)
		return subscribe.Retry
	}
	if added {
		in.stored.Inc()
		in.log.WarnContext(ctx, "dead letter stored for an operator", "event_id", dl.EventID, "reason", dl.Reason, "subscriber", dl.Subscriber)
	}
	return subscribe.Success
}

// Run refreshes the pending gauge every interval until ctx is done.
func (in *Inbox) Run(ctx context.Context, interval time.Duration) {
	for {
		if n, err := in.store.PendingDeadLetters(ctx); err == nil {
			in.pending.Set(float64(n))
		} else if ctx.Err() == nil {
			in.log.WarnContext(ctx, "cannot count the dead letters", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
