// Package notifier delivers task events to users' browsers over
// Server-Sent Events.
//
// Every notifier instance consumes the whole task-events topic (a Kafka
// consumer group of its own). It stores each batch of events (idempotently,
// in a table all instances share) before fanning it out, so a browser that
// reconnects, to this instance or another, can resume after the last event
// it saw: Last-Event-ID. Each stream has a bounded queue drained at a
// limited rate; a backlog beyond the bound collapses into one "resync"
// event, and a client too slow to take its writes is dropped without
// delaying anyone else.
package notifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/internal/subscribe"
	"github.com/taskflow/taskflow/postgres"
)

// Config tunes the notifier. Zero values take the defaults in parentheses.
type Config struct {
	Heartbeat         time.Duration // comment line on idle streams (30s)
	MaxStreamsPerUser int           // concurrent streams per user; one more gets 429 (3)
	Rate              float64       // notifications per second per stream (10)
	QueueBound        int           // queued notifications per stream before they collapse into one resync (256)
	WriteTimeout      time.Duration // a write slower than this drops the stream (10s)
	RetryHint         time.Duration // the SSE retry: sent on connect (3s)
	ReplayMargin      time.Duration // replay also what was stored this long before the last event seen: an instance may lag behind the one that stored an event first (10s)
	ReplayLimit       int           // more events than this to replay means resync (200)
	Retention         time.Duration // how long stored notifications can be replayed (24h)
}

func (c Config) withDefaults() Config {
	dur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	dur(&c.Heartbeat, 30*time.Second)
	dur(&c.WriteTimeout, 10*time.Second)
	dur(&c.RetryHint, 3*time.Second)
	dur(&c.ReplayMargin, 10*time.Second)
	dur(&c.Retention, 24*time.Hour)
	if c.MaxStreamsPerUser <= 0 {
		c.MaxStreamsPerUser = 3
	}
	if c.Rate <= 0 {
		c.Rate = 10
	}
	if c.QueueBound <= 0 {
		c.QueueBound = 256
	}
	if c.ReplayLimit <= 0 {
		c.ReplayLimit = 200
	}
	return c
}

// Store keeps notifications for replay.
type Store interface {
	Save(ctx context.Context, batch []postgres.Notification) error
	After(ctx context.Context, userID string, last uuid.UUID, margin time.Duration, limit int) ([]postgres.Notification, error)
	Purge(ctx context.Context, before time.Time) (int64, error)
}

// Verifier checks tokens.
type Verifier interface {
	Verify(ctx context.Context, raw string) (auth.Claims, error)
}

// Notifier holds the open streams and fans events out to them. Handle is
// called by the subscription (concurrently); ServeHTTP serves streams;
// Shutdown ends them. All methods are safe for concurrent use.
type Notifier struct {
	cfg      Config
	store    Store
	verifier Verifier
	log      *slog.Logger
	m        metrics

	mu       sync.Mutex
	users    map[string]map[*stream]struct{}
	closing  bool
	shutdown chan struct{}
	streams  sync.WaitGroup
}

type metrics struct {
	lag       prometheus.Histogram
	received  *prometheus.CounterVec
	streams   prometheus.Gauge
	delivered *prometheus.CounterVec
	dropped   *prometheus.CounterVec
	replayed  prometheus.Counter
	rejected  *prometheus.CounterVec
}

// New returns a Notifier; its metrics are registered on reg.
func New(cfg Config, store Store, verifier Verifier, reg prometheus.Registerer, logger *slog.Logger) (*Notifier, error) {
	n := &Notifier{
		cfg:      cfg.withDefaults(),
		store:    store,
		verifier: verifier,
		log:      logger.With("component", "notifier"),
		users:    map[string]map[*stream]struct{}{},
		shutdown: make(chan struct{}),
		m: metrics{
			lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "taskflow_notifier_event_lag_seconds",
				Help:    "Time from a change (its occurred_at) to its event being stored and queued on the streams.",
				Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
			received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "taskflow_notifier_events_received_total",
				Help: "Task events received from the topic, by type."}, []string{"type"}),
			streams: prometheus.NewGauge(prometheus.GaugeOpts{Name: "taskflow_notifier_streams",
				Help: "Open SSE streams."}),
			delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "taskflow_notifier_events_delivered_total",
				Help: "Notifications written to streams, by type."}, []string{"type"}),
			dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "taskflow_notifier_drops_total",
				Help: "Notifications collapsed into a resync (backlog) and streams dropped (slow), by reason."}, []string{"reason"}),
			replayed: prometheus.NewCounter(prometheus.CounterOpts{Name: "taskflow_notifier_replayed_total",
				Help: "Notifications replayed to reconnecting streams."}),
			rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "taskflow_notifier_rejected_total",
				Help: "Stream requests refused, by reason."}, []string{"reason"}),
		},
	}
	for _, c := range []prometheus.Collector{n.m.lag, n.m.received, n.m.streams, n.m.delivered, n.m.dropped, n.m.replayed, n.m.rejected} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Handle takes a batch of events from the topic: it stores them, then
// queues each on its user's streams. If they cannot be stored, nothing is
// fanned out and Dapr redelivers the batch.
func (n *Notifier) Handle(ctx context.Context, msgs []subscribe.Message) []subscribe.Status {
	batch := make([]postgres.Notification, len(msgs))
	for i, m := range msgs {
		batch[i] = postgres.Notification{EventID: m.Event.EventID, UserID: m.Event.UserID, Type: string(m.Event.EventType),
			TaskID: m.Event.TaskID, OccurredAt: m.Event.OccurredAt, Data: m.Data}
	}
	statuses := make([]subscribe.Status, len(msgs))
	if err := n.store.Save(ctx, batch); err != nil {
		n.log.WarnContext(ctx, "storing notifications failed; the batch will be redelivered", subscribe.Refs(msgs), "error", err)
		for i := range statuses {
			statuses[i] = subscribe.Retry
		}
		return statuses
	}
	now := time.Now()
	n.mu.Lock()
	for i, nt := range batch {
		n.m.received.WithLabelValues(nt.Type).Inc()
		n.m.lag.Observe(now.Sub(nt.OccurredAt).Seconds())
		for s := range n.users[nt.UserID] {
			if s.push(nt) {
				n.m.dropped.WithLabelValues("backlog").Inc()
			}
		}
		statuses[i] = subscribe.Success
	}
	n.mu.Unlock()
	return statuses
}

// ErrTooManyStreams: the user already has the maximum of open streams.
var ErrTooManyStreams = errors.New("too many open streams")

// ErrShuttingDown: the notifier is shutting down; connect elsewhere.
var ErrShuttingDown = errors.New("shutting down")

func (n *Notifier) register(s *stream) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing {
		return ErrShuttingDown
	}
	set := n.users[s.user]
	if len(set) >= n.cfg.MaxStreamsPerUser {
		return fmt.Errorf("%w: at most %d per user", ErrTooManyStreams, n.cfg.MaxStreamsPerUser)
	}
	if set == nil {
		set = map[*stream]struct{}{}
		n.users[s.user] = set
	}
	set[s] = struct{}{}
	n.streams.Add(1)
	n.m.streams.Inc()
	return nil
}

func (n *Notifier) unregister(s *stream) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if set := n.users[s.user]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(n.users, s.user)
		}
	}
	n.streams.Done()
	n.m.streams.Dec()
}

// Shutdown ends every stream with a final "shutdown" event (which tells
// the browser to reconnect at once, to another instance) and waits for
// them until ctx is done. New streams are refused from now on.
func (n *Notifier) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	if !n.closing {
		n.closing = true
		close(n.shutdown)
	}
	n.mu.Unlock()
	done := make(chan struct{})
	go func() { n.streams.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Purge removes stored notifications older than the retention, every
// interval until ctx is done.
func (n *Notifier) Purge(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := n.store.Purge(ctx, time.Now().Add(-n.cfg.Retention)); err != nil && ctx.Err() == nil {
				n.log.WarnContext(ctx, "purging old notifications failed", "error", err)
			}
		}
	}
}
