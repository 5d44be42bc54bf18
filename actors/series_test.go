package actors_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/actors"
	"github.com/taskflow/taskflow/task"
)

func ptr[T any](v T) *T { return &v }

// instances returns the series' instances in the store, by occurrence.
func (e *env) instances(series uuid.UUID) []task.Task {
	e.store.mu.Lock()
	defer e.store.mu.Unlock()
	var out []task.Task
	for _, t := range e.store.tasks {
		if t.ParentRecurringTaskID != nil && *t.ParentRecurringTaskID == series {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b task.Task) int { return a.OccurrenceDate.Compare(*b.OccurrenceDate) })
	return out
}

func (e *env) createSeries(t *testing.T, d task.Draft) task.Task {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	return mustOK(t)(e.placed(id).Create(context.Background(), &actors.CreateRequest{Request: actors.Request{UserID: "alice"}, Draft: d}))
}

// fire delivers the series reminder as Dapr would (again, if it is a
// duplicate delivery).
func (e *env) fire(series uuid.UUID) { e.placed(series).Remind(context.Background(), "series", nil) }

func occurrences(ts []task.Task) []time.Time {
	var out []time.Time
	for _, t := range ts {
		out = append(out, *t.OccurrenceDate)
	}
	return out
}

func TestSeriesCreatesInstancesOnItsReminder(t *testing.T) {
	t.Parallel()
	e := newEnv()
	t0 := e.clock().Add(time.Minute)
	s := e.createSeries(t, task.Draft{Title: "Stand-up", Tags: []string{"work"}, Priority: task.PriorityHigh,
		DueDate: &t0, RecurrencePattern: ptr("FREQ=MINUTELY;COUNT=3"), ReminderOffset: ptr("30s")})
	if s.Timezone == nil || *s.Timezone != "UTC" || s.RecurrenceMode == nil || *s.RecurrenceMode != "schedule" {
		t.Fatalf("series defaults: tz %v mode %v", s.Timezone, s.RecurrenceMode)
	}

	// The first instance exists at once, even though its occurrence is ahead.
	got := e.instances(s.ID)
	if len(got) != 1 || !got[0].OccurrenceDate.Equal(t0) || !got[0].DueDate.Equal(t0) || got[0].ID != task.InstanceID(s.ID, t0) ||
		got[0].Title != "Stand-up" || got[0].Priority != task.PriorityHigh || got[0].ReminderOffset == nil || got[0].UserID != "alice" {
		t.Fatalf("first instance %+v", got)
	}
	// Each instance is created 30s (the reminder offset, plus a 2s margin)
	// ahead of its occurrence, so that its reminder can fire.
	r, ok := e.reminders.get(s.ID, "series")
	if !ok || !r.due.Equal(t0.Add(28*time.Second)) || r.period != "30s" {
		t.Fatalf("series reminder %+v armed=%v", r, ok)
	}
	if r, ok := e.reminders.get(got[0].ID, "alarms"); !ok || !r.due.Equal(t0.Add(-30*time.Second)) {
		t.Fatalf("instance reminder %+v armed=%v", r, ok)
	}

	e.setClock(t0.Add(28 * time.Second))
	e.fire(s.ID)
	e.fire(s.ID) // a duplicate delivery creates nothing
	if got := occurrences(e.instances(s.ID)); !slices.EqualFunc(got, []time.Time{t0, t0.Add(time.Minute)}, time.Time.Equal) {
		t.Fatalf("after the second occurrence: %v", got)
	}
	e.setClock(t0.Add(90 * time.Second))
	e.fire(s.ID)
	if n := len(e.instances(s.ID)); n != 3 {
		t.Fatalf("%d instances after COUNT=3, want 3", n)
	}
	// COUNT reached: the series ended and its reminder is gone.
	if _, ok := e.reminders.get(s.ID, "series"); ok {
		t.Fatal("the reminder of an ended series is still armed")
	}
	st, _, _ := e.store.Series(context.Background(), s.ID)
	if st.EndedAt == nil || st.InstancesCreated != 3 || st.OccurrencesSkipped != 0 {
		t.Fatalf("series state %+v", st)
	}
	created := 0
	for _, typ := range e.store.eventTypes() {
		if typ == task.EventCreated {
			created++
		}
	}
	if created != 4 { // the series and its three instances
		t.Fatalf("%d task.created events, want 4", created)
	}
}

func TestSeriesAfterDowntimeCreatesOnlyTheLatestMissed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		policy      string
		wantCreated int
		wantSkipped int
	}{
		{actors.MissedLatest, 2, 9},
		{actors.MissedAll, 11, 0},
	} {
		t.Run(tt.policy, func(t *testing.T) {
			t.Parallel()
			e := newEnv()
			e.deps.Series.MissedPolicy = tt.policy
			t0 := e.clock()
			s := e.createSeries(t, task.Draft{Title: "Log", DueDate: &t0, RecurrencePattern: ptr("FREQ=MINUTELY")})
			// Down for ten minutes: ten occurrences passed unseen.
			e.setClock(t0.Add(10*time.Minute + 30*time.Second))
			e.fire(s.ID)
			got := e.instances(s.ID)
			if len(got) != tt.wantCreated || !got[len(got)-1].OccurrenceDate.Equal(t0.Add(10*time.Minute)) {
				t.Fatalf("instances at %v", occurrences(got))
			}
			st, _, _ := e.store.Series(context.Background(), s.ID)
			if st.OccurrencesSkipped != tt.wantSkipped || st.NextOccurrence == nil || !st.NextOccurrence.Equal(t0.Add(11*time.Minute)) {
				t.Fatalf("state %+v", st)
			}
		})
	}
}

func TestFromCompletionSeriesSpawnsOnCompletion(t *testing.T) {
	t.Parallel()
	e := newEnv()
	t0 := e.clock()
	s := e.createSeries(t, task.Draft{Title: "Water plants", DueDate: &t0, RecurrencePattern: ptr("daily/3:"),
		RecurrenceMode: ptr("from_completion"), Timezone: ptr("Europe/Berlin")})
	if _, ok := e.reminders.get(s.ID, "series"); ok {
		t.Fatal("a from_completion series needs no reminder")
	}
	first := e.instances(s.ID)
	if len(first) != 1 {
		t.Fatalf("%d instances", len(first))
	}
	doneAt := t0.Add(26 * time.Hour)
	e.setClock(doneAt)
	alice := actors.Request{UserID: "alice"}
	mustOK(t)(e.placed(first[0].ID).Complete(context.Background(), &alice))
	got := e.instances(s.ID)
	if len(got) != 2 || !got[1].DueDate.Equal(doneAt.AddDate(0, 0, 3)) || got[1].ID != task.FollowUpID(s.ID, first[0].ID) {
		t.Fatalf("after completion: %v", occurrences(got))
	}
	// Reopening and completing the same instance again spawns nothing new.
	mustOK(t)(e.placed(first[0].ID).Uncomplete(context.Background(), &alice))
	mustOK(t)(e.placed(first[0].ID).Complete(context.Background(), &alice))
	if n := len(e.instances(s.ID)); n != 2 {
		t.Fatalf("%d instances after completing again, want 2", n)
	}
}

func TestSeriesRescheduleAndStop(t *testing.T) {
	t.Parallel()
	e := newEnv()
	t0 := e.clock()
	s := e.createSeries(t, task.Draft{Title: "Report", DueDate: &t0, RecurrencePattern: ptr("daily:")})
	alice := actors.Request{UserID: "alice"}
	upd := mustOK(t)(e.placed(s.ID).Update(context.Background(), &actors.UpdateRequest{Request: alice,
		Patch: task.Patch{RecurrencePattern: task.Some("weekly:mon")}}))
	r, ok := e.reminders.get(s.ID, "series")
	// 2026-11-26 is a Thursday: the next Monday at 10:00.
	if !ok || !r.due.Equal(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("rescheduled reminder %+v %v (series %+v)", r, ok, upd)
	}
	mustOK(t)(e.placed(s.ID).Delete(context.Background(), &alice))
	if _, ok := e.reminders.get(s.ID, "series"); ok {
		t.Fatal("a deleted series keeps its reminder")
	}
	if n := len(e.instances(s.ID)); n != 1 {
		t.Fatalf("deleting the series removed instances: %d left", n)
	}
}

func TestSeriesOperationOnSeriesAndInstances(t *testing.T) {
	t.Parallel()
	e := newEnv()
	ctx := context.Background()
	t0 := e.clock()
	s := e.createSeries(t, task.Draft{Title: "Run", DueDate: &t0, RecurrencePattern: ptr("FREQ=MINUTELY")})
	for i := 1; i <= 2; i++ {
		e.setClock(t0.Add(time.Duration(i) * time.Minute))
		e.fire(s.ID)
	}
	inst := e.instances(s.ID)
	alice := actors.Request{UserID: "alice"}
	mustOK(t)(e.placed(inst[0].ID).Complete(ctx, &alice))

	r, err := e.placed(s.ID).StartSeriesOperation(ctx, &actors.OperationRequest{Request: alice, Kind: actors.OpSeriesUpdate,
		Patch: task.Patch{Title: task.Some("Run 5k"), RecurrencePattern: task.Some("FREQ=MINUTELY;INTERVAL=2")}})
	mustOK(t)(r, err)
	if r.OperationID == nil || len(e.workflows.started) != 1 || e.workflows.started[0].SeriesID != s.ID {
		t.Fatalf("operation %v started %+v", r.OperationID, e.workflows.started)
	}
	r, err = e.placed(inst[1].ID).StartSeriesOperation(ctx, &actors.OperationRequest{Request: alice, Kind: actors.OpSeriesDelete})
	wantErr(t, r, err, task.ErrNotSeries)

	op := e.workflows.started[0]
	if r, err := e.placed(s.ID).ApplySeriesOperation(ctx, &op); err != nil || r.Outcome != actors.OutcomeUpdated {
		t.Fatalf("apply to series: %+v %v", r, err)
	}
	if r, _ := e.placed(s.ID).ApplySeriesOperation(ctx, &op); r.Outcome != actors.OutcomeUnchanged {
		t.Fatalf("applying twice: %+v", r)
	}
	outcomes := map[uuid.UUID]string{}
	for _, in := range inst {
		r, err := e.placed(in.ID).SeriesChange(ctx, &op)
		if err != nil || r.Error != nil {
			t.Fatalf("series change: %+v %v", r, err)
		}
		outcomes[in.ID] = r.Outcome
		if r2, _ := e.placed(in.ID).SeriesChange(ctx, &op); r2.Outcome != actors.OutcomeKept && r2.Outcome != actors.OutcomeUnchanged {
			t.Fatalf("second application changed something: %+v", r2)
		}
	}
	if outcomes[inst[0].ID] != actors.OutcomeKept || outcomes[inst[1].ID] != actors.OutcomeUpdated || outcomes[inst[2].ID] != actors.OutcomeUpdated {
		t.Fatalf("outcomes %v", outcomes)
	}
	now := e.instances(s.ID)
	if now[0].Title != "Run" || now[1].Title != "Run 5k" || now[1].RecurrencePattern != nil {
		t.Fatalf("instances after the operation: %q %q", now[0].Title, now[1].Title)
	}

	del := actors.SeriesOperation{ID: uuid.New(), UserID: "alice", SeriesID: s.ID, Kind: actors.OpSeriesDelete}
	if r, _ := e.placed(s.ID).ApplySeriesOperation(ctx, &del); r.Outcome != actors.OutcomeDeleted {
		t.Fatalf("delete series: %+v", r)
	}
	if r, _ := e.placed(s.ID).ApplySeriesOperation(ctx, &del); r.Outcome != actors.OutcomeGone {
		t.Fatalf("delete series twice: %+v", r)
	}
	for _, in := range inst {
		_, _ = e.placed(in.ID).SeriesChange(ctx, &del)
	}
	left := e.instances(s.ID)
	if len(left) != 1 || left[0].ID != inst[0].ID || !left[0].Completed {
		t.Fatalf("after series delete: %v", occurrences(left))
	}
}

func TestControlOperationGoesToTheWorkflows(t *testing.T) {
	t.Parallel()
	e := newEnv()
	ctx := context.Background()
	series, op := uuid.New(), uuid.New()

	for _, req := range []actors.ControlRequest{
		{OperationID: op, Action: actors.ActionRetry, By: "ops"},
		{OperationID: op, Action: actors.ActionTerminate, By: "ops"},
	} {
		reply, err := e.placed(series).ControlOperation(ctx, &req)
		if err != nil || reply.Err() != nil || reply.Outcome != req.Action || *reply.OperationID != op {
			t.Fatalf("%s: reply %+v, err %v", req.Action, reply, err)
		}
	}
	want := []string{"retry " + op.String(), "terminate " + op.String() + " by ops"}
	if !slices.Equal(e.workflows.controls, want) {
		t.Fatalf("controls = %q, want %q", e.workflows.controls, want)
	}

	// A refusal travels to the caller with its reason.
	e.workflows.refuse = fmt.Errorf("%w: operation is completed", actors.ErrOperationState)
	reply, err := e.placed(series).ControlOperation(ctx, &actors.ControlRequest{OperationID: op, Action: actors.ActionRetry})
	if err != nil || !errors.Is(reply.Err(), actors.ErrOperationState) || !strings.Contains(reply.Err().Error(), "completed") {
		t.Fatalf("refused retry: reply %+v, err %v", reply, err)
	}
	reply, _ = e.placed(series).ControlOperation(ctx, &actors.ControlRequest{OperationID: op, Action: "pause"})
	if !errors.Is(reply.Err(), actors.ErrOperationState) {
		t.Fatalf("unknown action: reply %+v", reply)
	}
}
