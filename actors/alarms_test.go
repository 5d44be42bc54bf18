package actors_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/actors"
	"github.com/taskflow/taskflow/task"
)

func (e *env) eventsOf(typ task.EventType) []task.Event {
	e.store.mu.Lock()
	defer e.store.mu.Unlock()
	var out []task.Event
	for _, ev := range e.store.events {
		if ev.EventType == typ {
			out = append(out, ev)
		}
	}
	return out
}

func TestRemindersFireOnceAndFollowTheTask(t *testing.T) {
	t.Parallel()
	e := newEnv()
	ctx := context.Background()
	t0 := e.clock()
	due := t0.Add(time.Hour)
	alice := actors.Request{UserID: "alice"}
	id := uuid.Must(uuid.NewV7())
	tk := mustOK(t)(e.placed(id).Create(ctx, &actors.CreateRequest{Request: alice,
		Draft: task.Draft{Title: "Call mum", DueDate: &due, ReminderOffset: ptr("10m")}}))
	rem := tk.Reminders[0].ID
	name := "reminder:" + rem.String()
	if r, ok := e.reminders.get(id, name); !ok || !r.due.Equal(due.Add(-10*time.Minute)) {
		t.Fatalf("reminder %+v %v", r, ok)
	}
	if r, ok := e.reminders.get(id, "reminder:"+task.OverdueID(id).String()); !ok || !r.due.Equal(due) {
		t.Fatalf("overdue notice %+v %v", r, ok)
	}
	if tk.ReminderStatus == nil || *tk.ReminderStatus != "pending" {
		t.Fatalf("reminder_status %v", tk.ReminderStatus)
	}

	// Fired (a second late), then delivered twice more: one event.
	fireAt := due.Add(-10*time.Minute + time.Second)
	e.setClock(fireAt)
	for range 3 {
		e.placed(id).Remind(context.Background(), name, nil)
	}
	// A different activation of the same actor (a move to another host)
	// receiving the delivery again publishes nothing either.
	e.actor(id).Remind(context.Background(), name, nil)
	fired := e.eventsOf(task.EventReminderTriggered)
	if len(fired) != 1 || fired[0].Reminder.ReminderID != rem || fired[0].Reminder.LateMS != 1000 ||
		!fired[0].Reminder.ScheduledAt.Equal(due.Add(-10*time.Minute)) || *fired[0].Task.ReminderStatus != "sent" {
		t.Fatalf("fired %+v", fired)
	}
	if _, ok := e.reminders.get(id, name); ok {
		t.Fatal("the actor reminder of a fired reminder is still registered")
	}

	// Moving the due date re-arms it (even though it fired).
	later := due.Add(time.Hour)
	mustOK(t)(e.placed(id).Update(ctx, &actors.UpdateRequest{Request: alice, Patch: task.Patch{DueDate: task.Some(later)}}))
	if r, ok := e.reminders.get(id, name); !ok || !r.due.Equal(later.Add(-10*time.Minute)) {
		t.Fatalf("rescheduled %+v %v", r, ok)
	}
	// Snooze it by 5 minutes from now.
	r, err := e.placed(id).Snooze(ctx, &actors.SnoozeRequest{Request: alice, ReminderID: rem, For: 5 * time.Minute})
	mustOK(t)(r, err)
	if got, ok := e.reminders.get(id, name); !ok || !got.due.Equal(fireAt.Add(5*time.Minute)) || !r.Alarm.TriggerAt.Equal(fireAt.Add(5*time.Minute)) {
		t.Fatalf("snoozed %+v %v", got, ok)
	}
	r, err = e.placed(id).Snooze(ctx, &actors.SnoozeRequest{Request: alice, ReminderID: uuid.New(), For: time.Minute})
	wantErr(t, r, err, task.ErrReminderNotFound)

	// Completing cancels everything: nothing fires, no actor reminder left.
	mustOK(t)(e.placed(id).Complete(ctx, &alice))
	if _, ok := e.reminders.get(id, name); ok {
		t.Fatal("completing left the reminder armed")
	}
	e.setClock(later)
	e.placed(id).Remind(context.Background(), name, nil) // a late delivery of a cancelled reminder
	if n := len(e.eventsOf(task.EventReminderTriggered)); n != 1 {
		t.Fatalf("%d reminder events after completing", n)
	}
	// Reopening before the due date re-arms what is ahead.
	e.setClock(later.Add(-30 * time.Minute))
	mustOK(t)(e.placed(id).Uncomplete(ctx, &alice))
	if _, ok := e.reminders.get(id, "reminder:"+task.OverdueID(id).String()); !ok {
		t.Fatal("reopening did not re-arm the overdue notice")
	}
	e.setClock(later.Add(time.Second))
	e.placed(id).Remind(context.Background(), "reminder:"+task.OverdueID(id).String(), nil)
	e.placed(id).Remind(context.Background(), "reminder:"+task.OverdueID(id).String(), nil)
	if over := e.eventsOf(task.EventOverdue); len(over) != 1 || over[0].Reminder.ReminderType != "overdue" {
		t.Fatalf("overdue events %+v", over)
	}
}

func TestPastReminderIsRefusedUnlessAsked(t *testing.T) {
	t.Parallel()
	e := newEnv()
	ctx := context.Background()
	due := e.clock().Add(5 * time.Minute)
	d := task.Draft{Title: "x", DueDate: &due, ReminderOffset: ptr("1 hour")}
	r, err := e.placed(uuid.New()).Create(ctx, &actors.CreateRequest{Request: actors.Request{UserID: "alice"}, Draft: d})
	wantErr(t, r, err, task.ErrValidation)
	id := uuid.New()
	tk := mustOK(t)(e.placed(id).Create(ctx, &actors.CreateRequest{Request: actors.Request{UserID: "alice"}, Draft: d, FirePastReminders: true}))
	if r, ok := e.reminders.get(id, "reminder:"+tk.Reminders[0].ID.String()); !ok || !r.due.Equal(e.clock()) ||
		tk.ReminderStatus == nil || *tk.ReminderStatus != "pending" {
		t.Fatalf("fire-now reminder %+v %v", r, ok)
	}
}
