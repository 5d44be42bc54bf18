package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/taskflow/taskflow/auditor"
	"github.com/taskflow/taskflow/task"
)

type auditItem struct {
	EventID       uuid.UUID       `json:"event_id"`
	EventType     string          `json:"event_type"`
	TaskID        uuid.UUID       `json:"task_id"`
	UserID        string          `json:"user_id"`
	OccurredAt    time.Time       `json:"occurred_at"`
	Version       int64           `json:"version"`
	CorrelationID string          `json:"correlation_id"`
	PartitionKey  string          `json:"partition_key"`
	Payload       json.RawMessage `json:"payload"`
	ReceivedAt    time.Time       `json:"received_at"`
	ChainSeq      int64           `json:"chain_seq"`
	Hash          string          `json:"hash"`
}

type auditPage struct {
	Items      []auditItem `json:"items"`
	NextCursor *string     `json:"next_cursor"`
}

// auditAs is a client of the auditor's query API, signed in as user.
func (e *env) auditAs(t testing.TB, user string) *client {
	c := e.as(t, user)
	c.base = e.stack.App("auditor").URL
	return c
}

// waitAudit polls the task's audit history until it holds n events.
func (c *client) waitAudit(t testing.TB, taskID uuid.UUID, n int) []auditItem {
	t.Helper()
	var items []auditItem
	eventually(t, 30*time.Second, fmt.Sprintf("%d audited events of task %s", n, taskID), func() bool {
		r := c.do("GET", "/api/v1/audit/tasks/"+taskID.String()+"?limit=500", nil)
		if r.status == 404 {
			return false // nothing written yet
		}
		if r.status != 200 {
			t.Fatalf("audit: %d %s", r.status, r.body)
		}
		var p auditPage
		r.decode(t, &p)
		items = p.Items
		return len(items) >= n
	})
	return items
}

func sameJSON(t testing.TB, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return string(xs) == string(ys)
}

// TestAuditTrail: create, update, complete and delete a task through the
// API; the auditor's endpoint then returns the four events, in order, each
// with the full event as published, to the owner only, and the hash chain
// verifies.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	user := "alice-" + uuid.NewString()
	alice, audit, bob := e.as(t, user), e.auditAs(t, user), e.auditAs(t, "bob-"+uuid.NewString())
	tk := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "Audit me", "priority": "high", "tags": []string{"q4"}},
		"X-Correlation-ID", "corr-audit-1").task(t)
	path := "/api/v1/tasks/" + tk.ID.String()
	alice.must(200, "PATCH", path, map[string]any{"title": "Audit me twice"})
	alice.must(200, "POST", path+"/complete", nil)
	alice.must(204, "DELETE", path, nil)

	published := e.events.wait(t, tk.ID.String(), 4)
	items := audit.waitAudit(t, tk.ID, 4)
	if len(items) != 4 {
		t.Fatalf("%d audited events, want 4", len(items))
	}
	wantTypes := []string{"task.created", "task.updated", "task.completed", "task.deleted"}
	for i, it := range items {
		pub := published[i]
		if it.EventType != wantTypes[i] || it.EventID != pub.Event.EventID || it.TaskID != tk.ID || it.UserID != user ||
			it.Version != pub.Event.Version || !it.OccurredAt.Equal(pub.Event.OccurredAt.Truncate(time.Microsecond)) ||
			it.ChainSeq != int64(i+1) || it.Hash == "" || it.PartitionKey != tk.ID.String() || it.ReceivedAt.IsZero() {
			t.Errorf("audited event %d: %+v, published %+v", i, it, pub.Event)
		}
		data, _ := json.Marshal(pub.CloudEvent["data"])
		if !sameJSON(t, it.Payload, data) {
			t.Errorf("event %d payload %s, want the published event %s", i, it.Payload, data)
		}
		if i > 0 && it.Version <= items[i-1].Version {
			t.Errorf("versions out of order: %d after %d", it.Version, items[i-1].Version)
		}
	}
	var first task.Event
	if err := json.Unmarshal(items[0].Payload, &first); err != nil || first.Task.Title != "Audit me" || items[0].CorrelationID != "corr-audit-1" {
		t.Errorf("created event: %+v (%v), correlation %q", first.Task, err, items[0].CorrelationID)
	}
	var second task.Event
	if err := json.Unmarshal(items[1].Payload, &second); err != nil || second.Task.Title != "Audit me twice" || !slices.Contains(second.ChangedFields, "title") {
		t.Errorf("updated event: %+v (%v)", second, err)
	}

	// Pages, filters, and the task stays auditable after its deletion.
	base := "/api/v1/audit/tasks/" + tk.ID.String()
	var p1, p2 auditPage
	audit.must(200, "GET", base+"?limit=3", nil).decode(t, &p1)
	if len(p1.Items) != 3 || p1.NextCursor == nil {
		t.Fatalf("first page: %d items, cursor %v", len(p1.Items), p1.NextCursor)
	}
	audit.must(200, "GET", base+"?limit=3&cursor="+*p1.NextCursor, nil).decode(t, &p2)
	if len(p2.Items) != 1 || p2.NextCursor != nil || p2.Items[0].EventID != items[3].EventID {
		t.Fatalf("second page: %+v", p2)
	}
	var filtered auditPage
	audit.must(200, "GET", base+"?type=task.completed&type=task.deleted", nil).decode(t, &filtered)
	if len(filtered.Items) != 2 || filtered.Items[0].EventType != "task.completed" {
		t.Fatalf("type filter: %+v", filtered.Items)
	}
	var verify map[string]any
	audit.must(200, "GET", base+"/verify", nil).decode(t, &verify)
	if verify["valid"] != true || verify["events"] != float64(4) || len(verify) != 2 {
		t.Fatalf("verify: %v", verify)
	}

	// Nobody else sees any of it, and bad input is named.
	bob.must(404, "GET", base, nil)
	bob.must(404, "GET", base+"/verify", nil)
	bob.must(404, "GET", base+"?limit=3&cursor="+*p1.NextCursor, nil)
	audit.must(400, "GET", base+"?limit=501", nil)
	audit.must(400, "GET", base+"?type=task.renamed", nil)
	anon := e.auditAs(t, user)
	anon.token = ""
	anon.must(401, "GET", base, nil)
}

// TestAuditSurvivesRestartAndDeadLettersPoison: messages no audit log can
// hold go to task-events-dlq with the reason and do not hold up the
// others (the notifier dead-letters the one it cannot store either);
// stopping the auditor (and its sidecar) while tasks are being written
// loses nothing and stores nothing twice.
func TestAuditSurvivesRestartAndDeadLettersPoison(t *testing.T) {
	t.Parallel()
	e := startStack(t, stackOptions{})
	ctx := t.Context()
	// The notifier reads the topic from its newest offset once it has
	// joined: before that it would not see the poison at all.
	e.notifierReady(t, e.stack.App("notifier").URL)
	user := "alice-" + uuid.NewString()
	alice, audit := e.as(t, user), e.auditAs(t, user)

	kc, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.stack.KafkaBrokers(), ",")...),
		kgo.ConsumeTopics(auditor.DeadLetterTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	poisonTask := uuid.Must(uuid.NewV7())
	nul := task.NewEvent(task.EventCreated, task.Task{ID: poisonTask, UserID: user, Title: "nul \x00 inside", Version: 1}, nil, "", time.Now())
	nulCE, _ := nul.MarshalCloudEvent() // encoding/json writes the NUL as \u0000, which jsonb refuses
	anonymous := task.NewEvent(task.EventUpdated, task.Task{ID: poisonTask, Title: "whose?", Version: 2}, nil, "", time.Now())
	anonCE, _ := anonymous.MarshalCloudEvent()
	for _, r := range []*kgo.Record{
		{Topic: task.Topic, Key: []byte(poisonTask.String()), Value: []byte("this is not a CloudEvent")},
		{Topic: task.Topic, Key: []byte(poisonTask.String()), Value: nulCE},
		{Topic: task.Topic, Key: []byte(poisonTask.String()), Value: anonCE},
	} {
		if err := kc.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// The same partition goes on being audited.
	after := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "after the poison"}).task(t)
	audit.waitAudit(t, after.ID, 1)

	var letters, notifierLetters []auditor.DeadLetter
	eventually(t, 30*time.Second, "three dead letters from the auditor, one from the notifier", func() bool {
		fetchCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		kc.PollFetches(fetchCtx).EachRecord(func(r *kgo.Record) {
			var ce struct {
				Data auditor.DeadLetter `json:"data"`
			}
			if err := json.Unmarshal(r.Value, &ce); err != nil {
				t.Fatalf("dead letter %s: %v", r.Value, err)
			}
			if ce.Data.Subscriber == "notifier" {
				notifierLetters = append(notifierLetters, ce.Data)
			} else {
				letters = append(letters, ce.Data)
			}
		})
		return len(letters) >= 3 && len(notifierLetters) >= 1
	})
	// The notifier stores \u0000 (its bodies are json, not jsonb) and drops
	// what is not a CloudEvent; an event of no user it can never store.
	if len(notifierLetters) != 1 || notifierLetters[0].EventID != anonymous.EventID.String() ||
		!strings.Contains(notifierLetters[0].Reason, "user_id") || notifierLetters[0].Topic != task.Topic {
		t.Errorf("the notifier's dead letters %+v", notifierLetters)
	}
	reasons := map[string]string{}
	for _, dl := range letters {
		switch {
		case dl.EventID == nul.EventID.String():
			reasons["nul"] = dl.Reason
		case dl.EventID == anonymous.EventID.String():
			reasons["anonymous"] = dl.Reason
		case dl.EventID == "": // it is in base64, and no event id could be read from it
			reasons["undecodable"] = dl.Reason
		}
		if dl.Topic != task.Topic || dl.Subscriber != "auditor" || dl.FailedAt.IsZero() {
			t.Errorf("dead letter %+v", dl)
		}
	}
	if !strings.Contains(reasons["undecodable"], "not a task event") || !strings.Contains(reasons["nul"], "22P05") ||
		!strings.Contains(reasons["anonymous"], "user_id") || len(letters) != 3 {
		t.Fatalf("dead letters' reasons %q (%d letters)", reasons, len(letters))
	}
	audit.must(404, "GET", "/api/v1/audit/tasks/"+poisonTask.String(), nil)

	// Stop the auditor while tasks are being written, then start it again.
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := []uuid.UUID{after.ID}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				r := alice.do("POST", "/api/v1/tasks", map[string]any{"title": fmt.Sprintf("during restart %d-%d", w, i)})
				if r.status != 201 {
					t.Errorf("create: %d %s", r.status, r.body)
					return
				}
				mu.Lock()
				created = append(created, r.task(t).ID)
				mu.Unlock()
			}
		}()
	}
	if err := e.stack.StopApp(ctx, "auditor", true); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := e.stack.StartApp(ctx, "auditor", nil); err != nil {
		t.Fatal(err)
	}

	db, err := pgx.Connect(ctx, e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	want := len(created)
	eventually(t, 60*time.Second, fmt.Sprintf("%d created events audited", want), func() bool {
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM task_events WHERE user_id = $1`, user).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n >= want
	})
	var rows, distinct int
	if err := db.QueryRow(ctx, `SELECT count(*), count(DISTINCT event_id) FROM task_events WHERE user_id = $1`, user).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != want || distinct != want {
		t.Fatalf("%d rows, %d distinct events; want %d once each", rows, distinct, want)
	}
	for _, id := range created {
		var v map[string]any
		audit.must(200, "GET", "/api/v1/audit/tasks/"+id.String()+"/verify", nil).decode(t, &v)
		if v["valid"] != true || v["events"] != float64(1) {
			t.Fatalf("task %s: verify %v", id, v)
		}
	}
}
