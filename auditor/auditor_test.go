package auditor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskflow/taskflow/internal/subscribe"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// fakeStore records batches; gate (if set) holds each write until it
// receives; poison events are rejected the way PostgreSQL rejects data.
type fakeStore struct {
	mu      sync.Mutex
	batches [][]uuid.UUID
	stored  map[uuid.UUID]bool
	gate    chan struct{}
	fail    error
	poison  map[uuid.UUID]bool
}

func (s *fakeStore) Write(ctx context.Context, batch []task.AuditRecord) (int, error) {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	ids := make([]uuid.UUID, len(batch))
	for i, r := range batch {
		ids[i] = r.EventID
		if s.poison[r.EventID] {
			return 0, fmt.Errorf("%w: ERROR: unsupported Unicode escape sequence (SQLSTATE 22P05)", postgres.ErrAuditRejected)
		}
	}
	s.batches = append(s.batches, ids)
	n := 0
	for _, id := range ids {
		if !s.stored[id] {
			s.stored[id] = true
			n++
		}
	}
	return n, nil
}

func (s *fakeStore) written() [][]uuid.UUID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
}

type fakeDLQ struct {
	mu   sync.Mutex
	got  []DeadLetter
	fail error
}

func (d *fakeDLQ) DeadLetter(_ context.Context, dl DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return d.fail
	}
	d.got = append(d.got, dl)
	return nil
}

func newTestAuditor(t *testing.T, size int) (*Auditor, *fakeStore, *fakeDLQ) {
	t.Helper()
	store := &fakeStore{stored: map[uuid.UUID]bool{}, poison: map[uuid.UUID]bool{}}
	dlq := &fakeDLQ{}
	a, err := New(Config{BatchSize: size, BatchWait: time.Second}, store, dlq, prometheus.NewRegistry(),
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return a, store, dlq
}

func message(t *testing.T) subscribe.Message {
	t.Helper()
	tk := task.Task{ID: uuid.Must(uuid.NewV7()), UserID: "ada", Title: "t", Version: 1}
	ev := task.NewEvent(task.EventCreated, tk, nil, "c", time.Now())
	data, _ := json.Marshal(ev)
	ce, _ := ev.MarshalCloudEvent()
	return subscribe.Message{EntryID: ev.EventID.String(), Event: ev, Data: data, CloudEvent: ce}
}

func messages(t *testing.T, n int) []subscribe.Message {
	out := make([]subscribe.Message, n)
	for i := range out {
		out[i] = message(t)
	}
	return out
}

func ids(msgs []subscribe.Message) []uuid.UUID {
	out := make([]uuid.UUID, len(msgs))
	for i, m := range msgs {
		out[i] = m.Event.EventID
	}
	return out
}

func all(st subscribe.Status, n int) []subscribe.Status {
	out := make([]subscribe.Status, n)
	for i := range out {
		out[i] = st
	}
	return out
}

// handle runs Handle in the background; the result arrives on the channel.
func handle(a *Auditor, ctx context.Context, msgs []subscribe.Message) <-chan []subscribe.Status {
	c := make(chan []subscribe.Status, 1)
	go func() { c <- a.Handle(ctx, msgs) }()
	return c
}

func TestAcknowledgedOnlyAfterCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, store, _ := newTestAuditor(t, 100)
		store.gate = make(chan struct{})
		go a.Run(t.Context())
		msgs := messages(t, 3)
		res := handle(a, t.Context(), msgs)
		synctest.Wait()
		select {
		case st := <-res:
			t.Fatalf("answered %v before the batch committed", st)
		default:
		}
		store.gate <- struct{}{}
		if st := <-res; !slices.Equal(st, all(subscribe.Success, 3)) {
			t.Fatalf("statuses %v", st)
		}
		if got := store.written(); len(got) != 1 || !slices.Equal(got[0], ids(msgs)) {
			t.Fatalf("batches %v", got)
		}
		a.Close()
		<-a.Stopped()
	})
}

// While a batch is being written, the deliveries that arrive gather into
// the next one, which never exceeds BatchSize.
func TestGroupCommitUpToBatchSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, store, _ := newTestAuditor(t, 100)
		store.gate = make(chan struct{})
		go a.Run(t.Context())
		first := messages(t, 10)
		r0 := handle(a, t.Context(), first)
		synctest.Wait() // the first batch is being written
		var later [][]subscribe.Message
		var results []<-chan []subscribe.Status
		for _, n := range []int{60, 70, 20} {
			msgs := messages(t, n)
			later = append(later, msgs)
			results = append(results, handle(a, t.Context(), msgs))
		}
		synctest.Wait()
		for range 3 { // three writes: 10, then 100 and 50
			store.gate <- struct{}{}
		}
		if st := <-r0; !slices.Equal(st, all(subscribe.Success, 10)) {
			t.Fatalf("first delivery: %v", st)
		}
		for i, r := range results {
			if st := <-r; !slices.Equal(st, all(subscribe.Success, len(later[i]))) {
				t.Fatalf("delivery %d: %v", i+1, st)
			}
		}
		var sizes []int
		seen := map[uuid.UUID]int{}
		for _, b := range store.written() {
			sizes = append(sizes, len(b))
			for _, id := range b {
				seen[id]++
			}
		}
		if !slices.Equal(sizes, []int{10, 100, 50}) {
			t.Fatalf("batch sizes %v, want [10 100 50]", sizes)
		}
		if len(seen) != 160 {
			t.Fatalf("%d distinct events written, want 160", len(seen))
		}
		a.Close()
		<-a.Stopped()
	})
}

func TestFailedBatchIsRedelivered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, store, dlq := newTestAuditor(t, 100)
		store.fail = errors.New("connection refused")
		go a.Run(t.Context())
		if st := a.Handle(t.Context(), messages(t, 4)); !slices.Equal(st, all(subscribe.Retry, 4)) {
			t.Fatalf("statuses %v, want RETRY", st)
		}
		if len(dlq.got) != 0 {
			t.Fatalf("a transient failure dead-lettered %d", len(dlq.got))
		}
		store.fail = nil
		if st := a.Handle(t.Context(), messages(t, 2)); !slices.Equal(st, all(subscribe.Success, 2)) {
			t.Fatalf("after recovery: %v", st)
		}
		a.Close()
		<-a.Stopped()
	})
}

func TestRejectedEventsAreDeadLetteredTheRestWritten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, store, dlq := newTestAuditor(t, 100)
		go a.Run(t.Context())
		msgs := messages(t, 9)
		store.poison[msgs[2].Event.EventID] = true
		store.poison[msgs[7].Event.EventID] = true
		if st := a.Handle(t.Context(), msgs); !slices.Equal(st, all(subscribe.Success, 9)) {
			t.Fatalf("statuses %v", st)
		}
		stored := 0
		for _, m := range msgs {
			if store.stored[m.Event.EventID] {
				stored++
			}
		}
		if stored != 7 {
			t.Fatalf("%d events written, want the 7 good ones", stored)
		}
		if len(dlq.got) != 2 {
			t.Fatalf("%d dead letters, want 2", len(dlq.got))
		}
		for i, want := range []subscribe.Message{msgs[2], msgs[7]} {
			dl := dlq.got[i]
			if dl.EventID != want.Event.EventID.String() || !strings.Contains(dl.Reason, "22P05") ||
				dl.Topic != task.Topic || string(dl.Message) != string(want.CloudEvent) || dl.EntryID != want.EntryID {
				t.Errorf("dead letter %d: %+v", i, dl)
			}
		}

		// Without the dead-letter topic the message stays on the topic.
		dlq.fail = errors.New("sidecar down")
		poison := message(t)
		store.poison[poison.Event.EventID] = true
		if st := a.Handle(t.Context(), []subscribe.Message{poison}); !slices.Equal(st, all(subscribe.Retry, 1)) {
			t.Fatalf("undeliverable dead letter: %v, want RETRY", st)
		}
		a.Close()
		<-a.Stopped()
	})
}

func TestInvalidAndUndecodableMessagesAreDeadLettered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, store, dlq := newTestAuditor(t, 100)
		go a.Run(t.Context())
		good, noUser := message(t), message(t)
		noUser.Event.UserID = ""
		st := a.Handle(t.Context(), []subscribe.Message{good, noUser})
		if !slices.Equal(st, all(subscribe.Success, 2)) {
			t.Fatalf("statuses %v", st)
		}
		if len(store.written()) != 1 || len(store.written()[0]) != 1 {
			t.Fatalf("batches %v, want only the good event", store.written())
		}
		if len(dlq.got) != 1 || !strings.Contains(dlq.got[0].Reason, "user_id") {
			t.Fatalf("dead letters %+v", dlq.got)
		}
		if s := a.Undecodable(t.Context(), "e-1", []byte{0xff, 0x00, 'x'}, errors.New("decode cloudevent: invalid character")); s != subscribe.Success {
			t.Fatalf("undecodable: %v", s)
		}
		dl := dlq.got[1]
		if dl.MessageBase64 != "/wB4" || dl.Message != nil || dl.EntryID != "e-1" || !strings.Contains(dl.Reason, "not a task event") {
			t.Fatalf("undecodable dead letter %+v", dl)
		}
		a.Close()
		<-a.Stopped()
	})
}

// Close writes what was delivered before it and answers later deliveries
// RETRY (another instance, or this one restarted, takes them).
func TestCloseFlushesTheLastBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, store, _ := newTestAuditor(t, 100)
		store.gate = make(chan struct{})
		go a.Run(t.Context())
		r1 := handle(a, t.Context(), messages(t, 5))
		synctest.Wait() // being written
		r2 := handle(a, t.Context(), messages(t, 7))
		synctest.Wait() // waiting for the next batch
		a.Close()
		close(store.gate)
		<-a.Stopped()
		if st := <-r1; !slices.Equal(st, all(subscribe.Success, 5)) {
			t.Fatalf("in flight: %v", st)
		}
		if st := <-r2; !slices.Equal(st, all(subscribe.Success, 7)) {
			t.Fatalf("waiting at Close: %v, want written", st)
		}
		if st := a.Handle(t.Context(), messages(t, 2)); !slices.Equal(st, all(subscribe.Retry, 2)) {
			t.Fatalf("after Close: %v", st)
		}
		if n := len(store.stored); n != 12 {
			t.Fatalf("%d events written, want 12", n)
		}
	})
}

func TestRunFlushesWhenItsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, store, _ := newTestAuditor(t, 100)
		store.gate = make(chan struct{})
		ctx, cancel := context.WithCancel(t.Context())
		go a.Run(ctx)
		r := handle(a, t.Context(), messages(t, 3))
		synctest.Wait()
		cancel()
		close(store.gate)
		<-a.Stopped()
		if st := <-r; !slices.Equal(st, all(subscribe.Success, 3)) {
			t.Fatalf("%v", st)
		}
	})
}

// Dapr gives up on a slow request: the answer is RETRY, and the write may
// still land (the redelivery is then stored once).
func TestAbandonedDeliveryAnswersRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, store, _ := newTestAuditor(t, 100)
		store.gate = make(chan struct{})
		go a.Run(t.Context())
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		msgs := messages(t, 3)
		msgs[1].Event.UserID = "" // dead-lettered at once: SUCCESS either way
		st := a.Handle(ctx, msgs)
		if want := []subscribe.Status{subscribe.Retry, subscribe.Success, subscribe.Retry}; !slices.Equal(st, want) {
			t.Fatalf("statuses %v, want %v", st, want)
		}
		close(store.gate)
		a.Close()
		<-a.Stopped()
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{BatchSize: 0, BatchWait: time.Second}, {BatchSize: 10}} {
		if _, err := New(cfg, &fakeStore{}, &fakeDLQ{}, prometheus.NewRegistry(), slog.Default()); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}
