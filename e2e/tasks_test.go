package e2e_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/task"
)

type listPage struct {
	Items      []task.Task `json:"items"`
	NextCursor *string     `json:"next_cursor"`
}

func (c *client) list(query string) []task.Task {
	c.t.Helper()
	var p listPage
	c.must(200, "GET", "/api/v1/tasks?"+query, nil).decode(c.t, &p)
	return p.Items
}

func ids(ts []task.Task) []uuid.UUID {
	var out []uuid.UUID
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

// TestTaskLifecycle drives the API through a task's whole life and reads
// the matching events back from the Kafka topic.
func TestTaskLifecycle(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	alice, bob := e.as(t, "alice-"+uuid.NewString()), e.as(t, "bob-"+uuid.NewString())
	due := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	body := map[string]any{
		"title": "Quarterly report", "description": "numbers for Q4", "priority": "high",
		"tags": []string{"Work", "finance"}, "due_date": due.Format(time.RFC3339), "reminder_offset": "1 day",
	}

	// Create, and retry the create with the same Idempotency-Key.
	r := alice.must(201, "POST", "/api/v1/tasks", body, "Idempotency-Key", "report-q4", "X-Correlation-ID", "corr-create")
	created := r.task(t)
	if created.Version != 1 || created.Title != "Quarterly report" || !slices.Equal(created.Tags, []string{"work", "finance"}) ||
		!created.DueDate.Equal(due) || r.header.Get("Location") != "/api/v1/tasks/"+created.ID.String() {
		t.Fatalf("created %+v", created)
	}
	retry := alice.must(201, "POST", "/api/v1/tasks", body, "Idempotency-Key", "report-q4")
	if retry.task(t).ID != created.ID || retry.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("idempotent retry made %s", retry.body)
	}
	body["title"] = "Another report"
	alice.must(422, "POST", "/api/v1/tasks", body, "Idempotency-Key", "report-q4")
	other := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "Water plants", "priority": "low", "tags": []string{"home"}}).task(t)

	path := "/api/v1/tasks/" + created.ID.String()
	if got := alice.must(200, "GET", path, nil).task(t); got.ID != created.ID || got.Description != "numbers for Q4" {
		t.Fatalf("get %+v", got)
	}
	// Another user sees nothing of it and can change nothing.
	bob.must(404, "GET", path, nil)
	bob.must(404, "PATCH", path, map[string]any{"title": "mine now"})
	bob.must(404, "POST", path+"/complete", nil)
	bob.must(404, "DELETE", path, nil)
	if got := bob.list(""); len(got) != 0 {
		t.Fatalf("bob lists %d tasks", len(got))
	}

	// Lists read PostgreSQL and show each write as soon as it answered.
	for query, want := range map[string][]uuid.UUID{
		"":                           {other.ID, created.ID},
		"sort=created_at&order=asc":  {created.ID, other.ID},
		"status=open":                {other.ID, created.ID},
		"status=completed":           nil,
		"priority=high":              {created.ID},
		"tag=home":                   {other.ID},
		"q=" + url.QueryEscape("q4"): {created.ID},
		"due_before=" + url.QueryEscape(due.Add(time.Hour).Format(time.RFC3339)): {created.ID},
		"due_after=" + url.QueryEscape(due.Format(time.RFC3339)):                 nil,
		"sort=due_date":      {created.ID, other.ID},
		"sort=title&limit=1": {created.ID},
	} {
		if got := ids(alice.list(query)); !slices.Equal(got, want) {
			t.Errorf("list ?%s = %v, want %v", query, got, want)
		}
	}
	alice.must(400, "GET", "/api/v1/tasks?status=finished", nil)

	// Update (guarded by If-Match), complete, then delete.
	upd := alice.must(200, "PATCH", path, map[string]any{"title": "Quarterly report (final)", "reminder_offset": nil},
		"If-Match", `"1"`, "X-Correlation-ID", "corr-update").task(t)
	if upd.Version != 2 || upd.ReminderOffset != nil {
		t.Fatalf("updated %+v", upd)
	}
	alice.must(412, "PATCH", path, map[string]any{"title": "stale"}, "If-Match", `"1"`)
	alice.must(422, "PATCH", path, map[string]any{"priority": "urgent"})
	done := alice.must(200, "POST", path+"/complete", nil).task(t)
	if !done.Completed || done.Version != 3 {
		t.Fatalf("completed %+v", done)
	}
	if got := ids(alice.list("status=completed")); !slices.Equal(got, []uuid.UUID{created.ID}) {
		t.Fatalf("completed list %v", got)
	}
	alice.must(204, "DELETE", path, nil)
	alice.must(404, "GET", path, nil)

	// The topic holds the four changes in version order, keyed by task id.
	recs := e.events.wait(t, created.ID.String(), 4)
	if len(recs) != 4 {
		t.Fatalf("%d events for the task, want exactly 4 (the idempotent retry, the refused writes and bob's attempts publish nothing)", len(recs))
	}
	wantTypes := []task.EventType{task.EventCreated, task.EventUpdated, task.EventCompleted, task.EventDeleted}
	seen := map[uuid.UUID]bool{}
	for i, rec := range recs {
		ev := rec.Event
		if ev.EventType != wantTypes[i] || ev.Version != int64(i+1) || rec.CloudEvent["type"] != string(wantTypes[i]) ||
			rec.CloudEvent["id"] != ev.EventID.String() || rec.Key != created.ID.String() || rec.Partition != recs[0].Partition ||
			ev.UserID != created.UserID || ev.Task.ID != created.ID || ev.Task.Version != ev.Version || seen[ev.EventID] {
			t.Errorf("event %d: key %s partition %d type %s version %d cloudevent %v", i, rec.Key, rec.Partition, ev.EventType, ev.Version, rec.CloudEvent)
		}
		seen[ev.EventID] = true
		if i > 0 && rec.Offset <= recs[i-1].Offset {
			t.Errorf("event %d at offset %d after offset %d", i, rec.Offset, recs[i-1].Offset)
		}
	}
	if recs[0].Event.CorrelationID != "corr-create" || recs[1].Event.CorrelationID != "corr-update" {
		t.Errorf("correlation ids %q %q", recs[0].Event.CorrelationID, recs[1].Event.CorrelationID)
	}
	if !slices.Equal(recs[1].Event.ChangedFields, []string{"reminder_offset", "reminder_status", "reminders", "title"}) ||
		recs[1].Event.Task.Title != "Quarterly report (final)" {
		t.Errorf("update event %+v", recs[1].Event)
	}
	if !slices.Equal(recs[2].Event.ChangedFields, []string{"completed", "completed_at"}) || !recs[2].Event.Task.Completed {
		t.Errorf("complete event %+v", recs[2].Event)
	}

	// Both subscribers received the events through Dapr.
	for _, app := range []string{"notifier", "auditor"} {
		metric := fmt.Sprintf(`taskflow_%s_events_received_total{type="task.deleted"}`, app)
		eventually(t, 30*time.Second, app+" to receive the delete", func() bool {
			return metricValue(t, e.stack.App(app).URL+"/metrics", metric) >= 1
		})
	}
}

func metricValue(t testing.TB, url, series string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

// TestHealthEndpoints checks every app's liveness and readiness.
func TestHealthEndpoints(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	for _, app := range []string{"api", "actors", "notifier", "auditor"} {
		for _, path := range []string{"/health/live", "/health/ready"} {
			resp, err := http.Get(e.stack.App(app).URL + path)
			if err != nil {
				t.Fatalf("%s %s: %v", app, path, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), `"status":"ok"`) {
				t.Errorf("%s %s = %d %s", app, path, resp.StatusCode, b)
			}
			if path == "/health/ready" && (!strings.Contains(string(b), `"postgres":"ok"`) || !strings.Contains(string(b), `"dapr":"ok"`)) {
				t.Errorf("%s readiness does not check postgres and dapr: %s", app, b)
			}
		}
	}
}
