package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/task"
)

type alarm struct {
	ReminderID   uuid.UUID  `json:"reminder_id"`
	Type         string     `json:"type"`
	ScheduledFor time.Time  `json:"scheduled_for"`
	TriggerAt    time.Time  `json:"trigger_at"`
	Status       string     `json:"status"`
	FiredAt      *time.Time `json:"fired_at"`
}

func (c *client) alarms(id uuid.UUID) []alarm {
	c.t.Helper()
	var out struct{ Items []alarm }
	c.must(200, "GET", "/api/v1/tasks/"+id.String()+"/reminders", nil).decode(c.t, &out)
	return out.Items
}

// firings returns the task's reminder (or overdue) events on the topic.
func (e *env) firings(id uuid.UUID, typ task.EventType) []task.Event {
	var out []task.Event
	for _, r := range e.events.forTask(id.String()) {
		if r.Event.EventType == typ {
			out = append(out, r.Event)
		}
	}
	return out
}

func (e *env) waitFirings(t testing.TB, id uuid.UUID, typ task.EventType, n int) []task.Event {
	t.Helper()
	var got []task.Event
	eventually(t, 60*time.Second, fmt.Sprintf("%d %s events of %s", n, typ, id), func() bool {
		got = e.firings(id, typ)
		return len(got) >= n
	})
	return got
}

// barrier makes a task whose reminder fires at at, and waits for it: when
// it returns, every reminder due before at that was going to fire has fired.
func (e *env) barrier(t testing.TB, c *client, at time.Time) {
	t.Helper()
	b := c.mustOnceAvailable(201, "POST", "/api/v1/tasks", map[string]any{"title": "barrier",
		"reminders": []map[string]any{{"at": at.Format(time.RFC3339Nano)}}, "fire_past_reminders": true}).task(t)
	e.waitFirings(t, b.ID, task.EventReminderTriggered, 1)
}

// alarmsReminder asks the actors' sidecar for the Dapr actor reminder that
// fires a task's alarms, and returns whether it exists and when it is due.
func (e *env) alarmsReminder(t testing.TB, taskID uuid.UUID) (exists bool, due time.Time) {
	t.Helper()
	url := fmt.Sprintf("%s/v1.0/actors/TaskActor/%s/reminders/alarms", e.stack.App("actors").DaprURL, taskID)
	resp, err := e.sidecar(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if b = bytes.TrimSpace(b); resp.StatusCode != 200 || len(b) == 0 || string(b) == "null" {
		return false, time.Time{}
	}
	var r struct {
		DueTime string `json:"dueTime"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("reminder %s: %v", b, err)
	}
	due, err = time.Parse(time.RFC3339Nano, r.DueTime)
	if err != nil {
		t.Fatalf("reminder due time %q: %v", r.DueTime, err)
	}
	return true, due
}

// agree checks that reminder_schedule and the Dapr actor reminders agree:
// a task with a pending row has its alarms reminder, due no later than its
// earliest pending alarm (unless that one's time has passed: then it fires
// at once); a task without one has none. A firing re-arms the reminder
// just after its event commits, so this polls for a short while.
func (e *env) agree(t testing.TB, c *client, ids ...uuid.UUID) {
	t.Helper()
	for _, id := range ids {
		var problem string
		deadline := time.Now().Add(5 * time.Second)
		for {
			problem = ""
			var earliest *time.Time
			for _, a := range c.alarms(id) {
				if a.Status == "pending" && (earliest == nil || a.TriggerAt.Before(*earliest)) {
					earliest = &a.TriggerAt
				}
			}
			exists, due := e.alarmsReminder(t, id)
			switch {
			case exists != (earliest != nil):
				problem = fmt.Sprintf("pending alarms: %v, alarms reminder exists: %v", earliest != nil, exists)
			case exists && earliest.After(time.Now().Add(time.Second)) && due.After(*earliest):
				problem = fmt.Sprintf("alarms reminder due %v, after the earliest pending alarm %v", due, *earliest)
			}
			if problem == "" || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if problem != "" {
			t.Errorf("task %s: %s", id, problem)
		}
	}
}

// TestReminderFiresOnTime: due in a few seconds with a 2 second offset,
// the reminder fires within a second of its time, once, and the task's
// reminder_status follows; the overdue notice fires at the due time.
func TestReminderFiresOnTime(t *testing.T) {
	// Not parallel: it holds the reminder to a second of its time, which it
	// measures on a stack that other tests are not loading meanwhile.
	e := sharedEnv(t)
	alice := e.as(t, "alice-"+uuid.NewString())
	due := time.Now().Add(4 * time.Second).UTC().Truncate(time.Millisecond)
	tk := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "Take the pizza out",
		"due_date": due.Format(time.RFC3339Nano), "reminder_offset": "2s"}).task(t)
	if len(tk.Reminders) != 1 || *tk.ReminderStatus != "pending" {
		t.Fatalf("created %+v", tk)
	}
	e.agree(t, alice, tk.ID)

	fired := e.waitFirings(t, tk.ID, task.EventReminderTriggered, 1)[0]
	scheduled := due.Add(-2 * time.Second)
	if !fired.Reminder.ScheduledAt.Equal(scheduled) || fired.Reminder.ReminderID != tk.Reminders[0].ID {
		t.Fatalf("fired %+v, scheduled %v", fired.Reminder, scheduled)
	}
	if late := fired.Reminder.FiredAt.Sub(scheduled); late < 0 || late > time.Second {
		t.Errorf("fired %v after its time, want within 1s", late)
	}
	if fired.Task.ReminderStatus == nil || *fired.Task.ReminderStatus != "sent" || fired.Task.ID != tk.ID {
		t.Errorf("snapshot %+v", fired.Task)
	}
	over := e.waitFirings(t, tk.ID, task.EventOverdue, 1)[0]
	if !over.Reminder.ScheduledAt.Equal(due) {
		t.Errorf("overdue %+v", over.Reminder)
	}
	e.barrier(t, alice, time.Now().Add(time.Second))
	if n, m := len(e.firings(tk.ID, task.EventReminderTriggered)), len(e.firings(tk.ID, task.EventOverdue)); n != 1 || m != 1 {
		t.Fatalf("%d reminder and %d overdue events, want one each", n, m)
	}
	got := alice.must(200, "GET", "/api/v1/tasks/"+tk.ID.String(), nil).task(t)
	if *got.ReminderStatus != "sent" {
		t.Errorf("reminder_status %v", *got.ReminderStatus)
	}
	e.agree(t, alice, tk.ID)
}

// TestReminderFollowsTheTask: moving the due date reschedules, completing
// cancels (nothing fires), snoozing re-fires, a past reminder is refused.
func TestReminderFollowsTheTask(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	alice := e.as(t, "alice-"+uuid.NewString())
	far := time.Now().Add(time.Hour).UTC().Truncate(time.Second)

	// Reschedule: the reminder fires at the new time.
	moved := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "moved", "due_date": far.Format(time.RFC3339), "reminder_offset": "1s"}).task(t)
	newDue := time.Now().Add(3 * time.Second).UTC().Truncate(time.Millisecond)
	alice.must(200, "PATCH", "/api/v1/tasks/"+moved.ID.String(), map[string]any{"due_date": newDue.Format(time.RFC3339Nano)})
	if f := e.waitFirings(t, moved.ID, task.EventReminderTriggered, 1)[0]; !f.Reminder.ScheduledAt.Equal(newDue.Add(-time.Second)) {
		t.Fatalf("rescheduled reminder fired for %v, want %v", f.Reminder.ScheduledAt, newDue.Add(-time.Second))
	}

	// Complete: cancelled, and nothing fires when its time comes.
	soon := time.Now().Add(3 * time.Second).UTC().Truncate(time.Millisecond)
	done := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "done early", "due_date": soon.Format(time.RFC3339Nano), "reminder_offset": "1s"}).task(t)
	alice.must(200, "POST", "/api/v1/tasks/"+done.ID.String()+"/complete", nil)
	for _, a := range alice.alarms(done.ID) {
		if a.Status != "cancelled" {
			t.Fatalf("after completing: %+v", a)
		}
	}
	e.agree(t, alice, done.ID)
	e.barrier(t, alice, soon.Add(time.Second))
	if n := len(e.firings(done.ID, task.EventReminderTriggered)) + len(e.firings(done.ID, task.EventOverdue)); n != 0 {
		t.Fatalf("a completed task fired %d times", n)
	}

	// Snooze: a fired reminder fires again later.
	sn := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "snoozed",
		"reminders": []map[string]any{{"at": time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)}}}).task(t)
	e.waitFirings(t, sn.ID, task.EventReminderTriggered, 1)
	var snoozed alarm
	alice.must(200, "POST", fmt.Sprintf("/api/v1/tasks/%s/reminders/%s/snooze", sn.ID, sn.Reminders[0].ID), map[string]any{"for": "2s"}).decode(t, &snoozed)
	if snoozed.Status != "pending" || !snoozed.TriggerAt.After(snoozed.ScheduledFor) {
		t.Fatalf("snoozed %+v", snoozed)
	}
	second := e.waitFirings(t, sn.ID, task.EventReminderTriggered, 2)[1]
	if !second.Reminder.ScheduledAt.Equal(snoozed.TriggerAt) {
		t.Fatalf("second firing %+v", second.Reminder)
	}
	alice.must(404, "POST", fmt.Sprintf("/api/v1/tasks/%s/reminders/%s/snooze", sn.ID, uuid.New()), map[string]any{"for": "2s"})
	alice.must(422, "POST", fmt.Sprintf("/api/v1/tasks/%s/reminders/%s/snooze", sn.ID, sn.Reminders[0].ID), map[string]any{"for": "soon"})
	e.as(t, "mallory").must(404, "GET", "/api/v1/tasks/"+sn.ID.String()+"/reminders", nil)

	// A reminder already due is refused, unless the client asks to fire it now.
	due := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	r := alice.do("POST", "/api/v1/tasks", map[string]any{"title": "late", "due_date": due, "reminder_offset": "1 hour"})
	var p struct{ Errors []task.FieldError }
	r.decode(t, &p)
	if r.status != 422 || len(p.Errors) != 1 || p.Errors[0].Field != "reminders[0]" {
		t.Fatalf("past reminder: %d %s", r.status, r.body)
	}
	now := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "late", "due_date": due, "reminder_offset": "1 hour", "fire_past_reminders": true}).task(t)
	e.waitFirings(t, now.ID, task.EventReminderTriggered, 1)
	e.agree(t, alice, moved.ID, done.ID, sn.ID, now.ID)
}

// TestDuplicateReminderDeliveryPublishesOnce redelivers a fired reminder
// straight to the actors app, as a sidecar retrying would.
func TestDuplicateReminderDeliveryPublishesOnce(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	alice := e.as(t, "alice-"+uuid.NewString())
	tk := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "once",
		"reminders": []map[string]any{{"at": time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)}}}).task(t)
	e.waitFirings(t, tk.ID, task.EventReminderTriggered, 1)
	for range 3 {
		body, _ := json.Marshal(map[string]any{"data": nil, "dueTime": "", "period": ""})
		req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/actors/TaskActor/%s/method/remind/reminder:%s", e.stack.App("actors").URL, tk.ID, tk.Reminders[0].ID), bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	e.barrier(t, alice, time.Now())
	if n := len(e.firings(tk.ID, task.EventReminderTriggered)); n != 1 {
		t.Fatalf("%d events after redelivery, want 1", n)
	}
}

// TestRecurringInstancesInheritReminders: each instance of a series gets
// the series' reminder offset relative to its own due date, and it fires.
func TestRecurringInstancesInheritReminders(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	alice := e.as(t, "alice-"+uuid.NewString())
	due := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second)
	s := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "Meds", "due_date": due.Format(time.RFC3339),
		"recurrence_pattern": "FREQ=SECONDLY;INTERVAL=3;COUNT=2", "reminder_offset": "1s"}).task(t)
	got := alice.waitInstances(s.ID, 2)
	for i, it := range got {
		f := e.waitFirings(t, *it.TaskID, task.EventReminderTriggered, 1)[0]
		if !f.Reminder.ScheduledAt.Equal(it.OccurrenceDate.Add(-time.Second)) {
			t.Errorf("instance %d reminder for %v, occurrence %v", i, f.Reminder.ScheduledAt, it.OccurrenceDate)
		}
	}
}

// TestReminderFiresLateAfterAnOutage stops the actors app and its sidecar
// before a reminder is due and starts them after: it fires once, late, and
// says how late.
func TestReminderFiresLateAfterAnOutage(t *testing.T) {
	t.Parallel()
	e := startStack(t, stackOptions{})
	ctx := t.Context()
	alice := e.as(t, "alice-"+uuid.NewString())
	// Far enough ahead that the create is in before it (a loaded machine's
	// first create on a new stack took over 3 s once).
	at := time.Now().Add(8 * time.Second).UTC().Truncate(time.Millisecond)
	tk := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "while down",
		"reminders": []map[string]any{{"at": at.Format(time.RFC3339Nano)}}}).task(t)
	if err := e.stack.StopApp(ctx, "actors", true); err != nil {
		t.Fatal(err)
	}
	// The outage outlasts the reminder's time.
	eventually(t, 30*time.Second, "the reminder's time to pass", func() bool { return time.Now().After(at.Add(2 * time.Second)) })
	if n := len(e.firings(tk.ID, task.EventReminderTriggered)); n != 0 {
		t.Fatalf("fired during the outage: %d", n)
	}
	if err := e.stack.StartApp(ctx, "actors", nil); err != nil {
		t.Fatal(err)
	}
	f := e.waitFirings(t, tk.ID, task.EventReminderTriggered, 1)[0]
	if f.Reminder.LateMS < 2000 || !f.Reminder.ScheduledAt.Equal(at) {
		t.Fatalf("late firing %+v, want at least 2000 ms late", f.Reminder)
	}
	e.barrier(t, alice, time.Now())
	if n := len(e.firings(tk.ID, task.EventReminderTriggered)); n != 1 {
		t.Fatalf("%d firings after the outage, want 1", n)
	}
	e.agree(t, alice, tk.ID)
}
