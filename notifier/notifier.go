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
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskflow/taskflow/auditor"
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
	QueueBytes        int           // queued event data per stream, in bytes, before it collapses the same way (1 MiB)
	MaxStreams        int           // open streams on this instance; one more gets 503 with Retry-After (20000)
	WriteTimeout      time.Duration // a write slower than this drops the stream (10s)
	RetryHint         time.Duration // the SSE retry: sent on connect (3s)
	ReplayMargin      time.Duration // replay also what was stored this long before the last event seen: an instance may lag behind the one that stored an event first (10s)
	ReplayLimit       int           // more events than this to replay means resync (200)
	Retention         time.Duration // how long stored notifications can be replayed (24h)
	// Opening wraps the opening of a stream (authentication, the response
	// headers, the replay), not the hours it then stays open: tracing and
	// CORS go here, so that a span covers the opening and the stream's
	// goroutine parks without their frames (see ServeHTTP). None if nil.
	Opening func(http.Handler) http.Handler
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
	if c.QueueBytes <= 0 {
		c.QueueBytes = 1 << 20
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = 20_000
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

// DeadLetterer sends a message that can never be stored to the
// dead-letter topic (auditor.DaprDeadLetters).
type DeadLetterer interface {
	DeadLetter(ctx context.Context, dl auditor.DeadLetter) error
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
	dlq      DeadLetterer
	log      *slog.Logger
	m        metrics

	mu       sync.Mutex
	users    map[string][]*stream // a user has a few at most (MaxStreamsPerUser)
	total    int                  // streams registered, of every user
	closing  bool
	shutdown chan struct{}
	streams  sync.WaitGroup
	opener   http.Handler // Config.Opening around openFromContext
}

type metrics struct {
	lag       prometheus.Histogram
	received  *prometheus.CounterVec
	streams   prometheus.Gauge
	delivered *prometheus.CounterVec
	dropped   *prometheus.CounterVec
	replayed  prometheus.Counter
	rejected  *prometheus.CounterVec
	// deadLettered counts events that can never be stored, by result.
	deadLettered *prometheus.CounterVec
}

// New returns a Notifier; its metrics are registered on reg.
func New(cfg Config, store Store, verifier Verifier, dlq DeadLetterer, reg prometheus.Registerer, logger *slog.Logger) (*Notifier, error) {
	n := &Notifier{
		cfg:      cfg.withDefaults(),
		store:    store,
		verifier: verifier,
		dlq:      dlq,
		log:      logger.With("component", "notifier"),
		users:    map[string][]*stream{},
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
			deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "taskflow_notifier_dead_letters_total",
				Help: "Events that can never be stored, sent to the dead-letter topic (sent), or dropped when it could not take them (dropped)."}, []string{"result"}),
		},
	}
	for _, c := range []prometheus.Collector{n.m.lag, n.m.received, n.m.streams, n.m.delivered, n.m.dropped, n.m.replayed, n.m.rejected, n.m.deadLettered} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	n.opener = http.HandlerFunc(n.openFromContext)
	if n.cfg.Opening != nil {
		n.opener = n.cfg.Opening(n.opener)
	}
	return n, nil
}

// Handle takes a batch of events from the topic: it stores them, then
// queues each stored one on its user's streams, in order. An event that
// can never be stored (not a task event, or data PostgreSQL refuses: the
// batch is split until that event is alone) is dead-lettered and answered
// SUCCESS, or DROP if the dead-letter topic cannot take it either; it is
// never retried, which would stop its partition for every notifier. Events
// that could not be stored for any other reason (the database is down)
// are answered RETRY and nothing of them is fanned out.
func (n *Notifier) Handle(ctx context.Context, msgs []subscribe.Message) []subscribe.Status {
	statuses := make([]subscribe.Status, len(msgs))
	batch := make([]pending, 0, len(msgs))
	for i, m := range msgs {
		if reason := auditor.Invalid(m); reason != "" {
			statuses[i] = n.deadLetter(m.Context(ctx), m, reason)
			continue
		}
		batch = append(batch, pending{i: i, nt: postgres.Notification{EventID: m.Event.EventID, UserID: m.Event.UserID,
			Type: string(m.Event.EventType), TaskID: m.Event.TaskID, OccurredAt: m.Event.OccurredAt, Data: m.Data}})
	}
	n.save(ctx, msgs, batch, statuses)
	now := time.Now()
	n.mu.Lock()
	for _, p := range batch {
		if !p.stored {
			continue // dead-lettered, dropped or to be redelivered
		}
		nt := p.nt
		n.m.received.WithLabelValues(nt.Type).Inc()
		n.m.lag.Observe(now.Sub(nt.OccurredAt).Seconds())
		for _, s := range n.users[nt.UserID] {
			if s.push(nt) {
				n.m.dropped.WithLabelValues("backlog").Inc()
			}
		}
	}
	n.mu.Unlock()
	return statuses
}

// pending is a notification to store and the index of its message.
type pending struct {
	i      int
	nt     postgres.Notification
	stored bool
}

// save stores batch and sets each one's status: SUCCESS once stored; a
// batch PostgreSQL refuses is split until the notifications at fault are
// alone, and those are dead-lettered.
func (n *Notifier) save(ctx context.Context, msgs []subscribe.Message, batch []pending, statuses []subscribe.Status) {
	if len(batch) == 0 {
		return
	}
	notes := make([]postgres.Notification, len(batch))
	for i, p := range batch {
		notes[i] = p.nt
	}
	err := n.store.Save(ctx, notes)
	switch {
	case err == nil:
		for i := range batch {
			batch[i].stored = true
			statuses[batch[i].i] = subscribe.Success
		}
	case errors.Is(err, postgres.ErrNotificationsRejected) && len(batch) > 1:
		n.log.WarnContext(ctx, "notifications refused; splitting the batch to find the events at fault",
			"events", len(batch), "error", err)
		half := len(batch) / 2
		n.save(ctx, msgs, batch[:half], statuses)
		n.save(ctx, msgs, batch[half:], statuses)
	case errors.Is(err, postgres.ErrNotificationsRejected):
		m := msgs[batch[0].i]
		statuses[batch[0].i] = n.deadLetter(m.Context(ctx), m, "refused by the notifications store: "+err.Error())
	default:
		refs := make([]subscribe.Message, len(batch))
		for i, p := range batch {
			refs[i] = msgs[p.i]
			statuses[p.i] = subscribe.Retry
		}
		n.log.WarnContext(ctx, "storing notifications failed; they will be redelivered", subscribe.Refs(refs), "error", err)
	}
}

// deadLetter publishes m to the dead-letter topic and answers SUCCESS, or
// DROP if it cannot: the event can never be stored, and retrying it would
// hold up its partition for as long as the dead-letter topic is out of
// reach. The auditor, which reads the same topic, dead-letters what it
// cannot store too. ctx is the message's (subscribe.Message.Context).
func (n *Notifier) deadLetter(ctx context.Context, m subscribe.Message, reason string) subscribe.Status {
	dl := auditor.NewDeadLetter("notifier", reason, m.CloudEvent, m.EntryID, time.Now())
	if dl.EventID == "" && m.Event.EventID != uuid.Nil {
		dl.EventID = m.Event.EventID.String()
	}
	if err := n.dlq.DeadLetter(ctx, dl); err != nil {
		n.m.deadLettered.WithLabelValues("dropped").Inc()
		n.log.ErrorContext(ctx, "cannot dead-letter a message that can never be stored; dropping it",
			"reason", reason, "event_id", dl.EventID, "entry_id", dl.EntryID, "error", err)
		return subscribe.Drop
	}
	n.m.deadLettered.WithLabelValues("sent").Inc()
	n.log.WarnContext(ctx, "dead-lettered a message that can never be stored", "reason", reason, "event_id", dl.EventID, "entry_id", dl.EntryID)
	return subscribe.Success
}

// ErrTooManyStreams: the user already has the maximum of open streams.
var ErrTooManyStreams = errors.New("too many open streams")

// ErrAtCapacity: the instance has the maximum of open streams (of all
// users); connect later, or to another instance.
var ErrAtCapacity = errors.New("too many open streams on this instance")

// ErrShuttingDown: the notifier is shutting down; connect elsewhere.
var ErrShuttingDown = errors.New("shutting down")

func (n *Notifier) register(s *stream) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing {
		return ErrShuttingDown
	}
	if n.total >= n.cfg.MaxStreams {
		return fmt.Errorf("%w: at most %d", ErrAtCapacity, n.cfg.MaxStreams)
	}
	set := n.users[s.user]
	if len(set) >= n.cfg.MaxStreamsPerUser {
		return fmt.Errorf("%w: at most %d per user", ErrTooManyStreams, n.cfg.MaxStreamsPerUser)
	}
	n.users[s.user] = append(set, s)
	n.total++
	n.streams.Add(1)
	n.m.streams.Inc()
	return nil
}

func (n *Notifier) unregister(s *stream) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if set := slices.DeleteFunc(n.users[s.user], func(o *stream) bool { return o == s }); len(set) > 0 {
		n.users[s.user] = set
	} else {
		delete(n.users, s.user)
	}
	n.total--
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
		for _, set := range n.users {
			for _, s := range set {
				s.signal()
			}
		}
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
