// Package outbox publishes the events that task writes commit into the
// outbox table. One relay in the cluster is active at a time: it holds a
// lease in PostgreSQL (outbox_lease) that expires unless renewed, so a
// leader that dies or hangs, however its connections end, is replaced
// within about the lease's TTL; each takeover increments the lease's
// fencing epoch, and a deposed leader's deletes are refused. The active
// relay publishes unsent rows in id order and deletes them; a task's
// events reach the topic in version order: a task's later event is never
// handed to the broker before its earlier one was acknowledged. A row that
// keeps failing goes to the dead-letter topic after MaxAttempts instead of
// holding the relay back (after that, its task's later events go on).
// Publishing is at least once: a crash between publishing and deleting
// re-publishes on restart, and consumers drop duplicates by event_id.
package outbox

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/taskflow/taskflow/auditor"
	"github.com/taskflow/taskflow/postgres"
)

// Publisher sends a batch of outbox messages, in order, to the broker. It
// returns the ids that failed (those are retried); a non-nil error with no
// ids means the whole batch failed.
type Publisher interface {
	Publish(ctx context.Context, msgs []postgres.Message) (failed map[int64]error, err error)
}

// DeadLetterer takes the events the relay gives up on;
// auditor.DaprDeadLetters publishes them to auditor.DeadLetterTopic, from
// where the auditor files them in the ops view's dead letters.
type DeadLetterer interface {
	DeadLetter(ctx context.Context, dl auditor.DeadLetter) error
}

// DeadLetterSubscriber names the relay in the dead letters it sends.
const DeadLetterSubscriber = "outbox-relay"

// Store is what the relay needs from the database.
type Store interface {
	// TryLease takes the leadership for ttl if it is free; holder is
	// unique to the relay.
	TryLease(ctx context.Context, holder string, ttl time.Duration) (*postgres.Lease, bool, error)
	Purge(ctx context.Context, keysBefore time.Time) (int64, error)
	// Stats reports the rows waiting to be published and the age of the
	// oldest one (zero when none wait).
	Stats(ctx context.Context) (pending int64, oldest time.Duration, err error)
}

// Config tunes the relay. The zero value of a field means its default.
type Config struct {
	BatchSize    int           // messages per publish; default 500
	PollInterval time.Duration // idle poll for rows committed by other replicas; default 100ms
	LeaseRetry   time.Duration // how often a standby relay tries to take over; default 2s
	// LeaseTTL is how long the leadership lasts unless renewed (the leader
	// renews every third of it): a leader that dies or hangs is replaced
	// within about LeaseTTL + LeaseRetry. Default 10s.
	LeaseTTL time.Duration
	// MaxAttempts is how many failed publishes of a row the relay makes
	// before it sends the row to the dead-letter topic; default 10.
	MaxAttempts    int
	IdempotencyTTL time.Duration // how long Idempotency-Keys replay; default 24h
	PurgeInterval  time.Duration // default 1m
	StatsInterval  time.Duration // how often the backlog gauges are refreshed; default 5s
	// CrashBeforePublish makes the process exit after fetching a batch and
	// before publishing it: a failpoint for the crash-recovery test.
	CrashBeforePublish bool
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.BatchSize == 0 {
		c.BatchSize = 500
	}
	def(&c.PollInterval, 100*time.Millisecond)
	def(&c.LeaseRetry, 2*time.Second)
	def(&c.LeaseTTL, 10*time.Second)
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 10
	}
	def(&c.IdempotencyTTL, 24*time.Hour)
	def(&c.PurgeInterval, time.Minute)
	def(&c.StatsInterval, 5*time.Second)
	return c
}

// Validate reports every invalid setting.
func (c Config) Validate() error {
	var errs []error
	if c.BatchSize < 0 || c.BatchSize > 10_000 {
		errs = append(errs, fmt.Errorf("outbox batch size %d: must be between 1 and 10000", c.BatchSize))
	}
	for name, d := range map[string]time.Duration{"poll interval": c.PollInterval, "lease retry": c.LeaseRetry,
		"idempotency TTL": c.IdempotencyTTL, "purge interval": c.PurgeInterval, "stats interval": c.StatsInterval} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("outbox %s %v: must not be negative", name, d))
		}
	}
	if c.LeaseTTL < 0 || (c.LeaseTTL > 0 && c.LeaseTTL < 300*time.Millisecond) {
		errs = append(errs, fmt.Errorf("outbox lease TTL %v: must be at least 300ms", c.LeaseTTL))
	}
	if c.MaxAttempts < 0 || c.MaxAttempts > 1000 {
		errs = append(errs, fmt.Errorf("outbox max attempts %d: must be between 1 and 1000", c.MaxAttempts))
	}
	return errors.Join(errs...)
}

// Relay moves outbox rows to the broker. Run it once per process; Kick is
// safe to call from any goroutine.
type Relay struct {
	cfg     Config
	store   Store
	pub     Publisher
	dlq     DeadLetterer
	holder  string // this relay's name in outbox_lease
	log     *slog.Logger
	kick    chan struct{}
	leading atomic.Bool // holds the lease (what the leader gauge shows)
	metrics metrics
}

type metrics struct {
	published prometheus.Counter
	failed    prometheus.Counter
	dead      prometheus.Counter
	batch     prometheus.Histogram
	lag       prometheus.Histogram
	publish   prometheus.Histogram
	leader    prometheus.Gauge
	pending   prometheus.Gauge
	oldest    prometheus.Gauge
}

// New returns a Relay that publishes with pub and dead-letters with dlq.
// Metrics are registered on reg.
func New(cfg Config, store Store, pub Publisher, dlq DeadLetterer, reg prometheus.Registerer, logger *slog.Logger) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dlq == nil {
		return nil, errors.New("outbox relay: no dead-letter path")
	}
	r := &Relay{
		cfg:    cfg.withDefaults(),
		store:  store,
		pub:    pub,
		dlq:    dlq,
		holder: holderName(),
		log:    logger.With("component", "outbox"),
		kick:   make(chan struct{}, 1),
		metrics: metrics{
			published: prometheus.NewCounter(prometheus.CounterOpts{Name: "taskflow_outbox_published_total", Help: "Outbox events published."}),
			failed:    prometheus.NewCounter(prometheus.CounterOpts{Name: "taskflow_outbox_publish_failures_total", Help: "Outbox events whose publish failed (and will be retried, or dead-lettered)."}),
			dead: prometheus.NewCounter(prometheus.CounterOpts{Name: "taskflow_outbox_dead_lettered_total",
				Help: "Outbox events the relay gave up on after its maximum attempts: sent to the dead-letter topic and deleted from the outbox."}),
			batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "taskflow_outbox_batch_size", Help: "Events per publish batch.", Buckets: prometheus.ExponentialBuckets(1, 2, 11)}),
			lag:   prometheus.NewHistogram(prometheus.HistogramOpts{Name: "taskflow_outbox_lag_seconds", Help: "Time from commit to publish.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}),
			publish: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "taskflow_outbox_publish_seconds",
				Help: "Duration of one publish call (a batch, through the sidecar, to the broker's acknowledgement).", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
			leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "taskflow_outbox_leader", Help: "1 while this replica's relay is the active one."}),
			pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "taskflow_outbox_pending",
				Help: "Outbox rows committed and not yet published (refreshed every stats interval)."}),
			oldest: prometheus.NewGauge(prometheus.GaugeOpts{Name: "taskflow_outbox_oldest_age_seconds",
				Help: "Age of the oldest unpublished outbox row: how far the broker lags behind the database (0 when none wait)."}),
		},
	}
	for _, c := range []prometheus.Collector{r.metrics.published, r.metrics.failed, r.metrics.dead, r.metrics.batch, r.metrics.lag,
		r.metrics.publish, r.metrics.leader, r.metrics.pending, r.metrics.oldest} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register outbox metrics: %w", err)
		}
	}
	return r, nil
}

// Kick wakes the relay: a task write committed a row. It never blocks.
func (r *Relay) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Leading reports whether this relay holds the lease (is the active one):
// work one replica should do, like the retention purge, can follow it. A
// takeover may make two replicas answer true for a moment. Safe for
// concurrent use.
func (r *Relay) Leading() bool { return r.leading.Load() }

// holderName is unique to the process: a restarted relay waits for its
// predecessor's lease to expire rather than taking it as its own.
func holderName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "/" + strconv.Itoa(os.Getpid()) + "/" + hex.EncodeToString(b[:])
}

// Run relays until ctx is done. It returns nil on cancellation.
func (r *Relay) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { r.purgeLoop(ctx); return nil })
	g.Go(func() error { r.statsLoop(ctx); return nil })
	g.Go(func() error {
		for ctx.Err() == nil {
			lease, ok, err := r.store.TryLease(ctx, r.holder, r.cfg.LeaseTTL)
			if err != nil && ctx.Err() == nil {
				r.log.WarnContext(ctx, "outbox relay cannot reach the database", "error", err)
			}
			if ok {
				r.log.InfoContext(ctx, "outbox relay is active", "holder", r.holder, "epoch", lease.Epoch())
				r.metrics.leader.Set(1)
				r.leading.Store(true)
				err := r.lead(ctx, lease)
				r.leading.Store(false)
				r.metrics.leader.Set(0)
				if rerr := lease.Release(); rerr != nil && err == nil {
					err = rerr
				}
				if err != nil && ctx.Err() == nil {
					r.log.WarnContext(ctx, "outbox relay lost its lease", "holder", r.holder, "error", err)
				}
			}
			wait(ctx, r.cfg.LeaseRetry, nil)
		}
		return nil
	})
	return g.Wait()
}

// errLeaseExpired: the leader could not renew in time.
var errLeaseExpired = errors.New("outbox relay lease expired before it was renewed")

// lead publishes while it holds lease. It renews the lease every third of
// its TTL, between cycles, so a leader that hangs stops renewing; each
// cycle (fetch, publish, dead letters) must end by the lease's expiry, and
// ends the leadership if it does not. It returns when the lease is lost,
// cannot be renewed, or ctx is done.
func (r *Relay) lead(ctx context.Context, lease *postgres.Lease) error {
	renewEvery := r.cfg.LeaseTTL / 3
	backoff := time.Duration(0)
	var retryAt time.Time // no publishing before this, after a failure
	for ctx.Err() == nil {
		renewAt := lease.Until().Add(renewEvery - r.cfg.LeaseTTL)
		if !time.Now().Before(renewAt) {
			if err := lease.Renew(ctx); err != nil {
				return err
			}
			renewAt = lease.Until().Add(renewEvery - r.cfg.LeaseTTL)
		}
		if !time.Now().Before(lease.Until()) {
			return errLeaseExpired
		}
		if d := time.Until(retryAt); d > 0 {
			wait(ctx, min(d, time.Until(renewAt)), nil)
			continue
		}
		// Nothing of this cycle may outlive the lease.
		cycle, cancel := context.WithDeadline(ctx, lease.Until())
		msgs, err := lease.Fetch(cycle, r.cfg.BatchSize)
		if err != nil {
			cancel()
			return err
		}
		if len(msgs) == 0 {
			cancel()
			wait(ctx, min(r.cfg.PollInterval, time.Until(renewAt)), r.kick)
			continue
		}
		if r.cfg.CrashBeforePublish {
			r.log.ErrorContext(ctx, "failpoint outbox-before-publish: exiting before publishing", "batch", len(msgs))
			os.Exit(3)
		}
		out := r.publish(cycle, msgs)
		// Failures that the end of the cycle caused are not the rows' own.
		var retry []int64
		done := make([]int64, 0, len(msgs))
		now := time.Now()
		for _, m := range out.sent {
			done = append(done, m.ID)
			r.metrics.lag.Observe(now.Sub(m.CreatedAt).Seconds())
		}
		dead, dlqDown := 0, false
		if cycle.Err() == nil {
			for _, f := range out.failed {
				if f.msg.Attempts+1 >= r.cfg.MaxAttempts && !dlqDown {
					if r.deadLetter(cycle, f) {
						done = append(done, f.msg.ID)
						dead++
						continue
					}
					dlqDown = true // most likely down for the others too: next cycle
				}
				retry = append(retry, f.msg.ID)
			}
		}
		cancel()
		// Settle even if ctx was cancelled meanwhile: those events are out.
		// (Settle is fenced: it fails if the lease was taken over.)
		markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err = lease.Settle(markCtx, done, retry)
		cancel()
		if err != nil {
			return err
		}
		r.metrics.published.Add(float64(len(out.sent)))
		r.metrics.dead.Add(float64(dead))
		r.metrics.failed.Add(float64(len(out.failed)))
		r.metrics.batch.Observe(float64(len(msgs)))
		if len(retry) > 0 {
			backoff = min(max(2*backoff, 50*time.Millisecond), 5*time.Second)
			retryAt = time.Now().Add(backoff)
			r.log.WarnContext(ctx, "publishing outbox events failed; retrying", "failed", len(retry), "held_back", out.held,
				"batch", len(msgs), "retry_in", backoff, "error", out.err)
			continue
		}
		if out.held > 0 && ctx.Err() == nil {
			r.log.InfoContext(ctx, "outbox events held back behind their task's failed event; retrying",
				"held_back", out.held, "batch", len(msgs), "error", out.err)
		}
		backoff = 0
	}
	return nil
}

// outcome is what one cycle's publishing did with a batch.
type outcome struct {
	sent   []postgres.Message
	failed []failure // the messages that failed themselves, in id order
	held   int       // messages not handed over: their task's earlier one failed, or the cycle ended
	err    error     // the first error
}

type failure struct {
	msg postgres.Message
	err error
}

// publish hands msgs over in rounds: round k holds the k-th message of
// each task in the batch, so a task's message goes to the broker only
// after its earlier ones were acknowledged. When one fails, the task's
// later messages are held back (not sent, not failed: they are fetched
// again next cycle), so the task's events never reach the topic out of
// order, not even with duplicates. Most batches hold one message a task:
// one round.
func (r *Relay) publish(ctx context.Context, msgs []postgres.Message) outcome {
	var rounds [][]postgres.Message
	nth := make(map[uuid.UUID]int, len(msgs))
	for _, m := range msgs {
		k := nth[m.TaskID]
		nth[m.TaskID] = k + 1
		if k == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[k] = append(rounds[k], m)
	}
	var out outcome
	blocked := map[uuid.UUID]bool{}
	for _, round := range rounds {
		batch := make([]postgres.Message, 0, len(round))
		for _, m := range round {
			if blocked[m.TaskID] || ctx.Err() != nil {
				out.held++
				continue
			}
			batch = append(batch, m)
		}
		if len(batch) == 0 {
			continue
		}
		start := time.Now()
		failed, err := r.pub.Publish(ctx, batch)
		r.metrics.publish.Observe(time.Since(start).Seconds())
		if err != nil && out.err == nil {
			out.err = err
		}
		for _, m := range batch {
			ferr, bad := failed[m.ID]
			if !bad && err != nil && len(failed) == 0 { // the whole call failed
				bad = true
			}
			if bad {
				blocked[m.TaskID] = true
				out.failed = append(out.failed, failure{msg: m, err: cmp.Or(ferr, err, errNotPublished)})
				continue
			}
			out.sent = append(out.sent, m)
		}
	}
	return out
}

// deadLetter sends f's message to the dead-letter topic and reports
// whether it went; a message that did not stays in the outbox, retried.
func (r *Relay) deadLetter(ctx context.Context, f failure) bool {
	m := f.msg
	attempts := m.Attempts + 1
	dl := auditor.DeadLetter{
		Reason:     fmt.Sprintf("not published after %d attempts: %v", attempts, f.err),
		Subscriber: DeadLetterSubscriber,
		Topic:      m.Topic,
		EntryID:    strconv.FormatInt(m.ID, 10),
		EventID:    m.EventID.String(),
		FailedAt:   time.Now().UTC(),
	}
	if json.Valid(m.Payload) {
		dl.Message = json.RawMessage(m.Payload)
	} else {
		dl.MessageBase64 = base64.StdEncoding.EncodeToString(m.Payload)
	}
	log := r.log.With("event_id", m.EventID, "task_id", m.TaskID, "topic", m.Topic, "outbox_id", m.ID, "attempts", attempts)
	if err := r.dlq.DeadLetter(ctx, dl); err != nil {
		log.ErrorContext(ctx, "an outbox event failed its last attempt and cannot be dead-lettered either; it stays in the outbox",
			"error", f.err, "dead_letter_error", err)
		return false
	}
	log.ErrorContext(ctx, "outbox event dead-lettered: the relay gave up publishing it", "topic_dlq", auditor.DeadLetterTopic, "error", f.err)
	return true
}

func (r *Relay) purgeLoop(ctx context.Context) {
	t := time.NewTicker(r.cfg.PurgeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := time.Now()
			n, err := r.store.Purge(ctx, now.Add(-r.cfg.IdempotencyTTL))
			if err != nil && ctx.Err() == nil {
				r.log.WarnContext(ctx, "purging expired idempotency keys failed", "error", err)
			} else if n > 0 {
				r.log.DebugContext(ctx, "purged expired idempotency keys", "rows", n)
			}
		}
	}
}

// statsLoop refreshes the backlog gauges. Every replica runs it, leader or
// not, so the figure survives a failover; dashboards take the max.
func (r *Relay) statsLoop(ctx context.Context) {
	t := time.NewTicker(r.cfg.StatsInterval)
	defer t.Stop()
	for {
		pending, oldest, err := r.store.Stats(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.WarnContext(ctx, "reading the outbox backlog failed", "error", err)
			}
		} else {
			r.metrics.pending.Set(float64(pending))
			r.metrics.oldest.Set(oldest.Seconds())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// wait sleeps for d, or until ctx is done or wake fires.
func wait(ctx context.Context, d time.Duration, wake <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
	}
}
