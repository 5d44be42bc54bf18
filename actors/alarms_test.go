package actors_test

import (
	"context"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
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

// alarms is the actor reminder that fires a task's alarms.
const alarms = "alarms"

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
	// Two alarms (the reminder and the overdue notice), one actor reminder,
	// due at the first of them: one registration per create.
	if r, ok := e.reminders.get(id, alarms); !ok || !r.due.Equal(due.Add(-10*time.Minute)) || r.period != "30s" || e.reminders.count() != 1 {
		t.Fatalf("alarms reminder %+v %v after %d registrations", r, ok, e.reminders.count())
	}
	if tk.ReminderStatus == nil || *tk.ReminderStatus != "pending" {
		t.Fatalf("reminder_status %v", tk.ReminderStatus)
	}

	// Fired (a second late), then delivered twice more: one event, and the
	// reminder moves on to the overdue notice.
	fireAt := due.Add(-10*time.Minute + time.Second)
	e.setClock(fireAt)
	for range 3 {
		e.placed(id).Remind(context.Background(), alarms, nil)
	}
	// A different activation of the same actor (a move to another host)
	// receiving the delivery again publishes nothing either.
	e.actor(id).Remind(context.Background(), alarms, nil)
	fired := e.eventsOf(task.EventReminderTriggered)
	if len(fired) != 1 || fired[0].Reminder.ReminderID != rem || fired[0].Reminder.LateMS != 1000 ||
		!fired[0].Reminder.ScheduledAt.Equal(due.Add(-10*time.Minute)) || *fired[0].Task.ReminderStatus != "sent" {
		t.Fatalf("fired %+v", fired)
	}
	if r, ok := e.reminders.get(id, alarms); !ok || !r.due.Equal(due) {
		t.Fatalf("after firing, the alarms reminder is %+v %v; want the overdue notice's time", r, ok)
	}

	// Moving the due date re-arms the reminder (even though it fired).
	later := due.Add(time.Hour)
	mustOK(t)(e.placed(id).Update(ctx, &actors.UpdateRequest{Request: alice, Patch: task.Patch{DueDate: task.Some(later)}}))
	if r, ok := e.reminders.get(id, alarms); !ok || !r.due.Equal(later.Add(-10*time.Minute)) {
		t.Fatalf("rescheduled %+v %v", r, ok)
	}
	// Snooze it by 5 minutes from now: it comes first.
	r, err := e.placed(id).Snooze(ctx, &actors.SnoozeRequest{Request: alice, ReminderID: rem, For: 5 * time.Minute})
	mustOK(t)(r, err)
	if got, ok := e.reminders.get(id, alarms); !ok || !got.due.Equal(fireAt.Add(5*time.Minute)) || !r.Alarm.TriggerAt.Equal(fireAt.Add(5*time.Minute)) {
		t.Fatalf("snoozed %+v %v", got, ok)
	}
	r, err = e.placed(id).Snooze(ctx, &actors.SnoozeRequest{Request: alice, ReminderID: uuid.New(), For: time.Minute})
	wantErr(t, r, err, task.ErrReminderNotFound)

	// Completing cancels everything: nothing fires, no actor reminder left.
	mustOK(t)(e.placed(id).Complete(ctx, &alice))
	if _, ok := e.reminders.get(id, alarms); ok {
		t.Fatal("completing left the reminder armed")
	}
	e.setClock(later)
	e.placed(id).Remind(context.Background(), alarms, nil) // a late delivery of a cancelled reminder
	if n := len(e.eventsOf(task.EventReminderTriggered)); n != 1 {
		t.Fatalf("%d reminder events after completing", n)
	}
	if _, ok := e.reminders.get(id, alarms); ok {
		t.Fatal("a late delivery re-armed a completed task's reminder")
	}
	// Reopening before the due date re-arms what is ahead.
	e.setClock(later.Add(-30 * time.Minute))
	mustOK(t)(e.placed(id).Uncomplete(ctx, &alice))
	if r, ok := e.reminders.get(id, alarms); !ok || !r.due.Equal(later.Add(-10*time.Minute)) {
		t.Fatalf("reopening armed %+v %v", r, ok)
	}
	// Delivered late, after the due date: both alarms fire, once each.
	e.setClock(later.Add(time.Second))
	e.placed(id).Remind(context.Background(), alarms, nil)
	e.placed(id).Remind(context.Background(), alarms, nil)
	if over := e.eventsOf(task.EventOverdue); len(over) != 1 || over[0].Reminder.ReminderType != "overdue" {
		t.Fatalf("overdue events %+v", over)
	}
	if n := len(e.eventsOf(task.EventReminderTriggered)); n != 2 {
		t.Fatalf("%d reminder events, want 2", n)
	}
	if _, ok := e.reminders.get(id, alarms); ok {
		t.Fatal("nothing is pending, but the alarms reminder is still registered")
	}
}

// TestLegacyReminderStillFires: a per-alarm reminder registered by an
// earlier version fires its alarm once and hands the rest to the alarms
// reminder.
func TestLegacyReminderStillFires(t *testing.T) {
	t.Parallel()
	e := newEnv()
	ctx := context.Background()
	due := e.clock().Add(time.Hour)
	id := uuid.Must(uuid.NewV7())
	tk := mustOK(t)(e.placed(id).Create(ctx, &actors.CreateRequest{Request: actors.Request{UserID: "alice"},
		Draft: task.Draft{Title: "x", DueDate: &due, ReminderOffset: ptr("10m")}}))
	legacy := "reminder:" + tk.Reminders[0].ID.String()
	_ = e.reminders.RegisterActorReminder(ctx, &dapr.RegisterActorReminderRequest{ActorID: id.String(), Name: legacy,
		DueTime: due.Add(-10 * time.Minute).Format(time.RFC3339Nano)})
	_ = e.reminders.UnregisterActorReminder(ctx, &dapr.UnregisterActorReminderRequest{ActorID: id.String(), Name: alarms})
	e.setClock(due.Add(-10 * time.Minute))
	e.actor(id).Remind(ctx, legacy, nil)
	e.actor(id).Remind(ctx, legacy, nil)
	if n := len(e.eventsOf(task.EventReminderTriggered)); n != 1 {
		t.Fatalf("%d reminder events, want 1", n)
	}
	if _, ok := e.reminders.get(id, legacy); ok {
		t.Fatal("the legacy reminder is still registered")
	}
	if r, ok := e.reminders.get(id, alarms); !ok || !r.due.Equal(due) {
		t.Fatalf("the overdue notice was not handed to the alarms reminder: %+v %v", r, ok)
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
	if r, ok := e.reminders.get(id, alarms); !ok || !r.due.Equal(e.clock()) ||
		tk.ReminderStatus == nil || *tk.ReminderStatus != "pending" {
		t.Fatalf("fire-now reminder %+v %v", r, ok)
	}
}
