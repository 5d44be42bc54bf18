package actors_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/google/uuid"

	"github.com/taskflow/taskflow/actors"
	"github.com/taskflow/taskflow/task"
)

// memStore mimics the PostgreSQL store's contract in memory.
type memStore struct {
	mu     sync.Mutex
	tasks  map[uuid.UUID]task.Task
	series map[uuid.UUID]task.SeriesState
	alarms map[uuid.UUID]task.Alarm
	events []task.Event
	keys   map[string]struct {
		hash []byte
		t    task.Task
	}
}

func newMemStore() *memStore {
	return &memStore{tasks: map[uuid.UUID]task.Task{}, series: map[uuid.UUID]task.SeriesState{}, alarms: map[uuid.UUID]task.Alarm{}, keys: map[string]struct {
		hash []byte
		t    task.Task
	}{}}
}

func (s *memStore) Insert(_ context.Context, t task.Task, ev task.Event, idem *task.IdempotencyKey, x task.Extras) (*task.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if idem != nil {
		k := t.UserID + "\x00" + idem.Key
		if prev, ok := s.keys[k]; ok {
			if !bytes.Equal(prev.hash, idem.RequestHash) {
				return nil, task.ErrIdempotencyMismatch
			}
			r := prev.t
			return &r, nil
		}
		s.keys[k] = struct {
			hash []byte
			t    task.Task
		}{idem.RequestHash, t}
	}
	if _, ok := s.tasks[t.ID]; ok {
		return nil, task.ErrConflict
	}
	for _, o := range s.tasks {
		if t.ParentRecurringTaskID != nil && o.ParentRecurringTaskID != nil && *o.ParentRecurringTaskID == *t.ParentRecurringTaskID &&
			o.OccurrenceDate.Equal(*t.OccurrenceDate) {
			return nil, task.ErrDuplicateInstance
		}
	}
	s.tasks[t.ID] = t
	s.events = append(s.events, ev)
	s.saveAlarms(x.Alarms)
	return nil, nil
}

func (s *memStore) saveAlarms(as []task.Alarm) {
	for _, a := range as {
		s.alarms[a.ID] = a
	}
}

func (s *memStore) Alarms(_ context.Context, id uuid.UUID) ([]task.Alarm, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []task.Alarm
	for _, a := range s.alarms {
		if a.TaskID == id {
			out = append(out, a)
		}
	}
	return out, nil
}

func (s *memStore) SaveAlarms(_ context.Context, as []task.Alarm) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saveAlarms(as)
	return nil
}

func (s *memStore) Fire(_ context.Context, f task.Fired) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.alarms[f.Alarm.ID]
	if !ok || a.Status != task.AlarmPending || !a.TriggerAt.Equal(f.Alarm.TriggerAt) {
		return task.ErrNotPending
	}
	if f.Next != nil {
		if cur, ok := s.tasks[f.Next.ID]; !ok || cur.Version != f.PrevVersion {
			return task.ErrConflict
		}
		s.tasks[f.Next.ID] = *f.Next
	}
	a.Status, a.FiredAt = task.AlarmSent, &f.FiredAt
	s.alarms[a.ID] = a
	s.events = append(s.events, f.Event)
	return nil
}

func (s *memStore) Update(_ context.Context, next task.Task, prev int64, ev task.Event, x task.Extras) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.tasks[next.ID]; !ok || cur.Version != prev {
		return task.ErrConflict
	}
	s.tasks[next.ID] = next
	s.events = append(s.events, ev)
	s.saveAlarms(x.Alarms)
	return nil
}

func (s *memStore) Delete(_ context.Context, id uuid.UUID, prev int64, ev task.Event, x task.Extras) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.tasks[id]; !ok || cur.Version != prev {
		return task.ErrConflict
	}
	delete(s.tasks, id)
	s.events = append(s.events, ev)
	s.saveAlarms(x.Alarms)
	return nil
}

func (s *memStore) Get(_ context.Context, id uuid.UUID) (task.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[id]
	if !ok {
		return task.Task{}, task.ErrNotFound
	}
	return t.Clone(), nil
}

func (s *memStore) Series(_ context.Context, id uuid.UUID) (task.SeriesState, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.series[id]
	if !ok {
		st.TaskID = id
	}
	return st, ok, nil
}

func (s *memStore) SaveSeries(_ context.Context, st task.SeriesState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.series[st.TaskID] = st
	return nil
}

func (s *memStore) eventTypes() []task.EventType {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []task.EventType
	for _, e := range s.events {
		out = append(out, e.EventType)
	}
	return out
}

type env struct {
	store     *memStore
	commits   atomic.Int64
	deps      *actors.Deps
	reminders *fakeReminders
	workflows *fakeWorkflows

	mu     sync.Mutex
	now    time.Time
	actors map[uuid.UUID]*actors.TaskActor // the activations peers reach
}

func newEnv() *env {
	e := &env{store: newMemStore(), reminders: &fakeReminders{armed: map[string]reminder{}}, workflows: &fakeWorkflows{},
		now: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), actors: map[uuid.UUID]*actors.TaskActor{}}
	e.deps = &actors.Deps{
		Store:     e.store,
		Committed: func() { e.commits.Add(1) },
		Now:       e.clock,
		Logger:    slog.New(slog.DiscardHandler),
		Limits:    task.DefaultLimits(),
		Peers:     peers{e},
		Reminders: e.reminders,
		Workflows: e.workflows,
		Series:    actors.SeriesConfig{MissedPolicy: actors.MissedLatest, CatchUpMax: 100, RetryPeriod: 30 * time.Second},
	}
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) setClock(t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = t
}

// actor returns a fresh activation (not the one peers reach).
func (e *env) actor(id uuid.UUID) *actors.TaskActor {
	return actors.Factory(e.deps)(id.String()).(*actors.TaskActor)
}

// placed returns the one activation of id that peers reach, as Dapr
// placement would.
func (e *env) placed(id uuid.UUID) *actors.TaskActor {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.actors[id]
	if !ok {
		a = actors.Factory(e.deps)(id.String()).(*actors.TaskActor)
		e.actors[id] = a
	}
	return a
}

type peers struct{ e *env }

func (p peers) CreateInstance(ctx context.Context, id uuid.UUID, req actors.InstanceRequest) (*actors.Reply, error) {
	return p.e.placed(id).CreateInstance(ctx, &req)
}

func (p peers) SeriesInstanceCompleted(ctx context.Context, series uuid.UUID, req actors.CompletionNotice) (*actors.Reply, error) {
	return p.e.placed(series).SeriesInstanceCompleted(ctx, &req)
}

type reminder struct {
	due    time.Time
	period string
	data   []byte
}

type fakeReminders struct {
	mu            sync.Mutex
	armed         map[string]reminder // actor id + "/" + name
	registrations int
}

func (f *fakeReminders) RegisterActorReminder(_ context.Context, r *dapr.RegisterActorReminderRequest) error {
	due, err := time.Parse(time.RFC3339Nano, r.DueTime)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed[r.ActorID+"/"+r.Name] = reminder{due: due, period: r.Period, data: r.Data}
	f.registrations++
	return nil
}

func (f *fakeReminders) UnregisterActorReminder(_ context.Context, r *dapr.UnregisterActorReminderRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.armed, r.ActorID+"/"+r.Name)
	return nil
}

func (f *fakeReminders) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.registrations
}

func (f *fakeReminders) get(id uuid.UUID, name string) (reminder, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.armed[id.String()+"/"+name]
	return r, ok
}

type fakeWorkflows struct {
	mu       sync.Mutex
	started  []actors.SeriesOperation
	controls []string // "retry <id>", "terminate <id> by <who>"
	refuse   error    // returned by the control methods when set
}

func (f *fakeWorkflows) RetryOperation(_ context.Context, id uuid.UUID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return f.refuse
	}
	f.controls = append(f.controls, "retry "+id.String())
	return nil
}

func (f *fakeWorkflows) TerminateOperation(_ context.Context, id uuid.UUID, by string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return f.refuse
	}
	f.controls = append(f.controls, "terminate "+id.String()+" by "+by)
	return nil
}

func (f *fakeWorkflows) StartSeriesOperation(_ context.Context, op actors.SeriesOperation) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, op)
	return nil
}

// mustOK(t)(a.Method(...)) returns the reply's task or fails the test.
func mustOK(tb testing.TB) func(*actors.Reply, error) task.Task {
	return func(r *actors.Reply, err error) task.Task {
		tb.Helper()
		if err != nil {
			tb.Fatalf("actor returned a Go error (Dapr would hide it): %v", err)
		}
		if r.Error != nil {
			tb.Fatalf("actor error: %+v", r.Error)
		}
		return *r.Task
	}
}

func wantErr(tb testing.TB, r *actors.Reply, err error, target error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("actor returned a Go error: %v", err)
	}
	if !errors.Is(r.Err(), target) {
		tb.Fatalf("reply error = %v, want %v", r.Err(), target)
	}
}

func TestTaskActorLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv()
	ctx := context.Background()
	id := uuid.Must(uuid.NewV7())
	a := e.actor(id)
	alice := actors.Request{UserID: "alice", CorrelationID: "c"}

	created := mustOK(t)(a.Create(ctx, &actors.CreateRequest{Request: alice, Draft: task.Draft{Title: "Ship it"}}))
	if created.ID != id || created.Version != 1 {
		t.Fatalf("created %+v", created)
	}
	got := mustOK(t)(a.Get(ctx, &alice))
	if got.Title != "Ship it" {
		t.Fatalf("get %+v", got)
	}
	r, err := a.Get(ctx, &actors.Request{UserID: "mallory"})
	wantErr(t, r, err, task.ErrNotFound)

	upd := mustOK(t)(a.Update(ctx, &actors.UpdateRequest{Request: alice, Patch: task.Patch{Priority: task.Some(task.PriorityHigh)}}))
	if upd.Version != 2 || upd.Priority != task.PriorityHigh {
		t.Fatalf("update %+v", upd)
	}
	// A no-op patch neither bumps the version nor emits an event.
	r, err = a.Update(ctx, &actors.UpdateRequest{Request: alice, Patch: task.Patch{Priority: task.Some(task.PriorityHigh)}})
	if same := mustOK(t)(r, err); same.Version != 2 || r.Changed {
		t.Fatalf("no-op update %+v changed=%v", same, r.Changed)
	}
	r, err = a.Update(ctx, &actors.UpdateRequest{Request: alice, Patch: task.Patch{Title: task.Some("")}})
	wantErr(t, r, err, task.ErrValidation)

	r, err = a.Complete(ctx, &actors.Request{UserID: "alice", IfMatch: 1})
	wantErr(t, r, err, task.ErrVersionMismatch)
	done := mustOK(t)(a.Complete(ctx, &actors.Request{UserID: "alice", IfMatch: 2}))
	if !done.Completed || done.Version != 3 {
		t.Fatalf("complete %+v", done)
	}
	mustOK(t)(a.Complete(ctx, &alice)) // idempotent
	reopened := mustOK(t)(a.Uncomplete(ctx, &alice))
	if reopened.Completed || reopened.Version != 4 {
		t.Fatalf("uncomplete %+v", reopened)
	}
	r, err = a.Delete(ctx, &actors.Request{UserID: "mallory"})
	wantErr(t, r, err, task.ErrNotFound)
	gone := mustOK(t)(a.Delete(ctx, &alice))
	if gone.Version != 5 {
		t.Fatalf("deleted snapshot %+v", gone)
	}
	r, err = a.Get(ctx, &alice)
	wantErr(t, r, err, task.ErrNotFound)

	want := []task.EventType{task.EventCreated, task.EventUpdated, task.EventCompleted, task.EventUpdated, task.EventDeleted}
	if got := e.store.eventTypes(); len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if e.commits.Load() != int64(len(want)) {
		t.Fatalf("Committed called %d times, want %d", e.commits.Load(), len(want))
	}
}

func TestTaskActorReloadsAfterActivationElsewhere(t *testing.T) {
	t.Parallel()
	e := newEnv()
	ctx := context.Background()
	id := uuid.Must(uuid.NewV7())
	alice := actors.Request{UserID: "alice"}
	first := e.actor(id)
	mustOK(t)(first.Create(ctx, &actors.CreateRequest{Request: alice, Draft: task.Draft{Title: "a"}}))

	// The actor moved to another host (a rebalance) and changed the task there.
	second := e.actor(id)
	mustOK(t)(second.Update(ctx, &actors.UpdateRequest{Request: alice, Patch: task.Patch{Title: task.Some("b")}}))

	// The old activation's snapshot is stale: its write must not be lost or
	// clobber the newer one; it reloads and applies on top.
	got := mustOK(t)(first.Update(ctx, &actors.UpdateRequest{Request: alice, Patch: task.Patch{Description: task.Some("d")}}))
	if got.Title != "b" || got.Description != "d" || got.Version != 3 {
		t.Fatalf("after reload %+v", got)
	}
}

func TestTaskActorIdempotentCreate(t *testing.T) {
	t.Parallel()
	e := newEnv()
	ctx := context.Background()
	key := &task.IdempotencyKey{Key: "k", RequestHash: []byte("h")}
	alice := actors.Request{UserID: "alice"}
	first := mustOK(t)(e.actor(uuid.Must(uuid.NewV7())).Create(ctx, &actors.CreateRequest{Request: alice, Draft: task.Draft{Title: "x"}, Idempotency: key}))
	r, err := e.actor(uuid.Must(uuid.NewV7())).Create(ctx, &actors.CreateRequest{Request: alice, Draft: task.Draft{Title: "x"}, Idempotency: key})
	replay := mustOK(t)(r, err)
	if !r.Replayed || replay.ID != first.ID {
		t.Fatalf("replay %+v replayed=%v", replay, r.Replayed)
	}
	r, err = e.actor(uuid.Must(uuid.NewV7())).Create(ctx, &actors.CreateRequest{Request: alice, Draft: task.Draft{Title: "y"},
		Idempotency: &task.IdempotencyKey{Key: "k", RequestHash: []byte("other")}})
	wantErr(t, r, err, task.ErrIdempotencyMismatch)
	if n := len(e.store.eventTypes()); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
}

func TestTaskActorRejectsBadID(t *testing.T) {
	t.Parallel()
	e := newEnv()
	a := actors.Factory(e.deps)("not-a-uuid").(*actors.TaskActor)
	r, err := a.Create(context.Background(), &actors.CreateRequest{Request: actors.Request{UserID: "u"}, Draft: task.Draft{Title: "x"}})
	wantErr(t, r, err, task.ErrNotFound)
}
