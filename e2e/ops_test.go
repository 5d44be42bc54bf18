package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/taskflow/taskflow/auditor"
	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/task"
)

// asAdmin is a client whose token holds the ops view's role.
func (e *env) asAdmin(t testing.TB, user string) *client {
	t.Helper()
	tok, err := auth.Mint([]byte(auth.DevSecret), user, auth.MintOptions{TTL: time.Hour, Roles: []string{"taskflow-admin"}})
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, base: e.api, token: tok}
}

type opsApps struct {
	Apps []struct {
		AppID     string `json:"app_id"`
		Up        int    `json:"up"`
		Instances []struct {
			Status  string `json:"status"`
			Sidecar struct {
				AppID          string `json:"app_id"`
				RuntimeVersion string `json:"runtime_version"`
				Components     []struct{ Name, Type string }
				Subscriptions  []struct{ Topic string }
				Actors         []struct {
					Type  string
					Count *int
				}
			} `json:"sidecar"`
		} `json:"instances"`
	} `json:"apps"`
	ControlPlane map[string]struct{ Reachable bool } `json:"control_plane"`
}

// TestOpsView runs the ops view against a stack whose sidecars and apps
// authenticate each other with Dapr's app and API tokens: an operator sees
// the apps, the pending reminders, the operations (and retries one), the
// outbox and consumer lag, and the dead letters (and replays one); a
// normal user gets 403; and each metric the dashboards chart moves when
// its thing happens.
func TestOpsView(t *testing.T) {
	t.Parallel()
	const appToken, apiToken = "app-token-for-the-e2e-test", "api-token-for-the-e2e-test"
	e := startStack(t, stackOptions{env: map[string]string{"APP_API_TOKEN": appToken, "DAPR_API_TOKEN": apiToken}})
	ctx := t.Context()
	user := "alice-" + uuid.NewString()
	alice, ops := e.as(t, user), e.asAdmin(t, "ops-"+uuid.NewString())

	// The apps refuse the routes only their sidecar calls without the token.
	for _, rt := range []struct{ app, method, path string }{
		{"notifier", "POST", "/events/task-events"}, {"auditor", "GET", "/dapr/subscribe"}, {"auditor", "POST", "/events/task-events-dlq"},
	} {
		req, _ := http.NewRequestWithContext(ctx, rt.method, e.stack.App(rt.app).URL+rt.path, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s%s without the app token = %d, want 401", rt.method, rt.app, rt.path, resp.StatusCode)
		}
	}

	// A normal user may not look.
	for _, path := range []string{"/api/v1/ops", "/api/v1/ops/apps", "/api/v1/ops/dead-letters"} {
		alice.must(403, "GET", path, nil)
	}

	// Apps: all four, each with its sidecar's view.
	var apps opsApps
	eventually(t, 60*time.Second, "all four apps up with their sidecars", func() bool {
		ops.must(200, "GET", "/api/v1/ops/apps", nil).decode(t, &apps)
		up := 0
		for _, a := range apps.Apps {
			// Subscriptions load once the app is healthy, and the actors
			// app registers its types over its stream once it is connected:
			// wait for them.
			sc := a.Instances[0].Sidecar
			var ready bool
			switch a.AppID {
			case "api":
				ready = true
			case "actors":
				ready = len(sc.Actors) > 0
			default:
				ready = len(sc.Subscriptions) > 0
			}
			if a.Up > 0 && ready {
				up++
			}
		}
		return up == 4 && apps.ControlPlane["placement"].Reachable && apps.ControlPlane["scheduler"].Reachable
	})
	for _, a := range apps.Apps {
		sc := a.Instances[0].Sidecar
		if sc.AppID != a.AppID || sc.RuntimeVersion != "1.18.0" {
			t.Errorf("%s: sidecar %+v", a.AppID, sc)
		}
		var comps, topics, actorTypes []string
		for _, c := range sc.Components {
			comps = append(comps, c.Name)
		}
		for _, s := range sc.Subscriptions {
			topics = append(topics, s.Topic)
		}
		for _, ac := range sc.Actors {
			actorTypes = append(actorTypes, ac.Type)
			if ac.Type == "TaskActor" && ac.Count == nil {
				t.Errorf("TaskActor without an active count")
			}
		}
		switch a.AppID {
		case "actors":
			if !slices.Contains(comps, "taskflow-pubsub") || !slices.Contains(actorTypes, "TaskActor") {
				t.Errorf("actors sidecar: components %v actor types %v", comps, actorTypes)
			}
		case "auditor":
			if !slices.Contains(topics, task.Topic) || !slices.Contains(topics, auditor.DeadLetterTopic) {
				t.Errorf("auditor subscriptions %v", topics)
			}
		case "notifier":
			if !slices.Contains(topics, task.Topic) {
				t.Errorf("notifier subscriptions %v", topics)
			}
		}
	}

	// Reminders: a task's pending reminder, held by the scheduler.
	due := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	tk := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "Call the bank", "due_date": due.Format(time.RFC3339),
		"reminder_offset": "PT1H"}).task(t)
	var rem struct {
		Reminders []struct {
			TaskID    uuid.UUID `json:"task_id"`
			UserID    string    `json:"user_id"`
			Scheduler string    `json:"scheduler"`
			DueAt     time.Time `json:"due_at"`
		} `json:"reminders"`
	}
	ops.must(200, "GET", "/api/v1/ops/reminders", nil).decode(t, &rem)
	found := false
	for _, r := range rem.Reminders {
		if r.TaskID == tk.ID && r.DueAt.Equal(due.Add(-time.Hour)) {
			found = true
			if r.Scheduler != "held" || r.UserID != user {
				t.Errorf("reminder %+v: want held by the scheduler", r)
			}
		}
	}
	if !found {
		t.Fatalf("the task's reminder is not listed: %+v", rem)
	}

	// Operations: a series-wide change, listed; a completed one cannot be
	// retried; once it failed, a retry runs its workflow again.
	s := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "Stand-up",
		"due_date": time.Now().Add(time.Second).UTC().Format(time.RFC3339), "recurrence_pattern": "FREQ=SECONDLY;INTERVAL=2;COUNT=3"}).task(t)
	alice.waitInstances(s.ID, 2)
	var op operation
	alice.must(202, "PATCH", "/api/v1/tasks/"+s.ID.String()+"?scope=series", map[string]any{"priority": "high"}).decode(t, &op)
	alice.waitOperation(op.ID)
	var listed struct{ Operations []operation }
	ops.must(200, "GET", "/api/v1/ops/operations", nil).decode(t, &listed)
	if !slices.ContainsFunc(listed.Operations, func(o operation) bool { return o.ID == op.ID && o.Status == "completed" }) {
		t.Fatalf("operation %s not listed as completed: %+v", op.ID, listed)
	}
	ops.must(409, "POST", "/api/v1/ops/operations/"+op.ID.String()+"/retry", nil)
	ops.must(409, "POST", "/api/v1/ops/operations/"+op.ID.String()+"/terminate", nil)
	db, err := pgx.Connect(ctx, e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	// The failure is put on the row: what is tested is that a retry purges
	// the finished Dapr workflow and runs it again under the same id.
	if _, err := db.Exec(ctx, `UPDATE operations SET status = 'failed', error = 'injected by the test' WHERE id = $1`, op.ID); err != nil {
		t.Fatal(err)
	}
	ops.must(202, "POST", "/api/v1/ops/operations/"+op.ID.String()+"/retry", nil)
	if again := alice.waitOperation(op.ID); again.Error != nil {
		t.Fatalf("retried operation: %+v", again)
	}

	// Dead letters: a message the auditor cannot read reaches the table
	// through the DLQ topic; a task event put on the DLQ is replayed onto
	// task-events.
	kc, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.stack.KafkaBrokers(), ",")...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	created := e.events.wait(t, tk.ID.String(), 1)[0]
	rawCE, _ := json.Marshal(created.CloudEvent)
	dl, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": "dlq-" + uuid.NewString(), "source": "e2e",
		"type": "com.dapr.event.sent", "datacontenttype": "application/json",
		"data": auditor.DeadLetter{Reason: "written by the test", Subscriber: "auditor", Topic: task.Topic,
			EventID: created.Event.EventID.String(), Message: rawCE, FailedAt: time.Now().UTC()}})
	for _, r := range []*kgo.Record{
		{Topic: auditor.DeadLetterTopic, Key: []byte(tk.ID.String()), Value: dl},
		{Topic: task.Topic, Key: []byte(tk.ID.String()), Value: []byte("this is not a CloudEvent")},
	} {
		if err := kc.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	type deadLetter struct {
		ID         int64           `json:"id"`
		EventID    string          `json:"event_id"`
		Reason     string          `json:"reason"`
		Message    json.RawMessage `json:"message"`
		ReplayedBy *string         `json:"replayed_by"`
	}
	var letters struct {
		DeadLetters []deadLetter `json:"dead_letters"`
	}
	eventually(t, 60*time.Second, "two dead letters in the ops view", func() bool {
		ops.must(200, "GET", "/api/v1/ops/dead-letters", nil).decode(t, &letters)
		return len(letters.DeadLetters) == 2
	})
	var replayable, unreadable deadLetter
	for _, d := range letters.DeadLetters {
		if d.Reason == "written by the test" {
			replayable = d
		} else {
			unreadable = d
		}
	}
	if replayable.ID == 0 || !strings.Contains(unreadable.Reason, "not a task event") {
		t.Fatalf("dead letters %+v", letters.DeadLetters)
	}
	eventually(t, 30*time.Second, "taskflow_dead_letters_pending to count both", func() bool {
		return metricValue(t, e.stack.App("auditor").URL+"/metrics", "taskflow_dead_letters_pending") == 2
	})
	var inspected deadLetter
	ops.must(200, "GET", fmt.Sprintf("/api/v1/ops/dead-letters/%d", replayable.ID), nil).decode(t, &inspected)
	if !json.Valid(inspected.Message) {
		t.Fatalf("inspected %+v", inspected)
	}
	ops.must(422, "POST", fmt.Sprintf("/api/v1/ops/dead-letters/%d/replay", unreadable.ID), nil)
	duplicates := metricValue(t, e.stack.App("auditor").URL+"/metrics", "taskflow_auditor_events_duplicate_total")
	ops.must(202, "POST", fmt.Sprintf("/api/v1/ops/dead-letters/%d/replay", replayable.ID), nil)
	ops.must(409, "POST", fmt.Sprintf("/api/v1/ops/dead-letters/%d/replay", replayable.ID), nil)
	eventually(t, 30*time.Second, "the replayed event on task-events", func() bool {
		n := 0
		for _, r := range e.events.forTask(tk.ID.String()) {
			if r.Event.EventID == created.Event.EventID {
				n++
			}
		}
		return n == 2
	})
	eventually(t, 30*time.Second, "the auditor to recognise the replayed event", func() bool {
		return metricValue(t, e.stack.App("auditor").URL+"/metrics", "taskflow_auditor_events_duplicate_total") > duplicates
	})
	eventually(t, 30*time.Second, "taskflow_dead_letters_pending to drop to one", func() bool {
		return metricValue(t, e.stack.App("auditor").URL+"/metrics", "taskflow_dead_letters_pending") == 1
	})

	// Outbox and consumers: the backlog drains, the auditor's group is there.
	var outbox struct {
		Pending     int64 `json:"pending"`
		DeadLetters int64 `json:"dead_letters_pending"`
		Consumers   []struct {
			Group  string           `json:"group"`
			Topics map[string]int64 `json:"topics"`
		} `json:"consumers"`
		ConsumersError string `json:"consumers_error"`
	}
	eventually(t, 30*time.Second, "an empty outbox", func() bool {
		ops.must(200, "GET", "/api/v1/ops/outbox", nil).decode(t, &outbox)
		return outbox.Pending == 0
	})
	if outbox.DeadLetters != 1 || outbox.ConsumersError != "" ||
		!slices.ContainsFunc(outbox.Consumers, func(c struct {
			Group  string           `json:"group"`
			Topics map[string]int64 `json:"topics"`
		}) bool {
			_, ok := c.Topics[task.Topic]
			return c.Group == "auditor" && ok
		}) {
		t.Fatalf("outbox view %+v", outbox)
	}

	checkMetricsMove(t, e, alice)
}

// checkMetricsMove: each metric the dashboard and the alerts use moves when
// its thing happens.
func checkMetricsMove(t *testing.T, e *env, alice *client) {
	t.Helper()
	url := func(app string) string { return e.stack.App(app).URL + "/metrics" }
	read := func(app, series string) float64 { return metricValue(t, url(app), series) }
	before := map[string]float64{
		"api":       read("api", `taskflow_http_request_duration_seconds_count{method="POST",route="/api/v1/tasks",status="201"}`),
		"actor":     read("actors", `taskflow_actor_call_seconds_count{method="create",outcome="ok"}`),
		"published": read("actors", "taskflow_outbox_published_total"),
		"reminder":  read("actors", `taskflow_reminder_lateness_seconds_count{type="offset"}`),
		"tick":      read("actors", "taskflow_series_tick_lag_seconds_count"),
		"batches":   read("auditor", "taskflow_auditor_batch_events_count"),
		"streams":   read("notifier", "taskflow_notifier_streams"),
		"delivered": read("notifier", `taskflow_notifier_events_delivered_total{type="task.created"}`),
	}
	st, _ := openStream(t, e.stack.App("notifier").URL, alice.token, "")
	defer st.close()
	eventually(t, 30*time.Second, "taskflow_notifier_streams to count the open stream", func() bool {
		return read("notifier", "taskflow_notifier_streams") > before["streams"]
	})
	due := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "Soon", "due_date": due.Format(time.RFC3339), "reminder_offset": "PT1S"})
	alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "Ticks",
		"due_date": time.Now().Add(time.Second).UTC().Format(time.RFC3339), "recurrence_pattern": "FREQ=SECONDLY;INTERVAL=2;COUNT=3"})
	for name, m := range map[string]struct{ app, series string }{
		"api":       {"api", `taskflow_http_request_duration_seconds_count{method="POST",route="/api/v1/tasks",status="201"}`},
		"actor":     {"actors", `taskflow_actor_call_seconds_count{method="create",outcome="ok"}`},
		"published": {"actors", "taskflow_outbox_published_total"},
		"reminder":  {"actors", `taskflow_reminder_lateness_seconds_count{type="offset"}`},
		"tick":      {"actors", "taskflow_series_tick_lag_seconds_count"},
		"batches":   {"auditor", "taskflow_auditor_batch_events_count"},
		"delivered": {"notifier", `taskflow_notifier_events_delivered_total{type="task.created"}`},
	} {
		eventually(t, 60*time.Second, m.series+" to move", func() bool { return read(m.app, m.series) > before[name] })
	}
}
