package mcptools

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// fakeREST stands in for the API in these unit tests (the e2e test runs the
// tools against the real stack): it records each request and answers from
// a table keyed by "METHOD path".
type fakeREST struct {
	mu      sync.Mutex
	seen    []*seenRequest
	answers map[string]answer
}

type seenRequest struct {
	method, path string
	query        map[string][]string
	header       http.Header
	body         map[string]any
}

type answer struct {
	status int
	body   string
}

func (f *fakeREST) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	s := &seenRequest{method: r.Method, path: r.URL.Path, query: r.URL.Query(), header: r.Header.Clone()}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &s.body)
	}
	f.mu.Lock()
	f.seen = append(f.seen, s)
	a, ok := f.answers[r.Method+" "+r.URL.Path]
	f.mu.Unlock()
	if !ok {
		a = answer{http.StatusNotFound, `{"title":"Not Found","status":404,"detail":"no such task"}`}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func (f *fakeREST) last(t *testing.T) *seenRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) == 0 {
		t.Fatal("no request reached the API")
	}
	return f.seen[len(f.seen)-1]
}

const taskID = "0193a5f0-0000-7000-8000-000000000001"

// connect serves the tools over an in-memory transport to an SDK client.
func connect(t *testing.T, f *fakeREST, cred Credentials, now time.Time) *mcp.ClientSession {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	s := mcp.NewServer(&mcp.Implementation{Name: "taskflow", Version: Version}, nil)
	tl := &tools{b: &Backend{APIURL: srv.URL}, cred: FixedCredentials(cred), now: func() time.Time { return now }}
	tl.register(s)
	ct, st := mcp.NewInMemoryTransports()
	ctx := context.Background()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func call(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) (*mcp.CallToolResult, string) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var text strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text.WriteString(tc.Text)
		}
	}
	return res, text.String()
}

func TestTodayIsTheUsersDay(t *testing.T) {
	// 23:30 UTC on 1 March is 00:30 on 2 March in Berlin.
	now := time.Date(2025, 3, 1, 23, 30, 0, 0, time.UTC)
	f := &fakeREST{answers: map[string]answer{"GET /api/v1/tasks": {200, `{"items":[],"next_cursor":null}`}}}
	cs := connect(t, f, Credentials{Authorization: "Bearer tok", TimeZone: "Europe/Berlin"}, now)
	if res, text := call(t, cs, "list_tasks", map[string]any{"view": "today"}); res.IsError {
		t.Fatalf("list_tasks: %s", text)
	}
	r := f.last(t)
	if got := r.header.Get("Authorization"); got != "Bearer tok" {
		t.Errorf("Authorization = %q, want the user's token", got)
	}
	want := map[string]string{"status": "open", "series": "false", "sort": "due_date", "limit": "20",
		"due_after": "2025-03-01T22:59:59.999Z", "due_before": "2025-03-02T23:00:00Z"}
	for k, v := range want {
		if got := r.query[k]; len(got) != 1 || got[0] != v {
			t.Errorf("query %s = %v, want %s", k, got, v)
		}
	}

	// An explicit zone in the call wins; a bad one is the agent's error.
	call(t, cs, "list_tasks", map[string]any{"view": "overdue", "timezone": "America/New_York"})
	if got := f.last(t).query["due_before"]; len(got) != 1 || got[0] != "2025-03-01T23:30:00Z" {
		t.Errorf("overdue due_before = %v, want now", got)
	}
	res, text := call(t, cs, "list_tasks", map[string]any{"view": "today", "timezone": "Mars/Olympus"})
	if !res.IsError || !strings.Contains(text, "timezone") {
		t.Errorf("a bad zone: error %v, %q; want a tool error naming timezone", res.IsError, text)
	}
	res, text = call(t, cs, "list_tasks", map[string]any{"view": "someday"})
	if !res.IsError || !strings.Contains(text, "view") {
		t.Errorf("a bad view: error %v, %q; want a tool error naming view", res.IsError, text)
	}
}

func TestCreateTakesTextOrFields(t *testing.T) {
	f := &fakeREST{answers: map[string]answer{"POST /api/v1/tasks": {201, `{"id":"` + taskID + `","title":"Pay rent"}`}}}
	cs := connect(t, f, Credentials{Authorization: "Bearer tok", TimeZone: "Europe/Berlin"}, time.Now())

	res, text := call(t, cs, "create_task", map[string]any{"text": "Pay rent on the 1st of every month #home"})
	if res.IsError {
		t.Fatalf("create from text: %s", text)
	}
	if b := f.last(t).body; b["text"] != "Pay rent on the 1st of every month #home" || b["timezone"] != "Europe/Berlin" || b["title"] != nil {
		t.Errorf("create from text sent %v", b)
	}
	if !strings.Contains(text, taskID) {
		t.Errorf("the answer %q does not carry the new task", text)
	}

	call(t, cs, "create_task", map[string]any{"title": "Standup", "due_date": "2027-01-04T09:00:00+01:00",
		"recurrence_pattern": "FREQ=WEEKLY;BYDAY=MO", "reminders": []string{"15 minutes"}, "tags": []string{"work"}})
	b := f.last(t).body
	if b["title"] != "Standup" || b["recurrence_pattern"] != "FREQ=WEEKLY;BYDAY=MO" || b["timezone"] != "Europe/Berlin" {
		t.Errorf("create from fields sent %v", b)
	}
	if rem, _ := json.Marshal(b["reminders"]); string(rem) != `[{"offset":"15 minutes"}]` {
		t.Errorf("reminders sent as %s", rem)
	}

	for _, args := range []map[string]any{
		{},
		{"text": "x tomorrow", "title": "x"},
		{"text": "x tomorrow", "priority": "high"},
	} {
		n := len(f.seen)
		res, text := call(t, cs, "create_task", args)
		if !res.IsError || !strings.Contains(text, "text") {
			t.Errorf("create_task %v: error %v %q; want a tool error naming text", args, res.IsError, text)
		}
		if len(f.seen) != n {
			t.Errorf("create_task %v reached the API", args)
		}
	}
}

func TestAPIErrorsReachTheAgentWithTheField(t *testing.T) {
	f := &fakeREST{answers: map[string]answer{"POST /api/v1/tasks": {400,
		`{"type":"about:blank","title":"Invalid task","status":400,"detail":"one or more fields are invalid; see errors","errors":[{"field":"due_date","message":"must be an RFC 3339 time"}]}`}}}
	cs := connect(t, f, Credentials{Authorization: "Bearer tok"}, time.Now())
	res, text := call(t, cs, "create_task", map[string]any{"title": "x", "due_date": "soon"})
	if !res.IsError || !strings.Contains(text, "due_date: must be an RFC 3339 time") || !strings.Contains(text, "400") {
		t.Errorf("error %v, %q; want the status and the field", res.IsError, text)
	}
	res, text = call(t, cs, "get_task", map[string]any{"id": taskID})
	if !res.IsError || !strings.Contains(text, "404") {
		t.Errorf("missing task: error %v, %q", res.IsError, text)
	}
	res, text = call(t, cs, "get_task", map[string]any{"id": "../../ops"})
	if !res.IsError || !strings.Contains(text, "id: must be a task id") {
		t.Errorf("a path in id: error %v, %q", res.IsError, text)
	}
}

func TestUpdateSendsOnlyWhatChanges(t *testing.T) {
	path := "/api/v1/tasks/" + taskID
	f := &fakeREST{answers: map[string]answer{"PATCH " + path: {200, `{"id":"` + taskID + `"}`}}}
	cs := connect(t, f, Credentials{Authorization: "Bearer tok"}, time.Now())
	if res, text := call(t, cs, "update_task", map[string]any{"id": taskID, "title": "New", "clear": []string{"due_date", "tags"}}); res.IsError {
		t.Fatal(text)
	}
	b := f.last(t).body
	raw, _ := json.Marshal(b)
	if string(raw) != `{"due_date":null,"tags":[],"title":"New"}` {
		t.Errorf("PATCH body %s", raw)
	}
	for _, args := range []map[string]any{
		{"id": taskID},
		{"id": taskID, "clear": []string{"title"}},
		{"id": taskID, "title": "x", "clear": []string{"description"}, "description": "y"},
	} {
		if res, _ := call(t, cs, "update_task", args); !res.IsError {
			t.Errorf("update_task %v was accepted", args)
		}
	}
	call(t, cs, "update_task", map[string]any{"id": taskID, "priority": "high", "whole_series": true})
	if q := f.last(t).query["scope"]; len(q) != 1 || q[0] != "series" {
		t.Errorf("whole_series sent scope %v", q)
	}
}

func TestSnoozeFindsTheOnlyReminder(t *testing.T) {
	path := "/api/v1/tasks/" + taskID
	rid := "5c7e1d0a-6b2f-5e8e-9d41-3a0f8b2c7e55"
	f := &fakeREST{answers: map[string]answer{
		"GET " + path + "/reminders":                     {200, `{"items":[{"reminder_id":"` + rid + `","type":"offset","status":"fired"},{"reminder_id":"x","type":"overdue"}]}`},
		"POST " + path + "/reminders/" + rid + "/snooze": {200, `{"id":"` + taskID + `"}`},
	}}
	cs := connect(t, f, Credentials{Authorization: "Bearer tok"}, time.Now())
	if res, text := call(t, cs, "snooze_reminder", map[string]any{"id": taskID, "for": "10 minutes"}); res.IsError {
		t.Fatal(text)
	}
	if r := f.last(t); r.path != path+"/reminders/"+rid+"/snooze" || r.body["for"] != "10 minutes" {
		t.Errorf("snooze sent %s %v", r.path, r.body)
	}
	if res, _ := call(t, cs, "snooze_reminder", map[string]any{"id": taskID, "for": "1h", "until": "2027-01-01T00:00:00Z"}); !res.IsError {
		t.Error("both for and until were accepted")
	}
}

func TestToolsNeedCredentialsOverHTTP(t *testing.T) {
	if _, err := HeaderCredentials(context.Background(), &mcp.RequestExtra{Header: http.Header{}}); err == nil {
		t.Error("a request without Authorization got credentials")
	}
	c, err := HeaderCredentials(context.Background(), &mcp.RequestExtra{Header: http.Header{
		"Authorization": {"Bearer abc"}, "Time-Zone": {"Asia/Tokyo"}}})
	if err != nil || c.Authorization != "Bearer abc" || c.TimeZone != "Asia/Tokyo" {
		t.Errorf("credentials %+v, %v", c, err)
	}
}
