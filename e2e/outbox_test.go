package e2e_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestEventSurvivesCrashBetweenCommitAndPublish kills the actors app after
// a task's change committed and before its event was published (a
// failpoint makes the relay exit there), restarts it, and expects the
// event on the topic.
func TestEventSurvivesCrashBetweenCommitAndPublish(t *testing.T) {
	t.Parallel()
	e := startStack(t, stackOptions{})
	ctx := t.Context()
	alice := e.as(t, "alice-"+uuid.NewString())

	if err := e.stack.StopApp(ctx, "actors", false); err != nil {
		t.Fatal(err)
	}
	if err := e.stack.StartApp(ctx, "actors", map[string]string{"TASKFLOW_FAILPOINT": "outbox-before-publish"}); err != nil {
		t.Fatal(err)
	}
	title := "survives a crash " + uuid.NewString()
	// The actor commits and answers; the relay then exits the process before
	// publishing. The answer may or may not make it out first.
	r := alice.do("POST", "/api/v1/tasks", map[string]any{"title": title})
	if r.status != 201 && r.status < 500 {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	actorsAddr := strings.TrimPrefix(e.stack.App("actors").URL, "http://")
	eventually(t, 30*time.Second, "the actors app to crash at the failpoint", func() bool {
		c, err := net.DialTimeout("tcp", actorsAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})

	// The change is committed (lists read PostgreSQL, the API is up)...
	var id string
	for _, tk := range alice.list("q=" + strings.ReplaceAll(title, " ", "+")) {
		if tk.Title == title {
			id = tk.ID.String()
		}
	}
	if id == "" {
		t.Fatal("the task was not committed")
	}
	// ...and its event is not on the topic.
	if recs := e.events.forTask(id); len(recs) != 0 {
		t.Fatalf("event published before the crash: %+v", recs)
	}

	if err := e.stack.StartApp(ctx, "actors", nil); err != nil {
		t.Fatal(err)
	}
	recs := e.events.wait(t, id, 1)
	if recs[0].Event.EventType != "task.created" || recs[0].Event.Version != 1 || recs[0].Key != id {
		t.Fatalf("event after restart %+v", recs[0])
	}
	// The restarted stack keeps working.
	alice.must(200, "POST", "/api/v1/tasks/"+id+"/complete", nil)
	e.events.wait(t, id, 2)
}
