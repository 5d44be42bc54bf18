package task_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/task"
)

func TestReminderFields(t *testing.T) {
	t.Parallel()
	due := now.Add(24 * time.Hour)
	at := now.Add(2 * time.Hour)
	tests := []struct {
		name       string
		d          task.Draft
		wantFields []string
		check      func(t *testing.T, got task.Task)
	}{
		{name: "reminder_offset is one offset reminder", d: task.Draft{Title: "x", DueDate: &due, ReminderOffset: ptr("1 hour")},
			check: func(t *testing.T, got task.Task) {
				if len(got.Reminders) != 1 || *got.Reminders[0].Offset != "1 hour" || *got.ReminderOffset != "1 hour" {
					t.Fatalf("%+v", got.Reminders)
				}
			}},
		{name: "a list of offsets and times", d: task.Draft{Title: "x", DueDate: &due,
			Reminders: []task.ReminderSpec{{At: &at}, {Offset: ptr("90m")}, {Offset: ptr("1 hour 30 minutes")}}},
			check: func(t *testing.T, got task.Task) {
				// 90m and "1 hour 30 minutes" are the same reminder.
				if len(got.Reminders) != 2 || got.ReminderOffset == nil || *got.ReminderOffset != "90m" {
					t.Fatalf("%+v offset %v", got.Reminders, got.ReminderOffset)
				}
			}},
		{name: "absolute reminder without due date", d: task.Draft{Title: "x", Reminders: []task.ReminderSpec{{At: &at}}},
			check: func(t *testing.T, got task.Task) {
				if len(got.Reminders) != 1 || got.ReminderOffset != nil {
					t.Fatalf("%+v", got.Reminders)
				}
			}},
		{name: "both fields", d: task.Draft{Title: "x", DueDate: &due, ReminderOffset: ptr("1h"), Reminders: []task.ReminderSpec{{At: &at}}},
			wantFields: []string{"reminder_offset"}},
		{name: "offset without due date", d: task.Draft{Title: "x", Reminders: []task.ReminderSpec{{Offset: ptr("1h")}}},
			wantFields: []string{"reminders[0].offset"}},
		{name: "neither offset nor at", d: task.Draft{Title: "x", Reminders: []task.ReminderSpec{{}}}, wantFields: []string{"reminders[0]"}},
		{name: "bad offset", d: task.Draft{Title: "x", DueDate: &due, Reminders: []task.ReminderSpec{{Offset: ptr("later")}}},
			wantFields: []string{"reminders[0].offset"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := task.New(uuid.New(), "u", tt.d, now)
			if tt.wantFields != nil {
				if f := fields(t, err); !slices.Equal(f, tt.wantFields) {
					t.Fatalf("fields %v, want %v", f, tt.wantFields)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

func TestReminderOffsetPatchKeepsAbsoluteReminders(t *testing.T) {
	t.Parallel()
	due, at := now.Add(24*time.Hour), now.Add(time.Hour)
	tk, err := task.New(uuid.New(), "u", task.Draft{Title: "x", DueDate: &due,
		Reminders: []task.ReminderSpec{{At: &at}, {Offset: ptr("1h")}}}, now)
	if err != nil {
		t.Fatal(err)
	}
	next, changed, err := tk.Apply(task.Patch{ReminderOffset: task.Some("10m")}, now)
	if err != nil || len(next.Reminders) != 2 || *next.ReminderOffset != "10m" || !slices.Contains(changed, "reminders") {
		t.Fatalf("%+v %v %v", next.Reminders, changed, err)
	}
	next, _, err = next.Apply(task.Patch{ReminderOffset: task.Null[string]()}, now)
	if err != nil || len(next.Reminders) != 1 || next.Reminders[0].At == nil || next.ReminderOffset != nil {
		t.Fatalf("%+v %v", next.Reminders, err)
	}
}

func plan(t *testing.T, next task.Task, rows []task.Alarm, at time.Time, past task.Past) task.AlarmPlan {
	t.Helper()
	p, err := task.PlanAlarms(next, rows, at, past)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ids(as []task.Alarm) []uuid.UUID {
	var out []uuid.UUID
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

func TestPlanAlarms(t *testing.T) {
	t.Parallel()
	due := now.Add(3 * time.Hour)
	tk, err := task.New(uuid.New(), "u", task.Draft{Title: "x", DueDate: &due, ReminderOffset: ptr("1h")}, now)
	if err != nil {
		t.Fatal(err)
	}
	remID, overdueID := tk.Reminders[0].ID, task.OverdueID(tk.ID)

	// A new task arms its reminder and its overdue notice.
	p := plan(t, tk, nil, now, task.PastRefuse)
	if len(p.Rows) != 2 || len(p.Arm) != 2 || len(p.Disarm) != 0 || !p.Arm[0].TriggerAt.Equal(due.Add(-time.Hour)) {
		t.Fatalf("create: %+v", p)
	}
	rows := p.Rows
	if s := task.ReminderStatus(rows); s == nil || *s != task.AlarmPending {
		t.Fatalf("status %v", s)
	}
	// Nothing changed: nothing to do (a snooze would be kept).
	if p := plan(t, tk, rows, now, task.PastRefuse); !p.Empty() {
		t.Fatalf("unchanged: %+v", p)
	}
	// Moving the due date reschedules both.
	later := due.Add(time.Hour)
	moved, _, _ := tk.Apply(task.Patch{DueDate: task.Some(later)}, now)
	p = plan(t, moved, rows, now, task.PastRefuse)
	if len(p.Arm) != 2 || !p.Arm[0].TriggerAt.Equal(later.Add(-time.Hour)) {
		t.Fatalf("reschedule: %+v", p)
	}
	// A reminder already due is refused, unless asked to fire now.
	soon := now.Add(30 * time.Minute)
	past, _, _ := tk.Apply(task.Patch{DueDate: task.Some(soon)}, now)
	if _, err := task.PlanAlarms(past, rows, now, task.PastRefuse); !errors.Is(err, task.ErrPastReminder) || !errors.Is(err, task.ErrValidation) {
		t.Fatalf("past reminder: %v", err)
	}
	p = plan(t, past, rows, now, task.PastFire)
	if len(p.Arm) != 2 || !p.Arm[0].TriggerAt.Equal(soon.Add(-time.Hour)) || p.Arm[0].Status != task.AlarmPending {
		t.Fatalf("fire now: %+v", p)
	}
	// Completing cancels everything pending; reopening re-arms what is ahead.
	done, _, _ := tk.Complete(now)
	p = plan(t, done, rows, now, task.PastRefuse)
	if !slices.Equal(ids(p.Disarm), []uuid.UUID{remID, overdueID}) || len(p.Arm) != 0 {
		t.Fatalf("complete: %+v", p)
	}
	rows = task.MergeAlarms(rows, p.Rows)
	if s := task.ReminderStatus(rows); s == nil || *s != task.AlarmCancelled {
		t.Fatalf("status after complete %v", s)
	}
	open, _, _ := done.Uncomplete(now)
	p = plan(t, open, rows, now, task.PastSkip)
	if !slices.Equal(ids(p.Arm), []uuid.UUID{remID, overdueID}) {
		t.Fatalf("uncomplete: %+v", p)
	}
	// Reopened long after: what is past stays cancelled, nothing fires.
	gone, _, _ := done.Uncomplete(due.Add(time.Hour))
	if p := plan(t, gone, rows, due.Add(time.Hour), task.PastSkip); len(p.Arm) != 0 {
		t.Fatalf("reopened late: %+v", p)
	}
	// A due date already past raises no overdue notice.
	was := now.Add(-time.Hour)
	old, err := task.New(uuid.New(), "u", task.Draft{Title: "late", DueDate: &was}, now)
	if err != nil {
		t.Fatal(err)
	}
	if p := plan(t, old, nil, now, task.PastRefuse); !p.Empty() {
		t.Fatalf("past due date: %+v", p)
	}
}
