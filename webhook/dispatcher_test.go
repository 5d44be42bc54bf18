package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
	"github.com/taskflow/taskflow/webhook"
)

// queue is a database with the webhook tables, an audit writer that
// enqueues into them, and dispatchers working them.
type queue struct {
	pool  *pgxpool.Pool
	store *postgres.Webhooks
	audit *postgres.Audit
	kicks []func()
	mu    sync.Mutex
}

func newQueue(t *testing.T) *queue {
	t.Helper()
	pool, _ := pgtest.NewPool(t)
	q := &queue{pool: pool, store: postgres.NewWebhooks(pool), audit: postgres.NewAudit(pool)}
	q.audit.EnqueueWebhooks(func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		for _, k := range q.kicks {
			k()
		}
	})
	return q
}

// testConfig retries after 20 ms, 60 ms, 100 ms, and disables after 3.
var testConfig = webhook.Config{
	Policy:  webhook.Policy{RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond, MaxFailures: 3},
	Timeout: 2 * time.Second, Concurrency: 4, PollInterval: 20 * time.Millisecond, AllowPrivate: true, Retention: time.Hour,
}

// dispatch runs a dispatcher on the queue until the test ends.
func (q *queue) dispatch(t *testing.T, cfg webhook.Config) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	d, err := webhook.New(cfg, q.store, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	q.mu.Lock()
	q.kicks = append(q.kicks, d.Kick)
	q.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return reg
}

func (q *queue) register(t *testing.T, user, url string, types ...string) (webhook.Webhook, string) {
	t.Helper()
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	w, err := q.store.Create(context.Background(), user, url, types, secret)
	if err != nil {
		t.Fatal(err)
	}
	return w, secret
}

// publish writes task events as the auditor does, returning them.
func (q *queue) publish(t *testing.T, tk task.Task, types ...task.EventType) []task.Event {
	t.Helper()
	var recs []task.AuditRecord
	var evs []task.Event
	for _, typ := range types {
		tk.Version++
		ev := task.NewEvent(typ, tk, []string{}, "corr", time.Now())
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, task.AuditRecordOf(ev, data, time.Now()))
		evs = append(evs, ev)
	}
	if _, err := q.audit.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	return evs
}

func newTask(user string) task.Task {
	now := time.Now().UTC()
	return task.Task{ID: uuid.Must(uuid.NewV7()), UserID: user, Title: "hooked", Priority: task.PriorityNone,
		Tags: []string{}, CreatedAt: now, UpdatedAt: now}
}

// received is one request a receiver got.
type received struct {
	path   string
	at     time.Time
	header http.Header
	body   []byte
	event  task.Event
}

// receiver is an HTTP endpoint that answers with status (200 when nil)
// and keeps what it got. Safe for concurrent use.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []received
	inFlight atomic.Int32
	maxIn    atomic.Int32
	status   atomic.Value // func(n int) (int, string)
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := r.inFlight.Add(1)
		defer r.inFlight.Add(-1)
		for {
			if m := r.maxIn.Load(); n <= m || r.maxIn.CompareAndSwap(m, n) {
				break
			}
		}
		body, _ := io.ReadAll(req.Body)
		var ev task.Event
		_ = json.Unmarshal(body, &ev)
		r.mu.Lock()
		r.got = append(r.got, received{path: req.URL.Path, at: time.Now(), header: req.Header.Clone(), body: body, event: ev})
		count := len(r.got)
		r.mu.Unlock()
		status, text := 200, "ok"
		if f, ok := r.status.Load().(func(int) (int, string)); ok {
			status, text = f(count)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, text)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDispatcherDeliversSignedEventsInOrder: each event the audit writer
// stores reaches the webhooks that want it, once, in order, as the event
// JSON with a signature the receiver verifies with its secret.
func TestDispatcherDeliversSignedEventsInOrder(t *testing.T) {
	t.Parallel()
	q := newQueue(t)
	q.dispatch(t, testConfig)
	rcv := newReceiver(t)
	all, secret := q.register(t, "ada", rcv.URL+"/all", "*")
	_, other := q.register(t, "ada", rcv.URL+"/completed", "task.completed")
	tk := newTask("ada")
	evs := q.publish(t, tk, task.EventCreated, task.EventUpdated)
	evs = append(evs, q.publish(t, tk, task.EventCompleted)...)
	q.publish(t, newTask("bob"), task.EventCreated) // bob has no webhooks

	eventually(t, "4 requests", func() bool { return len(rcv.requests()) >= 4 })
	var toAll []received
	for _, r := range rcv.requests() {
		key := map[string]string{"/all": secret, "/completed": other}[r.path]
		if err := webhook.Verify(key, r.header.Get(webhook.HeaderTimestamp), r.header.Get(webhook.HeaderSignature), r.body, time.Now(), time.Minute); err != nil {
			t.Fatalf("%s %s: %v", r.path, r.body, err)
		}
		if r.header.Get(webhook.HeaderEvent) != string(r.event.EventType) || r.header.Get("Content-Type") != "application/json" ||
			r.header.Get("User-Agent") != webhook.UserAgent {
			t.Errorf("headers %v for %s", r.header, r.event.EventType)
		}
		switch {
		case r.event.UserID != "ada":
			t.Errorf("%s's event was delivered to ada's webhook", r.event.UserID)
		case r.path == "/all":
			toAll = append(toAll, r)
		case r.event.EventType != task.EventCompleted:
			t.Errorf("%s delivered to a webhook for task.completed", r.event.EventType)
		}
	}
	if len(toAll) != 3 {
		t.Fatalf("%d deliveries to the * webhook, want 3", len(toAll))
	}
	for i, r := range toAll {
		if r.event.EventID != evs[i].EventID || r.event.Task.ID != tk.ID || r.event.Version != evs[i].Version {
			t.Errorf("delivery %d is %s v%d, want %s v%d", i, r.event.EventType, r.event.Version, evs[i].EventType, evs[i].Version)
		}
	}
	var ds []webhook.Delivery
	eventually(t, "the deliveries recorded", func() bool {
		var err error
		ds, err = q.store.Deliveries(context.Background(), "ada", all.ID, 10)
		return err == nil && !slices.ContainsFunc(ds, func(d webhook.Delivery) bool { return d.State == webhook.StatePending })
	})
	for _, d := range ds {
		if d.State != webhook.StateDelivered || d.Attempts != 1 || d.LastStatus == nil || *d.LastStatus != 200 || d.NextAttemptAt != nil {
			t.Errorf("delivery %+v", d)
		}
		if !slices.ContainsFunc(toAll, func(r received) bool { return r.header.Get(webhook.HeaderID) == d.ID.String() }) {
			t.Errorf("no request carried Webhook-Id %s", d.ID)
		}
	}
	w, err := q.store.Get(context.Background(), "ada", all.ID)
	if err != nil || w.LastSuccessAt == nil || w.ConsecutiveFailures != 0 || *w.LastStatus != 200 {
		t.Fatalf("webhook after success %+v %v", w, err)
	}
}

// TestDispatcherBacksOffThenDisables: an endpoint answering 500 gets one
// request at a time, each after a longer wait, until MaxFailures in a row
// disable the webhook and fail what was pending; re-enabled, it delivers
// new events again.
func TestDispatcherBacksOffThenDisables(t *testing.T) {
	t.Parallel()
	q := newQueue(t)
	reg := q.dispatch(t, testConfig)
	rcv := newReceiver(t)
	rcv.status.Store(func(int) (int, string) { return 500, "boom\n(stack trace)" })
	w, _ := q.register(t, "ada", rcv.URL, "*")
	q.publish(t, newTask("ada"), task.EventCreated, task.EventUpdated)

	ctx := context.Background()
	eventually(t, "the webhook disabled", func() bool {
		got, err := q.store.Get(ctx, "ada", w.ID)
		return err == nil && !got.Active
	})
	got, _ := q.store.Get(ctx, "ada", w.ID)
	if got.ConsecutiveFailures != 3 || got.LastStatus == nil || *got.LastStatus != 500 || got.DisabledReason == nil ||
		!strings.Contains(*got.DisabledReason, "3 failed attempts in a row") || !strings.Contains(*got.DisabledReason, "HTTP 500: boom (stack trace)") {
		t.Fatalf("disabled webhook %+v (reason %v)", got, deref(got.DisabledReason))
	}
	reqs := rcv.requests()
	if len(reqs) != 3 || rcv.maxIn.Load() != 1 {
		t.Fatalf("%d requests, %d at once at most; want 3, one at a time", len(reqs), rcv.maxIn.Load())
	}
	// The first delivery was the probe every time; the waits grew.
	for i, r := range reqs {
		if r.header.Get(webhook.HeaderID) != reqs[0].header.Get(webhook.HeaderID) {
			t.Errorf("attempt %d was of another delivery", i)
		}
		if i > 0 {
			gap, least := r.at.Sub(reqs[i-1].at), testConfig.Delay(i, 0)
			if gap < least {
				t.Errorf("attempt %d came %v after the previous, before the backoff (%v)", i, gap, least)
			}
		}
	}
	ds, err := q.store.Deliveries(ctx, "ada", w.ID, 10)
	if err != nil || len(ds) != 2 {
		t.Fatalf("deliveries %v %v", ds, err)
	}
	probe, waiting := ds[1], ds[0] // newest first
	if probe.State != webhook.StateFailed || probe.Attempts != 3 || *probe.LastStatus != 500 ||
		waiting.State != webhook.StateFailed || waiting.Attempts != 0 || !strings.Contains(deref(waiting.LastError), "disabled") {
		t.Fatalf("after disabling: probe %+v, waiting %+v", probe, waiting)
	}
	if n := counterValue(t, reg, "taskflow_webhook_attempts_total", "http_error"); n != 3 {
		t.Errorf("http_error attempts %v, want 3", n)
	}
	if n := counterValue(t, reg, "taskflow_webhooks_disabled_total", ""); n != 1 {
		t.Errorf("disabled %v, want 1", n)
	}

	// Nothing is enqueued while it is disabled; re-enabled, it works.
	q.publish(t, newTask("ada"), task.EventCreated)
	rcv.status.Store(func(int) (int, string) { return 204, "" })
	on := true
	if _, err := q.store.Update(ctx, "ada", w.ID, webhook.Patch{Active: &on}); err != nil {
		t.Fatal(err)
	}
	tk := newTask("ada")
	q.publish(t, tk, task.EventCreated)
	eventually(t, "a delivery after re-enabling", func() bool { return len(rcv.requests()) == 4 })
	if last := rcv.requests()[3]; last.event.TaskID != tk.ID {
		t.Fatalf("after re-enabling got %s of %s", last.event.EventType, last.event.TaskID)
	}
	eventually(t, "the success recorded", func() bool {
		got, _ := q.store.Get(ctx, "ada", w.ID)
		return got.ConsecutiveFailures == 0 && got.LastSuccessAt != nil && *got.LastStatus == 204
	})
}

// TestDispatcherFailures: what counts as a failed attempt, and what the
// webhook's owner is told about it.
func TestDispatcherFailures(t *testing.T) {
	t.Parallel()
	elsewhere := newReceiver(t)
	for _, tc := range []struct {
		name    string
		private bool // allow private addresses
		handler http.HandlerFunc
		want    string // in last_error
		status  int
		after   func(t *testing.T)
	}{
		{name: "redirects are not followed", private: true, status: 302, want: "HTTP 302 (redirects are not followed)",
			handler: func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, elsewhere.URL, http.StatusFound) },
			after: func(t *testing.T) {
				if n := len(elsewhere.requests()); n != 0 {
					t.Fatalf("the redirect was followed (%d requests)", n)
				}
			}},
		{name: "a slow endpoint times out", private: true, want: "no answer within 300ms",
			handler: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			}},
		{name: "private addresses are refused when dialled", private: false, want: "refused: the URL does not lead to a public address",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) }}, // 299 would be a success
		{name: "4xx is a failure", private: true, status: 410, want: "HTTP 410: gone",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(410); _, _ = io.WriteString(w, "gone") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := newQueue(t)
			cfg := testConfig
			cfg.MaxFailures, cfg.Timeout, cfg.AllowPrivate = 1, 300*time.Millisecond, tc.private
			q.dispatch(t, cfg)
			srv := httptest.NewServer(tc.handler)
			t.Cleanup(srv.Close)
			w, _ := q.register(t, "ada", srv.URL, "*")
			q.publish(t, newTask("ada"), task.EventCreated)
			var got webhook.Webhook
			eventually(t, "the webhook disabled", func() bool {
				got, _ = q.store.Get(context.Background(), "ada", w.ID)
				return !got.Active
			})
			if got.LastError == nil || !strings.Contains(*got.LastError, tc.want) || (tc.status == 0) != (got.LastStatus == nil) ||
				(got.LastStatus != nil && *got.LastStatus != tc.status) {
				t.Fatalf("last error %q, status %v; want %q, %d", deref(got.LastError), got.LastStatus, tc.want, tc.status)
			}
			if tc.after != nil {
				tc.after(t)
			}
		})
	}
}

// TestDispatchersShareTheQueue: two dispatchers (two auditor replicas)
// send every delivery of many webhooks exactly once, each task's events
// in order.
func TestDispatchersShareTheQueue(t *testing.T) {
	t.Parallel()
	q := newQueue(t)
	q.dispatch(t, testConfig)
	q.dispatch(t, testConfig)
	rcv := newReceiver(t)
	const users, perUser = 6, 20
	for u := range users {
		q.register(t, "user"+string(rune('a'+u)), rcv.URL, "*")
	}
	for range perUser / 2 {
		for u := range users {
			q.publish(t, newTask("user"+string(rune('a'+u))), task.EventCreated, task.EventCompleted)
		}
	}
	eventually(t, "every delivery", func() bool { return len(rcv.requests()) >= users*perUser })
	seen := map[string]bool{}
	lastVersion := map[uuid.UUID]int64{}
	for _, r := range rcv.requests() {
		id := r.header.Get(webhook.HeaderID)
		if seen[id] {
			t.Errorf("delivery %s sent twice", id)
		}
		seen[id] = true
		if r.event.Version <= lastVersion[r.event.TaskID] {
			t.Errorf("task %s: version %d after %d", r.event.TaskID, r.event.Version, lastVersion[r.event.TaskID])
		}
		lastVersion[r.event.TaskID] = r.event.Version
	}
	if len(seen) != users*perUser {
		t.Fatalf("%d deliveries, want %d", len(seen), users*perUser)
	}
	eventually(t, "every delivery recorded as delivered", func() bool {
		var pending int
		err := q.pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_deliveries WHERE state <> 'delivered'`).Scan(&pending)
		return err == nil && pending == 0
	})
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" || (len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == label) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
