package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// TestOpsNeedsTheAdminRole: every ops route answers 403 to a user without
// the role and 401 without a token.
func TestOpsNeedsTheAdminRole(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, rt := range []string{"GET /api/v1/ops", "GET /api/v1/ops/apps", "GET /api/v1/ops/reminders",
		"GET /api/v1/ops/operations", "GET /api/v1/ops/outbox", "GET /api/v1/ops/dead-letters",
		"GET /api/v1/ops/dead-letters/1", "POST /api/v1/ops/dead-letters/1/replay",
		"POST /api/v1/ops/operations/" + uuid.NewString() + "/retry", "POST /api/v1/ops/operations/" + uuid.NewString() + "/terminate"} {
		method, path, _ := strings.Cut(rt, " ")
		if r := h.do(t, "alice", method, path, nil); r.status != 403 || !strings.Contains(string(r.body), "taskflow-admin") {
			t.Errorf("alice %s = %d %s, want 403 naming the role", rt, r.status, r.body)
		}
		if r := h.do(t, "", method, path, nil); r.status != 401 {
			t.Errorf("anonymous %s = %d, want 401", rt, r.status)
		}
	}
	if r := h.do(t, "ops", "GET", "/api/v1/ops", nil); r.status != 200 {
		t.Fatalf("admin GET /api/v1/ops = %d %s", r.status, r.body)
	}
}

func TestOpsRejectsBadParameters(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for path, field := range map[string]string{
		"/api/v1/ops/reminders?limit=0":          "limit",
		"/api/v1/ops/operations?limit=x":         "limit",
		"/api/v1/ops/operations?status=sleeping": "status",
		"/api/v1/ops/dead-letters?status=old":    "status",
		"/api/v1/ops/dead-letters/abc":           "id",
		"/api/v1/ops/dead-letters/-3":            "id",
	} {
		r := h.do(t, "ops", "GET", path, nil)
		if r.status != 400 || !strings.Contains(string(r.body), `"field":"`+field+`"`) {
			t.Errorf("GET %s = %d %s, want 400 naming %s", path, r.status, r.body, field)
		}
	}
	if r := h.do(t, "ops", "POST", "/api/v1/ops/operations/not-a-uuid/retry", nil); r.status != 400 {
		t.Errorf("retry of a non-uuid = %d %s", r.status, r.body)
	}
	if r := h.do(t, "ops", "POST", "/api/v1/ops/operations/"+uuid.NewString()+"/retry", nil); r.status != 404 {
		t.Errorf("retry of an unknown operation = %d %s", r.status, r.body)
	}
	if r := h.do(t, "ops", "GET", "/api/v1/ops/dead-letters/99999", nil); r.status != 404 {
		t.Errorf("unknown dead letter = %d %s", r.status, r.body)
	}
}

// TestOpsDeadLetterReplay: a stored task event goes back to the outbox
// once; a message that is no task event is refused.
func TestOpsDeadLetterReplay(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	tk := h.create(t, "alice", map[string]any{"title": "Lost event"})
	ev := task.NewEvent(task.EventUpdated, tk, []string{"title"}, "corr-dlq", time.Now())
	ce, err := ev.MarshalCloudEvent()
	if err != nil {
		t.Fatal(err)
	}
	ops := postgres.NewOps(h.pool)
	for _, dl := range []postgres.DeadLetter{
		{MessageID: "m-1", EventID: ev.EventID.String(), Subscriber: "auditor", Topic: task.Topic, Reason: "write failed", Message: ce, FailedAt: time.Now()},
		{MessageID: "m-2", Subscriber: "auditor", Topic: task.Topic, Reason: "undecodable", MessageBase64: "AAEC", FailedAt: time.Now()},
	} {
		if _, err := ops.AddDeadLetter(ctx, dl); err != nil {
			t.Fatal(err)
		}
	}
	if added, err := ops.AddDeadLetter(ctx, postgres.DeadLetter{MessageID: "m-1", Subscriber: "auditor", Topic: task.Topic, Reason: "again", FailedAt: time.Now()}); err != nil || added {
		t.Fatalf("a redelivered DLQ message was stored again: added=%v err=%v", added, err)
	}

	var list struct {
		DeadLetters []postgres.DeadLetter `json:"dead_letters"`
	}
	h.do(t, "ops", "GET", "/api/v1/ops/dead-letters", nil).json(t, &list)
	if len(list.DeadLetters) != 2 || list.DeadLetters[0].MessageID != "m-2" || list.DeadLetters[1].Message != nil {
		t.Fatalf("list = %+v", list.DeadLetters)
	}
	good, bad := list.DeadLetters[1].ID, list.DeadLetters[0].ID
	var one postgres.DeadLetter
	h.do(t, "ops", "GET", fmt.Sprintf("/api/v1/ops/dead-letters/%d", good), nil).json(t, &one)
	if !json.Valid(one.Message) || one.EventID != ev.EventID.String() {
		t.Fatalf("inspect = %+v", one)
	}

	outboxRows := func() int {
		var n int
		if err := h.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE event_id = $1`, ev.EventID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	r := h.do(t, "ops", "POST", fmt.Sprintf("/api/v1/ops/dead-letters/%d/replay", good), nil)
	if r.status != 202 || outboxRows() != 1 {
		t.Fatalf("replay = %d %s; outbox rows %d", r.status, r.body, outboxRows())
	}
	r.json(t, &one)
	if one.ReplayedBy == nil || *one.ReplayedBy != "ops" || one.ReplayedAt == nil {
		t.Fatalf("replayed = %+v", one)
	}
	if r := h.do(t, "ops", "POST", fmt.Sprintf("/api/v1/ops/dead-letters/%d/replay", good), nil); r.status != 409 || outboxRows() != 1 {
		t.Fatalf("second replay = %d %s; outbox rows %d", r.status, r.body, outboxRows())
	}
	if r := h.do(t, "ops", "POST", fmt.Sprintf("/api/v1/ops/dead-letters/%d/replay", bad), nil); r.status != 422 {
		t.Fatalf("replay of a non-event = %d %s", r.status, r.body)
	}
	h.do(t, "ops", "GET", "/api/v1/ops/dead-letters", nil).json(t, &list)
	if len(list.DeadLetters) != 1 || list.DeadLetters[0].ID != bad {
		t.Fatalf("pending after replay = %+v", list.DeadLetters)
	}
	var outbox struct {
		Pending     int64 `json:"pending"`
		DeadLetters int64 `json:"dead_letters_pending"`
	}
	h.do(t, "ops", "GET", "/api/v1/ops/outbox", nil).json(t, &outbox)
	if outbox.DeadLetters != 1 || outbox.Pending < 1 {
		t.Fatalf("outbox view = %+v", outbox)
	}
}

// TestOpsRemindersAndOperations: a task's pending reminder shows up for the
// operator (across users), late ones first; an operation refused by the
// workflow engine answers 409 with its reason.
func TestOpsRemindersAndOperations(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	due := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	tk := h.create(t, "bob", map[string]any{"title": "Call", "due_date": due.Format(time.RFC3339), "reminder_offset": "PT1H"})
	var rem struct {
		Late      int `json:"late"`
		Reminders []struct {
			Kind      string    `json:"kind"`
			TaskID    uuid.UUID `json:"task_id"`
			UserID    string    `json:"user_id"`
			DueAt     time.Time `json:"due_at"`
			Scheduler string    `json:"scheduler"`
		} `json:"reminders"`
	}
	h.do(t, "ops", "GET", "/api/v1/ops/reminders", nil).json(t, &rem)
	// The reminder an hour before, then the overdue notice at the due time.
	if len(rem.Reminders) != 2 || rem.Late != 0 {
		t.Fatalf("reminders = %+v", rem)
	}
	for i, at := range []time.Time{due.Add(-time.Hour), due} {
		if r := rem.Reminders[i]; r.TaskID != tk.ID || r.UserID != "bob" || r.Kind != "reminder" || !r.DueAt.Equal(at) || r.Scheduler != "unknown" {
			t.Fatalf("reminder %d = %+v, want due %v", i, r, at)
		}
	}

	op := uuid.New()
	if err := postgres.NewOperations(h.pool).Create(context.Background(), postgres.Operation{ID: op, UserID: "bob",
		Kind: "series.delete", TaskID: tk.ID, Request: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	var ops struct{ Operations []postgres.Operation }
	h.do(t, "ops", "GET", "/api/v1/ops/operations?status=pending", nil).json(t, &ops)
	if len(ops.Operations) != 1 || ops.Operations[0].ID != op {
		t.Fatalf("operations = %+v", ops)
	}
	r := h.do(t, "ops", "POST", "/api/v1/ops/operations/"+op.String()+"/retry", nil)
	if r.status != 409 || !strings.Contains(string(r.body), "only a failed one can be retried") {
		t.Fatalf("retry refused = %d %s", r.status, r.body)
	}
	if r := h.do(t, "ops", "POST", "/api/v1/ops/operations/"+op.String()+"/terminate", nil); r.status != 202 {
		t.Fatalf("terminate = %d %s", r.status, r.body)
	}
}
