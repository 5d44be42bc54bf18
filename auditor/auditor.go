// Package auditor keeps the immutable audit log of task events: it takes
// the task-events topic's deliveries from Dapr, writes them in batches and
// acknowledges each message only once its batch has committed. Messages
// that can never be written go to a dead-letter topic with the reason.
package auditor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskflow/taskflow/internal/subscribe"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// Config tunes the batching.
type Config struct {
	// BatchSize is the most events one write holds, and one Dapr bulk
	// delivery (AUDIT_BATCH_SIZE).
	BatchSize int
	// BatchWait is the longest Dapr holds an event to fill a bulk delivery
	// (AUDIT_BATCH_WAIT); see Run.
	BatchWait time.Duration
	// WriteTimeout bounds one batch write (and the final flush).
	WriteTimeout time.Duration
}

// DefaultConfig: the seed's 100 events or 1 second.
var DefaultConfig = Config{BatchSize: 100, BatchWait: time.Second, WriteTimeout: 30 * time.Second}

// Store appends audit records; see postgres.Audit.Write. An error wrapping
// postgres.ErrAuditRejected means the batch can never be written as it is.
type Store interface {
	Write(ctx context.Context, batch []task.AuditRecord) (int, error)
}

// DeadLetterer sends a message that can never be written elsewhere.
type DeadLetterer interface {
	DeadLetter(ctx context.Context, dl DeadLetter) error
}

// Auditor batches task events into the audit log. Run must be running
// for Handle to make progress; Handle is safe for concurrent use.
type Auditor struct {
	cfg   Config
	store Store
	dlq   DeadLetterer
	log   *slog.Logger
	m     metrics
	now   func() time.Time

	in      chan *delivery
	stop    chan struct{} // closed by Close: flush and exit
	stopped chan struct{} // closed when Run has returned
	once    sync.Once
}

// delivery is one Dapr request's messages, answered when all are settled.
type delivery struct {
	recs     []task.AuditRecord
	raws     []subscribe.Message
	statuses []subscribe.Status
	slots    []int // statuses index of recs[i]
	left     int
	done     chan struct{}
}

func (d *delivery) settle(i int, st subscribe.Status) {
	d.statuses[d.slots[i]] = st
	if d.left--; d.left == 0 {
		close(d.done)
	}
}

// slot is one record waiting in the batch.
type slot struct {
	d *delivery
	i int
}

// New returns an Auditor whose metrics are registered on reg.
func New(cfg Config, store Store, dlq DeadLetterer, reg prometheus.Registerer, logger *slog.Logger) (*Auditor, error) {
	if cfg.BatchSize < 1 || cfg.BatchWait <= 0 {
		return nil, fmt.Errorf("auditor: batch size %d and wait %s must be positive", cfg.BatchSize, cfg.BatchWait)
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultConfig.WriteTimeout
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Auditor{
		cfg: cfg, store: store, dlq: dlq, log: logger.With("component", "auditor"), m: m, now: time.Now,
		in: make(chan *delivery), stop: make(chan struct{}), stopped: make(chan struct{}),
	}, nil
}

// Handle takes one delivery of task events and answers a status per event
// once each is written (SUCCESS), dead-lettered (SUCCESS) or to be
// redelivered (RETRY). It serves subscribe.BulkHandler.
func (a *Auditor) Handle(ctx context.Context, msgs []subscribe.Message) []subscribe.Status {
	d := &delivery{statuses: make([]subscribe.Status, len(msgs)), done: make(chan struct{})}
	received := a.now()
	for i, msg := range msgs {
		if reason := Invalid(msg); reason != "" {
			a.m.received.WithLabelValues("invalid").Inc() // no label per garbage type
			d.statuses[i] = a.deadLetter(msg.Context(ctx), newDeadLetter(reason, msg.CloudEvent, msg.EntryID, a.now()))
			continue
		}
		label := string(msg.Event.EventType)
		if !slices.Contains(EventTypes, msg.Event.EventType) {
			label = "other" // stored all the same; labels stay few
		}
		a.m.received.WithLabelValues(label).Inc()
		d.recs = append(d.recs, task.AuditRecordOf(msg.Event, msg.Data, received))
		d.raws = append(d.raws, msg)
		d.slots = append(d.slots, i)
	}
	if d.left = len(d.recs); d.left == 0 {
		return d.statuses
	}
	// retry answers RETRY for the queued events without touching what Run
	// may still be settling.
	retry := func() []subscribe.Status {
		out := make([]subscribe.Status, len(msgs))
		for i := range out {
			out[i] = subscribe.Retry
			if !slices.Contains(d.slots, i) {
				out[i] = d.statuses[i]
			}
		}
		return out
	}
	select {
	case a.in <- d:
	case <-a.stopped:
		return retry() // shut down: another instance (or this one, restarted) takes them
	case <-ctx.Done():
		return retry()
	}
	select {
	case <-d.done:
		return d.statuses
	case <-ctx.Done():
		// Dapr gave up on this request and redelivers; the batch may still
		// commit, and the redelivery is then stored once.
		return retry()
	}
}

// Invalid says why a delivered event can never be an audit record (nor a
// notification), or "" when it has what every task event has.
func Invalid(msg subscribe.Message) string {
	ev := msg.Event
	var missing []string
	if ev.EventID == uuid.Nil {
		missing = append(missing, "event_id")
	}
	if !strings.HasPrefix(string(ev.EventType), "task.") {
		missing = append(missing, "event_type (task.*)")
	}
	if ev.TaskID == uuid.Nil {
		missing = append(missing, "task_id")
	}
	if ev.UserID == "" {
		missing = append(missing, "user_id")
	}
	if ev.OccurredAt.IsZero() {
		missing = append(missing, "occurred_at")
	}
	if len(missing) > 0 {
		return "not a task event: missing " + strings.Join(missing, ", ")
	}
	return ""
}

// Run writes deliveries until Close (or ctx's end) and returns once the
// last batch is settled. Batches form by group commit: Dapr collects each
// delivery (up to BatchSize events or BatchWait, the bulk subscription's
// settings), and while one batch is being written the deliveries that
// arrive meanwhile gather into the next, up to BatchSize events. A
// delivery is never held back waiting for company: every partition's
// next delivery waits for this one's acknowledgement.
func (a *Auditor) Run(ctx context.Context) {
	defer close(a.stopped)
	done := ctx.Done()
	var pending []slot
	take := func(d *delivery) {
		for i := range d.recs {
			pending = append(pending, slot{d, i})
		}
	}
	stopping := false
	for {
		if len(pending) == 0 && !stopping {
			select {
			case d := <-a.in:
				take(d)
			case <-done:
				done = nil
				a.Close()
				continue
			case <-a.stop:
				stopping = true
			}
		}
	gather:
		for stopping || len(pending) < a.cfg.BatchSize {
			select {
			case d := <-a.in:
				take(d)
			default:
				break gather
			}
		}
		a.m.pending.Set(float64(len(pending)))
		if len(pending) == 0 {
			return // stopping, and nothing left
		}
		if stopping {
			a.log.Info("flushing the last batch", "events", len(pending))
		}
		n := min(len(pending), a.cfg.BatchSize)
		a.flush(pending[:n])
		pending = pending[n:]
		if len(pending) == 0 {
			pending = nil
		}
		a.m.pending.Set(float64(len(pending)))
		if !stopping {
			select {
			case <-a.stop:
				stopping = true
			default:
			}
		}
	}
}

// Close makes Run write what it holds and what is being handed to it
// meanwhile, then return; see Stopped. Deliveries after that are
// answered RETRY.
func (a *Auditor) Close() {
	a.once.Do(func() { close(a.stop) })
}

// Stopped is closed once Run has flushed its last batch and returned.
func (a *Auditor) Stopped() <-chan struct{} { return a.stopped }

// flush writes slots as one batch; a rejected batch is split until the
// records at fault are alone, and those are dead-lettered.
func (a *Auditor) flush(slots []slot) {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.WriteTimeout)
	defer cancel()
	start := a.now()
	recs := make([]task.AuditRecord, len(slots))
	for i, s := range slots {
		recs[i] = s.d.recs[s.i]
	}
	n, err := a.store.Write(ctx, recs)
	a.m.writeSeconds.Observe(a.now().Sub(start).Seconds())
	switch {
	case err == nil:
		a.m.batches.WithLabelValues("written").Inc()
		a.m.batchSize.Observe(float64(len(slots)))
		a.m.written.Add(float64(n))
		a.m.duplicates.Add(float64(len(slots) - n))
		for _, s := range slots {
			s.d.settle(s.i, subscribe.Success)
		}
	case errors.Is(err, postgres.ErrAuditRejected) && len(slots) > 1:
		a.m.batches.WithLabelValues("split").Inc()
		a.log.Warn("audit batch rejected; splitting it to find the events at fault", "events", len(slots), batchRefs(slots), "error", err)
		half := len(slots) / 2
		a.flush(slots[:half])
		a.flush(slots[half:])
	case errors.Is(err, postgres.ErrAuditRejected):
		a.m.batches.WithLabelValues("rejected").Inc()
		s := slots[0]
		msg := s.d.raws[s.i]
		s.d.settle(s.i, a.deadLetter(msg.Context(ctx), newDeadLetter("rejected by the audit log: "+err.Error(), msg.CloudEvent, msg.EntryID, a.now())))
	default:
		a.m.batches.WithLabelValues("failed").Inc()
		a.log.Error("audit batch failed; its events will be redelivered", "events", len(slots), batchRefs(slots), "error", err)
		for _, s := range slots {
			s.d.settle(s.i, subscribe.Retry)
		}
	}
}

// batchRefs names the traces and correlation ids of (the first) events
// of a batch, for a log line about the whole batch.
func batchRefs(slots []slot) slog.Attr {
	msgs := make([]subscribe.Message, 0, min(len(slots), subscribe.RefsListed))
	for _, s := range slots[:cap(msgs)] {
		msgs = append(msgs, s.d.raws[s.i])
	}
	return subscribe.Refs(msgs)
}

// deadLetter publishes dl and answers SUCCESS, or RETRY if it could not.
// ctx is the message's (subscribe.Message.Context): its log lines and the
// publish carry the message's trace and correlation id.
func (a *Auditor) deadLetter(ctx context.Context, dl DeadLetter) subscribe.Status {
	if err := a.dlq.DeadLetter(ctx, dl); err != nil {
		a.m.deadLettered.WithLabelValues("failed").Inc()
		a.log.ErrorContext(ctx, "cannot dead-letter a message; it will be redelivered", "reason", dl.Reason, "event_id", dl.EventID, "error", err)
		return subscribe.Retry
	}
	a.m.deadLettered.WithLabelValues("sent").Inc()
	a.log.WarnContext(ctx, "dead-lettered a message", "reason", dl.Reason, "event_id", dl.EventID, "entry_id", dl.EntryID)
	return subscribe.Success
}

type metrics struct {
	received     *prometheus.CounterVec
	batches      *prometheus.CounterVec
	batchSize    prometheus.Histogram
	writeSeconds prometheus.Histogram
	written      prometheus.Counter
	duplicates   prometheus.Counter
	deadLettered *prometheus.CounterVec
	pending      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (metrics, error) {
	m := metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskflow_auditor_events_received_total", Help: "Task events received from the topic, by type.",
		}, []string{"type"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskflow_auditor_batches_total", Help: "Batch writes by outcome: written, split (rejected, retried in halves), rejected (one event, dead-lettered), failed (redelivered).",
		}, []string{"outcome"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "taskflow_auditor_batch_events", Help: "Events per written batch.",
			Buckets: []float64{1, 5, 10, 25, 50, 100, 250, 500, 1000},
		}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "taskflow_auditor_write_seconds", Help: "Time to write one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taskflow_auditor_events_written_total", Help: "Events appended to the audit log.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taskflow_auditor_events_duplicate_total", Help: "Redelivered events found stored already.",
		}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskflow_auditor_dead_letters_total", Help: "Messages sent to the dead-letter topic (sent), or not (failed: redelivered).",
		}, []string{"result"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "taskflow_auditor_pending_events", Help: "Events waiting for their batch to be written.",
		}),
	}
	for _, c := range []prometheus.Collector{m.received, m.batches, m.batchSize, m.writeSeconds, m.written, m.duplicates, m.deadLettered, m.pending} {
		if err := reg.Register(c); err != nil {
			return metrics{}, err
		}
	}
	return m, nil
}

// Undecodable dead-letters a delivered message that is not a task event.
// It serves subscribe.OnUndecodable.
func (a *Auditor) Undecodable(ctx context.Context, entryID string, raw []byte, err error) subscribe.Status {
	return a.deadLetter(ctx, newDeadLetter("not a task event: "+err.Error(), raw, entryID, a.now()))
}
