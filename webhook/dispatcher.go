package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// Store is the delivery queue the Dispatcher works (postgres.Webhooks).
type Store interface {
	// Claim leases up to n webhooks with a delivery due to owner.
	Claim(ctx context.Context, owner uuid.UUID, n int, lease time.Duration) ([]uuid.UUID, error)
	// Next returns the held webhook's oldest due delivery.
	Next(ctx context.Context, webhookID, owner uuid.UUID) (Job, bool, error)
	// Record stores an attempt's result and renews the lease.
	Record(ctx context.Context, j Job, res Result, lease time.Duration, decide func(attempts, failures int) Decision) (Recorded, error)
	// Release ends the lease.
	Release(ctx context.Context, webhookID, owner uuid.UUID) error
	// Purge deletes up to limit finished deliveries created before before.
	Purge(ctx context.Context, before time.Time, limit int) (int64, error)
}

// Config tunes the Dispatcher; cmd/auditor reads it from WEBHOOK_*.
type Config struct {
	Policy
	// Timeout bounds one attempt, connecting to reading the answer's
	// head (WEBHOOK_TIMEOUT).
	Timeout time.Duration
	// Concurrency is how many webhooks one dispatcher serves at once
	// (WEBHOOK_CONCURRENCY); each webhook gets one request at a time.
	Concurrency int
	// PollInterval is how often it looks for due deliveries when not
	// kicked (retries, and deliveries another replica enqueued)
	// (WEBHOOK_POLL_INTERVAL).
	PollInterval time.Duration
	// AllowPrivate lets deliveries reach loopback, private and link-local
	// addresses (WEBHOOK_ALLOW_PRIVATE): local runs and tests only.
	AllowPrivate bool
	// Retention: finished deliveries older than this are deleted
	// (RETENTION_DAYS).
	Retention time.Duration
}

// DefaultConfig is the production setting.
var DefaultConfig = Config{Policy: DefaultPolicy, Timeout: 10 * time.Second, Concurrency: 8,
	PollInterval: time.Second, Retention: 30 * 24 * time.Hour}

// Validate reports every unusable setting at once.
func (c Config) Validate() error {
	errs := []error{c.Policy.Validate()}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("WEBHOOK_TIMEOUT must be positive"))
	}
	if c.Concurrency < 1 {
		errs = append(errs, errors.New("WEBHOOK_CONCURRENCY must be at least 1"))
	}
	if c.PollInterval <= 0 {
		errs = append(errs, errors.New("WEBHOOK_POLL_INTERVAL must be positive"))
	}
	if c.Retention <= 0 {
		errs = append(errs, errors.New("the delivery retention must be positive"))
	}
	return errors.Join(errs...)
}

// perLease bounds the deliveries sent to one webhook before it is
// released, so that a busy webhook does not keep a worker to itself.
const perLease = 100

// maxAnswerRead is how much of an answer is read (and thrown away, but
// for the start of an error answer, kept as the attempt's error).
const maxAnswerRead = 64 << 10

// Dispatcher POSTs due deliveries: each webhook it holds gets one request
// at a time, oldest delivery first, and after a failure nothing until
// the webhook's retry time, so an endpoint that is down gets one probe at
// a time. Several dispatchers (auditor replicas) share the queue through
// leases. Kick and Run are safe for concurrent use; Run runs once.
type Dispatcher struct {
	cfg    Config
	store  Store
	client *http.Client
	log    *slog.Logger
	m      dispatchMetrics
	owner  uuid.UUID
	lease  time.Duration
	now    func() time.Time
	jitter func() float64

	kick chan struct{}
	free chan struct{} // a worker finished
}

// New returns a Dispatcher on store whose metrics are registered on reg.
func New(cfg Config, store Store, reg prometheus.Registerer, logger *slog.Logger) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newDispatchMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Dispatcher{
		cfg: cfg, store: store, client: NewClient(cfg.Timeout, cfg.AllowPrivate), log: logger.With("component", "webhooks"),
		m: m, owner: uuid.New(), lease: 2*cfg.Timeout + 30*time.Second, now: time.Now, jitter: rand.Float64,
		kick: make(chan struct{}, 1), free: make(chan struct{}, 1),
	}, nil
}

// Kick makes Run look for due deliveries now (new ones were enqueued). It
// never blocks.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run dispatches until ctx is done, then lets the attempts in flight
// finish (each within Timeout), records them and returns.
func (d *Dispatcher) Run(ctx context.Context) {
	d.log.InfoContext(ctx, "webhook dispatcher running", "concurrency", d.cfg.Concurrency, "timeout", d.cfg.Timeout.String(),
		"retry_base", d.cfg.RetryBase.String(), "retry_max", d.cfg.RetryMax.String(), "max_failures", d.cfg.MaxFailures,
		"allow_private", d.cfg.AllowPrivate)
	var wg sync.WaitGroup
	defer wg.Wait()
	busy := make(chan struct{}, d.cfg.Concurrency)
	nextPurge := d.now()
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		if n := cap(busy) - len(busy); n > 0 {
			ids, err := d.store.Claim(ctx, d.owner, n, d.lease)
			if err != nil && ctx.Err() == nil {
				d.log.WarnContext(ctx, "cannot claim webhooks; retrying", "error", err)
			}
			for _, id := range ids {
				busy <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					d.serve(ctx, id)
					<-busy
					select {
					case d.free <- struct{}{}:
					default:
					}
				}()
			}
		}
		if now := d.now(); !now.Before(nextPurge) && ctx.Err() == nil {
			nextPurge = now.Add(time.Hour)
			d.purge(ctx, now.Add(-d.cfg.Retention))
		}
		poll.Reset(d.cfg.PollInterval)
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		case <-d.free:
		case <-poll.C:
		}
	}
}

// purge deletes finished deliveries created before before, in batches.
func (d *Dispatcher) purge(ctx context.Context, before time.Time) {
	const batch = 5000
	var total int64
	for ctx.Err() == nil {
		n, err := d.store.Purge(ctx, before, batch)
		if err != nil {
			d.log.WarnContext(ctx, "cannot purge old webhook deliveries; trying again in an hour", "error", err)
			break
		}
		if total += n; n < batch {
			break
		}
	}
	if total > 0 {
		d.log.InfoContext(ctx, "purged old webhook deliveries", "count", total, "before", before)
	}
}

// serve sends the held webhook's due deliveries one at a time until none
// is due, one fails, perLease are sent or ctx ends, then releases it.
func (d *Dispatcher) serve(ctx context.Context, webhookID uuid.UUID) {
	// Shutdown stops the loop, not an attempt under way: it is recorded.
	bg := context.WithoutCancel(ctx)
	defer func() {
		if err := d.store.Release(bg, webhookID, d.owner); err != nil {
			d.log.WarnContext(ctx, "cannot release a webhook; its lease runs out", "webhook_id", webhookID, "error", err)
		}
	}()
	for range perLease {
		if ctx.Err() != nil {
			return
		}
		job, ok, err := d.store.Next(ctx, webhookID, d.owner)
		if err != nil {
			if ctx.Err() == nil {
				d.log.WarnContext(ctx, "cannot read a webhook's next delivery", "webhook_id", webhookID, "error", err)
			}
			return
		}
		if !ok {
			return
		}
		res := d.Send(bg, job)
		rec, err := d.store.Record(bg, job, res, d.lease, func(attempts, failures int) Decision {
			return d.cfg.AfterFailure(d.now(), attempts, failures, res, d.jitter)
		})
		if err != nil {
			// The attempt goes unrecorded: the delivery stays due and is
			// sent again once the lease runs out (at least once).
			d.log.ErrorContext(ctx, "cannot record a webhook attempt", "webhook_id", webhookID, "delivery_id", job.Delivery, "error", err)
			return
		}
		d.observe(ctx, job, res, rec)
		if !res.OK || !rec.LeaseHeld || rec.Gone {
			return
		}
	}
}

func (d *Dispatcher) observe(ctx context.Context, job Job, res Result, rec Recorded) {
	log := d.log.With("webhook_id", job.Webhook, "delivery_id", job.Delivery, "event_type", job.EventType,
		"status", res.Status, "error", res.Error)
	if rec.GaveUp {
		d.m.gaveUp.Inc()
		log.WarnContext(ctx, "webhook delivery failed for good", "attempts", d.cfg.MaxFailures)
	}
	if rec.Disabled {
		d.m.disabled.Inc()
		log.WarnContext(ctx, "webhook disabled after failed attempts in a row", "max_failures", d.cfg.MaxFailures)
	}
	if !res.OK && !rec.GaveUp && !rec.Disabled {
		log.InfoContext(ctx, "webhook attempt failed; retrying later")
	}
	if !rec.LeaseHeld && !rec.Gone {
		log.WarnContext(ctx, "lost a webhook's lease to another dispatcher")
	}
}

// UserAgent is sent with every delivery.
const UserAgent = "TaskFlow-Webhooks/1"

// Send makes one attempt of job: a POST of its payload, signed now.
func (d *Dispatcher) Send(ctx context.Context, job Job) Result {
	start := d.now()
	res := d.send(ctx, job, start)
	d.m.seconds.Observe(d.now().Sub(start).Seconds())
	outcome := "delivered"
	switch {
	case res.OK:
	case res.Status != 0:
		outcome = "http_error"
	case strings.HasPrefix(res.Error, "refused"):
		outcome = "refused"
	default:
		outcome = "network_error"
	}
	d.m.attempts.WithLabelValues(outcome).Inc()
	return res
}

func (d *Dispatcher) send(ctx context.Context, job Job, at time.Time) Result {
	res := Result{At: at}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, job.URL, bytes.NewReader(job.Payload))
	if err != nil {
		res.Error = "the URL cannot be requested: " + err.Error()
		return res
	}
	ts := at.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderID, job.Delivery.String())
	req.Header.Set(HeaderEvent, job.EventType)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(job.Secret, ts, job.Payload))
	resp, err := d.client.Do(req)
	if err != nil {
		res.Error = describe(err, d.cfg.Timeout)
		return res
	}
	defer resp.Body.Close()
	res.Status = resp.StatusCode
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerRead))
	if res.OK = resp.StatusCode >= 200 && resp.StatusCode < 300; !res.OK {
		res.Error = "HTTP " + strconv.Itoa(resp.StatusCode)
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			res.Error += " (redirects are not followed)"
		}
		if s := printable(head); s != "" {
			res.Error += ": " + s
		}
	}
	return res
}

// describe says why a request got no answer, without Go's wrapping.
func describe(err error, timeout time.Duration) string {
	switch {
	case errors.As(err, new(*refusedError)):
		// Not the address: a user must not map the internal network
		// through their deliveries' errors.
		return "refused: the URL does not lead to a public address; webhooks reach public addresses only"
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("no answer within %s", timeout)
	case errors.As(err, new(*net.DNSError)):
		return "connection failed: the host name did not resolve"
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		err = ue.Unwrap() // *url.Error repeats the method and URL
	}
	return "connection failed: " + err.Error()
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// printable is the start of an answer body as one line of text.
func printable(b []byte) string {
	s := strings.ToValidUTF8(string(b), "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

type dispatchMetrics struct {
	attempts *prometheus.CounterVec
	seconds  prometheus.Histogram
	gaveUp   prometheus.Counter
	disabled prometheus.Counter
}

func newDispatchMetrics(reg prometheus.Registerer) (dispatchMetrics, error) {
	m := dispatchMetrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskflow_webhook_attempts_total",
			Help: "Webhook delivery attempts by outcome: delivered (2xx), http_error (another status), network_error (no answer), refused (a non-public address).",
		}, []string{"outcome"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "taskflow_webhook_attempt_seconds", Help: "Time of one webhook delivery attempt.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		gaveUp: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taskflow_webhook_deliveries_failed_total", Help: "Webhook deliveries given up after WEBHOOK_MAX_FAILURES attempts.",
		}),
		disabled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taskflow_webhooks_disabled_total", Help: "Webhooks disabled after WEBHOOK_MAX_FAILURES failed attempts in a row.",
		}),
	}
	for _, outcome := range []string{"delivered", "http_error", "network_error", "refused"} {
		m.attempts.WithLabelValues(outcome)
	}
	for _, c := range []prometheus.Collector{m.attempts, m.seconds, m.gaveUp, m.disabled} {
		if err := reg.Register(c); err != nil {
			return dispatchMetrics{}, err
		}
	}
	return m, nil
}
