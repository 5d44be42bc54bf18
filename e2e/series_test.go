package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/taskflow/taskflow/task"
)

type occurrenceItem struct {
	OccurrenceDate time.Time  `json:"occurrence_date"`
	TaskID         *uuid.UUID `json:"task_id"`
}

func (c *client) occurrences(series uuid.UUID, query string) []occurrenceItem {
	c.t.Helper()
	var out struct{ Items []occurrenceItem }
	c.must(200, "GET", "/api/v1/tasks/"+series.String()+"/occurrences?"+query, nil).decode(c.t, &out)
	return out.Items
}

// created returns the instances that exist among items.
func created(items []occurrenceItem) []occurrenceItem {
	var out []occurrenceItem
	for _, it := range items {
		if it.TaskID != nil {
			out = append(out, it)
		}
	}
	return out
}

func (c *client) waitInstances(series uuid.UUID, n int) []occurrenceItem {
	c.t.Helper()
	var got []occurrenceItem
	eventually(c.t, 60*time.Second, fmt.Sprintf("%d instances of series %s", n, series), func() bool {
		got = created(c.occurrences(series, "limit=50"))
		return len(got) >= n
	})
	return got
}

type operation struct {
	ID     uuid.UUID      `json:"id"`
	Status string         `json:"status"`
	Total  *int           `json:"total"`
	Done   int            `json:"done"`
	Result map[string]int `json:"result"`
	Error  *string        `json:"error"`
}

func (c *client) waitOperation(id uuid.UUID) operation {
	c.t.Helper()
	var op operation
	eventually(c.t, 90*time.Second, "operation "+id.String()+" to finish", func() bool {
		c.must(200, "GET", "/api/v1/operations/"+id.String(), nil).decode(c.t, &op)
		return op.Status == "completed" || op.Status == "failed"
	})
	if op.Status != "completed" {
		c.t.Fatalf("operation %s failed: %v", id, op.Error)
	}
	return op
}

// TestSecondlySeries: a SECONDLY series with COUNT=3 yields three
// instances, at the right occurrences, each published as task.created.
func TestSecondlySeries(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	alice := e.as(t, "alice-"+uuid.NewString())
	due := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second)
	s := alice.must(201, "POST", "/api/v1/tasks", map[string]any{
		"title": "Stretch", "tags": []string{"health"}, "due_date": due.Format(time.RFC3339),
		"recurrence_pattern": "FREQ=SECONDLY;INTERVAL=2;COUNT=3", "timezone": "Europe/Berlin",
	}).task(t)
	if s.Timezone == nil || *s.Timezone != "Europe/Berlin" || s.RecurrenceMode == nil || *s.RecurrenceMode != "schedule" {
		t.Fatalf("series %+v", s)
	}
	// The preview is the whole series, whether instances exist yet or not.
	preview := alice.occurrences(s.ID, "limit=10")
	want := []time.Time{due, due.Add(2 * time.Second), due.Add(4 * time.Second)}
	if len(preview) != 3 {
		t.Fatalf("preview %+v", preview)
	}
	for i, it := range preview {
		if !it.OccurrenceDate.Equal(want[i]) {
			t.Fatalf("preview[%d] = %v, want %v", i, it.OccurrenceDate, want[i])
		}
	}
	if preview[0].TaskID == nil {
		t.Fatal("the first instance is not created at once")
	}

	got := alice.waitInstances(s.ID, 3)
	for i, it := range got {
		inst := alice.must(200, "GET", "/api/v1/tasks/"+it.TaskID.String(), nil).task(t)
		if !it.OccurrenceDate.Equal(want[i]) || !inst.DueDate.Equal(want[i]) || *inst.ParentRecurringTaskID != s.ID ||
			inst.Title != "Stretch" || !slices.Equal(inst.Tags, []string{"health"}) || inst.RecurrencePattern != nil {
			t.Fatalf("instance %d: %+v", i, inst)
		}
		if i > 0 && inst.CreatedAt.Before(want[i]) {
			t.Errorf("instance %d created at %v, before its occurrence %v", i, inst.CreatedAt, want[i])
		}
		recs := e.events.wait(t, it.TaskID.String(), 1)
		if recs[0].Event.EventType != task.EventCreated || recs[0].Event.Task.OccurrenceDate == nil {
			t.Fatalf("instance %d events %+v", i, recs)
		}
	}
	// Three occurrences only.
	if n := len(created(alice.occurrences(s.ID, "limit=10"))); n != 3 {
		t.Fatalf("%d instances", n)
	}
}

// TestDuplicateReminderDeliveryCreatesNothingTwice delivers the series
// reminder again straight to the actors app, as a sidecar retrying a
// delivery would.
func TestDuplicateReminderDeliveryCreatesNothingTwice(t *testing.T) {
	// Not parallel: it counts the actors app's series ticks, which another
	// test's series on the shared stack would add to.
	e := sharedEnv(t)
	alice := e.as(t, "alice-"+uuid.NewString())
	due := time.Now().Add(time.Second).UTC().Truncate(time.Second)
	s := alice.must(201, "POST", "/api/v1/tasks", map[string]any{
		"title": "Check mail", "due_date": due.Format(time.RFC3339), "recurrence_pattern": "FREQ=SECONDLY;INTERVAL=4;COUNT=2",
	}).task(t)
	got := alice.waitInstances(s.ID, 2)

	// Deliver the series' tick three more times, through Dapr: each time a
	// one-shot reminder of the same name fires at once (the actors app
	// exposes no actor endpoint of its own to call).
	reminderURL := e.stack.App("actors").DaprURL + "/v1.0/actors/TaskActor/" + s.ID.String() + "/reminders/series"
	ticks := func() float64 {
		return metricValue(t, e.stack.App("actors").URL+"/metrics", `taskflow_actor_call_seconds_count{method="reminder_series",outcome="ok"}`)
	}
	for range 3 {
		before := ticks()
		body, _ := json.Marshal(map[string]any{"dueTime": "0s"})
		resp, err := e.sidecar(http.MethodPost, reminderURL, body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("register reminder: %d", resp.StatusCode)
		}
		// A one-shot reminder is gone once it has fired, and the series
		// actor has handled one more tick.
		eventually(t, 10*time.Second, "the redelivered tick to fire", func() bool {
			resp, err := http.Get(reminderURL)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode/100 != 2 && ticks() > before
		})
	}
	if n := len(created(alice.occurrences(s.ID, "limit=10"))); n != 2 {
		t.Fatalf("%d instances after redelivery, want 2", n)
	}
	// A barrier: a later write's event comes after anything the redelivery
	// could have published (one relay, id order).
	barrier := alice.must(200, "PATCH", "/api/v1/tasks/"+s.ID.String(), map[string]any{"description": "barrier"}).task(t)
	e.events.wait(t, barrier.ID.String(), 2)
	for _, it := range got {
		if n := len(e.firings(*it.TaskID, task.EventCreated)); n != 1 {
			t.Fatalf("instance %s has %d task.created events, want 1", it.TaskID, n)
		}
	}
}

// TestSeriesWideDelete stops a series: completed instances stay, open
// ones go, and the operation reports what it did.
func TestSeriesWideDelete(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	alice, bob := e.as(t, "alice-"+uuid.NewString()), e.as(t, "bob-"+uuid.NewString())
	due := time.Now().Add(time.Second).UTC().Truncate(time.Second)
	s := alice.must(201, "POST", "/api/v1/tasks", map[string]any{
		"title": "Practice", "due_date": due.Format(time.RFC3339), "recurrence_pattern": "FREQ=SECONDLY;COUNT=4",
	}).task(t)
	got := alice.waitInstances(s.ID, 4)
	for _, it := range got[:2] {
		alice.must(200, "POST", "/api/v1/tasks/"+it.TaskID.String()+"/complete", nil)
	}
	path := "/api/v1/tasks/" + s.ID.String() + "?scope=series"
	bob.must(404, "DELETE", path, nil)
	alice.must(422, "DELETE", "/api/v1/tasks/"+got[0].TaskID.String()+"?scope=series", nil) // an instance is not a series
	alice.must(400, "DELETE", "/api/v1/tasks/"+s.ID.String()+"?scope=everything", nil)

	r := alice.must(202, "DELETE", path, nil)
	var op operation
	r.decode(t, &op)
	if op.ID == uuid.Nil || r.header.Get("Location") != "/api/v1/operations/"+op.ID.String() {
		t.Fatalf("202 body %s, Location %q", r.body, r.header.Get("Location"))
	}
	bob.must(404, "GET", "/api/v1/operations/"+op.ID.String(), nil)
	op = alice.waitOperation(op.ID)
	if op.Total == nil || *op.Total != 3 || op.Done != 3 || op.Result["deleted"] != 3 {
		t.Fatalf("operation %+v", op)
	}
	alice.must(404, "GET", "/api/v1/tasks/"+s.ID.String(), nil)
	for i, it := range got {
		status := alice.do("GET", "/api/v1/tasks/"+it.TaskID.String(), nil).status
		if (i < 2 && status != 200) || (i >= 2 && status != 404) {
			t.Errorf("instance %d (completed=%v): GET %d", i, i < 2, status)
		}
	}
}

// TestFromCompletionSeries: the next instance is due one interval after
// the previous one was completed.
func TestFromCompletionSeries(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	alice := e.as(t, "alice-"+uuid.NewString())
	s := alice.must(201, "POST", "/api/v1/tasks", map[string]any{
		"title": "Water plants", "due_date": time.Now().UTC().Format(time.RFC3339),
		"recurrence_pattern": "daily/3:", "recurrence_mode": "from_completion", "timezone": "America/New_York",
	}).task(t)
	first := alice.waitInstances(s.ID, 1)
	done := alice.must(200, "POST", "/api/v1/tasks/"+first[0].TaskID.String()+"/complete", nil).task(t)
	got := alice.waitInstances(s.ID, 2)
	next := alice.must(200, "GET", "/api/v1/tasks/"+got[1].TaskID.String(), nil).task(t)
	ny, _ := time.LoadLocation("America/New_York")
	want := done.CompletedAt.In(ny).AddDate(0, 0, 3)
	if !next.DueDate.Equal(want) {
		t.Fatalf("next instance due %v, want %v (completed %v)", next.DueDate, want, done.CompletedAt)
	}
}

// TestSeriesValidation: rules are checked and problems name the rule.
func TestSeriesValidation(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	alice := e.as(t, "alice-"+uuid.NewString())
	due := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, tt := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"unknown part", map[string]any{"title": "x", "due_date": due, "recurrence_pattern": "FREQ=DAILY;BYDAYS=MO"}, "recurrence_pattern"},
		{"never occurs", map[string]any{"title": "x", "due_date": due, "recurrence_pattern": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "recurrence_pattern"},
		{"bad shorthand", map[string]any{"title": "x", "due_date": due, "recurrence_pattern": "weekly:mnday"}, "recurrence_pattern"},
		{"bad zone", map[string]any{"title": "x", "due_date": due, "recurrence_pattern": "daily:", "timezone": "Mars/Olympus"}, "timezone"},
		{"bad mode", map[string]any{"title": "x", "due_date": due, "recurrence_pattern": "daily:", "recurrence_mode": "sometimes"}, "recurrence_mode"},
		{"no due date", map[string]any{"title": "x", "recurrence_pattern": "daily:"}, "recurrence_pattern"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := alice.do("POST", "/api/v1/tasks", tt.body)
			var p struct{ Errors []task.FieldError }
			r.decode(t, &p)
			if r.status != 422 || len(p.Errors) == 0 || p.Errors[0].Field != tt.field {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	// The client's Time-Zone header is the default zone of a series.
	s := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "x", "due_date": due, "recurrence_pattern": "monthly:last"},
		"Time-Zone", "Asia/Tokyo").task(t)
	if s.Timezone == nil || *s.Timezone != "Asia/Tokyo" {
		t.Fatalf("timezone %v", s.Timezone)
	}
	alice.must(400, "GET", "/api/v1/tasks/"+s.ID.String()+"/occurrences?limit=0", nil)
	plain := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "plain"}).task(t)
	alice.must(422, "GET", "/api/v1/tasks/"+plain.ID.String()+"/occurrences", nil)
}

// TestSeriesWorkflowSurvivesACrash kills the actors app in the middle of a
// series-wide update (a failpoint exits after two instances), restarts
// it, and expects the workflow to finish with every instance changed once.
func TestSeriesWorkflowSurvivesACrash(t *testing.T) {
	t.Parallel()
	e := startStack(t, stackOptions{})
	ctx := t.Context()
	alice := e.as(t, "alice-"+uuid.NewString())
	due := time.Now().Add(time.Second).UTC().Truncate(time.Second)
	s := alice.must(201, "POST", "/api/v1/tasks", map[string]any{
		"title": "Drill", "due_date": due.Format(time.RFC3339), "recurrence_pattern": "FREQ=SECONDLY;COUNT=6",
	}).task(t)
	got := alice.waitInstances(s.ID, 6)

	if err := e.stack.StopApp(ctx, "actors", false); err != nil {
		t.Fatal(err)
	}
	if err := e.stack.StartApp(ctx, "actors", map[string]string{"TASKFLOW_FAILPOINT": "workflow-crash-after-2"}); err != nil {
		t.Fatal(err)
	}
	var op operation
	alice.must(202, "PATCH", "/api/v1/tasks/"+s.ID.String()+"?scope=series", map[string]any{"title": "Fire drill"}).decode(t, &op)
	actorsAddr := strings.TrimPrefix(e.stack.App("actors").URL, "http://")
	eventually(t, 60*time.Second, "the actors app to crash mid-workflow", func() bool {
		c, err := net.DialTimeout("tcp", actorsAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	var mid operation
	alice.must(200, "GET", "/api/v1/operations/"+op.ID.String(), nil).decode(t, &mid)
	if mid.Status == "completed" {
		t.Fatalf("the operation completed before the crash: %+v", mid)
	}
	if err := e.stack.StartApp(ctx, "actors", nil); err != nil {
		t.Fatal(err)
	}
	op = alice.waitOperation(op.ID)
	if op.Result["updated"] != 7 || op.Done != 7 {
		dumpOperations(t, e.dbURL)
		t.Fatalf("operation %+v, want the series and its 6 instances updated", op)
	}
	for _, it := range got {
		inst := alice.must(200, "GET", "/api/v1/tasks/"+it.TaskID.String(), nil).task(t)
		if inst.Title != "Fire drill" || inst.Version != 2 {
			t.Errorf("instance %s: title %q version %d (want the change applied exactly once)", inst.ID, inst.Title, inst.Version)
		}
		recs := e.events.wait(t, it.TaskID.String(), 2)
		eventually(t, 30*time.Second, "the instance's update event", func() bool {
			recs = e.events.forTask(it.TaskID.String())
			for _, r := range recs {
				if r.Event.EventType == task.EventUpdated {
					return true
				}
			}
			return false
		})
		updates := map[uuid.UUID]bool{}
		for _, r := range recs {
			if r.Event.EventType == task.EventUpdated {
				updates[r.Event.EventID] = true
			}
		}
		if len(updates) != 1 {
			t.Errorf("instance %s has %d distinct task.updated events, want 1", inst.ID, len(updates))
		}
	}
}

func dumpOperations(t testing.TB, dbURL string) {
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Log(err)
		return
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(context.Background(), `SELECT o.id, o.status, o.created_at, i.task_id, i.outcome, i.applied_at
		FROM operations o LEFT JOIN operation_items i ON i.operation_id = o.id ORDER BY o.created_at, i.applied_at`)
	for rows.Next() {
		vals, _ := rows.Values()
		t.Log(vals...)
	}
}
