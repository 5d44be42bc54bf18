package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskflow/taskflow/auditor"
	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/outbox"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// recorder is a Publisher that records what it was given and can be told
// to fail the next calls.
type recorder struct {
	mu        sync.Mutex
	got       []postgres.Message
	failNext  int            // fail this many whole batches
	failIDs   map[int64]bool // fail these ids once
	poison    map[int64]bool // fail these ids every time
	calls     map[int64]int  // how often each id was handed over
	published chan struct{}
}

func newRecorder() *recorder {
	return &recorder{failIDs: map[int64]bool{}, poison: map[int64]bool{}, calls: map[int64]int{},
		published: make(chan struct{}, 1000)}
}

func (r *recorder) Publish(_ context.Context, msgs []postgres.Message) (map[int64]error, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failNext > 0 {
		r.failNext--
		return nil, errors.New("broker down")
	}
	failed := map[int64]error{}
	for _, m := range msgs {
		r.calls[m.ID]++
		if r.poison[m.ID] {
			failed[m.ID] = errors.New("message too large")
			continue
		}
		if r.failIDs[m.ID] {
			delete(r.failIDs, m.ID)
			failed[m.ID] = errors.New("partition leader moved")
			continue
		}
		r.got = append(r.got, m)
	}
	select {
	case r.published <- struct{}{}:
	default:
	}
	if len(failed) > 0 {
		return failed, errors.New("partial failure")
	}
	return nil, nil
}

func (r *recorder) events() []task.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []task.Event
	for _, m := range r.got {
		ev, err := task.ParseCloudEvent(m.Payload)
		if err != nil {
			panic(err)
		}
		out = append(out, ev)
	}
	return out
}

// deadLetters is a DeadLetterer that keeps what it is given; it refuses
// the next failNext calls.
type deadLetters struct {
	mu       sync.Mutex
	got      []auditor.DeadLetter
	failNext int
}

func (d *deadLetters) DeadLetter(_ context.Context, dl auditor.DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failNext > 0 {
		d.failNext--
		return errors.New("dlq unreachable")
	}
	d.got = append(d.got, dl)
	return nil
}

func (d *deadLetters) all() []auditor.DeadLetter {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.got)
}

var testConfig = outbox.Config{PollInterval: 20 * time.Millisecond, LeaseRetry: 50 * time.Millisecond}

func startRelay(tb testing.TB, ctx context.Context, pool *pgxpool.Pool, pub outbox.Publisher) (*outbox.Relay, <-chan error) {
	tb.Helper()
	return startRelayWith(tb, ctx, pool, pub, &deadLetters{}, testConfig, prometheus.NewRegistry())
}

func startRelayWith(tb testing.TB, ctx context.Context, pool *pgxpool.Pool, pub outbox.Publisher, dlq outbox.DeadLetterer,
	cfg outbox.Config, reg *prometheus.Registry) (*outbox.Relay, <-chan error) {
	tb.Helper()
	r, err := outbox.New(cfg, postgres.NewOutbox(pool), pub, dlq, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return r, done
}

// writeHistory commits n versions of one task and returns its id.
func writeHistory(tb testing.TB, store *postgres.Tasks, n int) uuid.UUID {
	tb.Helper()
	ctx := context.Background()
	now := time.Now()
	tk, err := task.New(uuid.Must(uuid.NewV7()), "alice", task.Draft{Title: "v1"}, now)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := store.Insert(ctx, tk, task.NewEvent(task.EventCreated, tk, nil, "", now), nil, task.Extras{}); err != nil {
		tb.Fatal(err)
	}
	for i := 2; i <= n; i++ {
		next, changed, err := tk.Apply(task.Patch{Title: task.Some("v" + string(rune('0'+i)))}, now)
		if err != nil {
			tb.Fatal(err)
		}
		if err := store.Update(ctx, next, tk.Version, task.NewEvent(task.EventUpdated, next, changed, "", now), task.Extras{}); err != nil {
			tb.Fatal(err)
		}
		tk = next
	}
	return tk.ID
}

func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func unsent(tb testing.TB, pool *pgxpool.Pool) int {
	tb.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

func TestRelayPublishesInVersionOrderAndRetries(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	store := postgres.NewTasks(pool)
	ids := []uuid.UUID{writeHistory(t, store, 5), writeHistory(t, store, 3)}

	pub := newRecorder()
	pub.failNext = 2 // the broker is down at first
	var firstID int64
	if err := pool.QueryRow(context.Background(), `SELECT min(id) FROM outbox`).Scan(&firstID); err != nil {
		t.Fatal(err)
	}
	pub.failIDs[firstID+6] = true // one event of the second task fails once

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, done := startRelay(t, ctx, pool, pub)
	eventually(t, "all events published and marked sent", func() bool {
		return unsent(t, pool) == 0 && len(pub.events()) == 8
	})

	versions := map[uuid.UUID][]int64{}
	for _, ev := range pub.events() {
		versions[ev.TaskID] = append(versions[ev.TaskID], ev.Version)
	}
	// The first task's five events went out once each, in order.
	if got := versions[ids[0]]; len(got) != 5 || got[0] != 1 || got[4] != 5 {
		t.Fatalf("task 1 versions = %v", got)
	}
	for i := 1; i < len(versions[ids[0]]); i++ {
		if versions[ids[0]][i] <= versions[ids[0]][i-1] {
			t.Fatalf("task 1 out of order: %v", versions[ids[0]])
		}
	}
	if len(versions[ids[1]]) != 3 {
		t.Fatalf("task 2 versions = %v (the failed one must be retried)", versions[ids[1]])
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func TestRelayOnlyOneLeaderAndFailover(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	store := postgres.NewTasks(pool)

	pubA, pubB := newRecorder(), newRecorder()
	ctxA, stopA := context.WithCancel(context.Background())
	defer stopA()
	_, doneA := startRelay(t, ctxA, pool, pubA)
	writeHistory(t, store, 2)
	eventually(t, "relay A to publish", func() bool { return len(pubA.events()) == 2 })

	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	relayB, doneB := startRelay(t, ctxB, pool, pubB)
	writeHistory(t, store, 2)
	relayB.Kick()
	eventually(t, "relay A to publish the second task", func() bool { return len(pubA.events()) == 4 })
	if n := len(pubB.events()); n != 0 {
		t.Fatalf("standby relay B published %d events while A held the lease", n)
	}

	stopA() // A goes away; B takes over.
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	writeHistory(t, store, 3)
	eventually(t, "relay B to take over", func() bool { return len(pubB.events()) == 3 })
	if n := len(pubA.events()); n != 4 {
		t.Fatalf("relay A published after it stopped: %d", n)
	}
	stopB()
	if err := <-doneB; err != nil {
		t.Fatal(err)
	}
}

// gauge reads a gauge's value from reg; ok is false when it is not there.
func gauge(tb testing.TB, reg *prometheus.Registry, name string) (v float64, ok bool) {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func TestRelayReportsBacklog(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	writeHistory(t, postgres.NewTasks(pool), 3)

	pub := newRecorder()
	pub.mu.Lock()
	pub.failNext = 1 << 30 // the broker is down
	pub.mu.Unlock()
	reg := prometheus.NewRegistry()
	cfg := testConfig
	cfg.StatsInterval = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, done := startRelayWith(t, ctx, pool, pub, &deadLetters{}, cfg, reg)

	eventually(t, "the backlog gauges show three waiting rows with an age", func() bool {
		pending, _ := gauge(t, reg, "taskflow_outbox_pending")
		age, _ := gauge(t, reg, "taskflow_outbox_oldest_age_seconds")
		return pending == 3 && age > 0
	})
	pub.mu.Lock()
	pub.failNext = 0 // the broker is back
	pub.mu.Unlock()
	eventually(t, "the backlog gauges drop to zero", func() bool {
		pending, _ := gauge(t, reg, "taskflow_outbox_pending")
		age, ok := gauge(t, reg, "taskflow_outbox_oldest_age_seconds")
		return ok && pending == 0 && age == 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// firstID returns the id of the oldest outbox row.
func firstID(tb testing.TB, pool *pgxpool.Pool) int64 {
	tb.Helper()
	var id int64
	if err := pool.QueryRow(context.Background(), `SELECT min(id) FROM outbox`).Scan(&id); err != nil {
		tb.Fatal(err)
	}
	return id
}

// When one event of a task fails in a batch, the task's later events in
// that batch must not reach the broker before it: consumers that drop
// repeats by event id would otherwise see v2 before v1.
func TestRelayKeepsATasksOrderWhenPartOfABatchFails(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	store := postgres.NewTasks(pool)
	a := writeHistory(t, store, 3)
	b := writeHistory(t, store, 2)

	pub := newRecorder()
	pub.failIDs[firstID(t, pool)] = true // task A's v1 fails once; v2 and v3 would succeed

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, done := startRelay(t, ctx, pool, pub)
	eventually(t, "all events published", func() bool { return unsent(t, pool) == 0 })

	versions := map[uuid.UUID][]int64{}
	for _, ev := range pub.events() {
		versions[ev.TaskID] = append(versions[ev.TaskID], ev.Version)
	}
	if got := versions[a]; !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("task A reached the broker as versions %v, want [1 2 3]", got)
	}
	if got := versions[b]; !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("task B reached the broker as versions %v, want [1 2]", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// A row the broker always refuses is dead-lettered after the configured
// attempts and removed from the outbox; the other tasks' events keep
// flowing and the relay does not stall behind it. A dead letter the DLQ
// refuses stays in the outbox until it can be sent.
func TestRelayDeadLettersARowThatAlwaysFails(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	store := postgres.NewTasks(pool)
	poisoned := writeHistory(t, store, 2)
	pub := newRecorder()
	poison := firstID(t, pool)
	pub.poison[poison] = true // task P's v1 can never be published
	var payload []byte
	if err := pool.QueryRow(context.Background(), `SELECT payload::text FROM outbox WHERE id = $1`, poison).Scan(&payload); err != nil {
		t.Fatal(err)
	}
	dlq := &deadLetters{failNext: 1} // the first try at dead-lettering fails too
	cfg := testConfig
	cfg.MaxAttempts = 3
	reg := prometheus.NewRegistry()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, done := startRelayWith(t, ctx, pool, pub, dlq, cfg, reg)
	other := writeHistory(t, store, 2)
	eventually(t, "the poisoned row to leave the outbox and the rest to be published", func() bool {
		return unsent(t, pool) == 0
	})
	versions := map[uuid.UUID][]int64{}
	for _, ev := range pub.events() {
		versions[ev.TaskID] = append(versions[ev.TaskID], ev.Version)
	}
	if got := versions[poisoned]; !slices.Equal(got, []int64{2}) {
		t.Errorf("poisoned task published as %v, want [2] (v1 dead-lettered)", got)
	}
	if got := versions[other]; !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("other task published as %v, want [1 2]", got)
	}
	pub.mu.Lock()
	tries := pub.calls[poison]
	pub.mu.Unlock()
	if tries != cfg.MaxAttempts+1 { // the DLQ refused it after the 3rd; the 4th went
		t.Errorf("the poisoned row was tried %d times, want %d", tries, cfg.MaxAttempts+1)
	}
	dls := dlq.all()
	if len(dls) != 1 {
		t.Fatalf("%d dead letters, want 1: %+v", len(dls), dls)
	}
	dl := dls[0]
	var ev task.Event
	if err := json.Unmarshal(payload, &struct {
		Data *task.Event `json:"data"`
	}{&ev}); err != nil {
		t.Fatal(err)
	}
	if dl.Subscriber != outbox.DeadLetterSubscriber || dl.Topic != task.Topic || dl.EntryID != strconv.FormatInt(poison, 10) ||
		dl.EventID != ev.EventID.String() || !strings.Contains(dl.Reason, "message too large") ||
		string(dl.Message) != string(payload) || dl.FailedAt.IsZero() {
		t.Errorf("dead letter %+v", dl)
	}
	if v := counter(t, reg, "taskflow_outbox_dead_lettered_total"); v != 1 {
		t.Errorf("taskflow_outbox_dead_lettered_total = %v, want 1", v)
	}

	// Nothing holds the relay back now.
	third := writeHistory(t, store, 1)
	eventually(t, "a later task to be published", func() bool {
		for _, ev := range pub.events() {
			if ev.TaskID == third {
				return true
			}
		}
		return false
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func counter(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	tb.Fatalf("no counter %s", name)
	return 0
}
