package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskflow/taskflow/actors"
	"github.com/taskflow/taskflow/api"
	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/mcptools"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// localActors dispatches actor calls to TaskActor instances in this
// process, one per id, one call at a time per id, as Dapr would.
type localActors struct {
	deps   *actors.Deps
	mu     sync.Mutex
	actors map[string]*actors.TaskActor
}

func (l *localActors) InvokeActor(ctx context.Context, req *dapr.InvokeActorRequest) (*dapr.InvokeActorResponse, error) {
	l.mu.Lock()
	a, ok := l.actors[req.ActorID]
	if !ok {
		a = actors.Factory(l.deps)(req.ActorID).(*actors.TaskActor)
		l.actors[req.ActorID] = a
	}
	l.mu.Unlock()
	b, err := a.Invoke(ctx, req.Method, req.Data)
	if err != nil {
		return nil, err
	}
	return &dapr.InvokeActorResponse{Data: b}, nil
}

// noReminders and noWorkflows stand in for Dapr: these tests cover the
// API; series behaviour is tested in actors and end to end.
type noReminders struct{}

func (noReminders) RegisterActorReminder(context.Context, *dapr.RegisterActorReminderRequest) error {
	return nil
}
func (noReminders) UnregisterActorReminder(context.Context, *dapr.UnregisterActorReminderRequest) error {
	return nil
}

type noWorkflows struct{}

func (noWorkflows) StartSeriesOperation(context.Context, actors.SeriesOperation) error { return nil }
func (noWorkflows) RetryOperation(_ context.Context, id uuid.UUID) error {
	return fmt.Errorf("%w: operation %s is completed; only a failed one can be retried", actors.ErrOperationState, id)
}
func (noWorkflows) TerminateOperation(context.Context, uuid.UUID, string) error { return nil }

type harness struct {
	app  *fiber.App
	pool *pgxpool.Pool
	base string            // http://127.0.0.1:port of the real listener
	keys map[string]string // user -> token
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, api.Config{BodyLimit: 16 << 10, WriteLimit: api.WriteLimit{Rate: -1}})
}

func newHarnessWith(t *testing.T, cfg api.Config) *harness {
	t.Helper()
	pool, _ := pgtest.NewPool(t)
	store := postgres.NewTasks(pool)
	logger := slog.New(slog.DiscardHandler)
	inv := &localActors{actors: map[string]*actors.TaskActor{}}
	inv.deps = &actors.Deps{
		Store: store, Committed: func() {}, Now: time.Now, Logger: logger, Limits: task.DefaultLimits(),
		Peers: actors.NewClient(inv), Reminders: noReminders{}, Workflows: noWorkflows{},
		Series: actors.SeriesConfig{MissedPolicy: actors.MissedLatest, CatchUpMax: 10, RetryPeriod: time.Minute},
	}
	secret := []byte(auth.DevSecret)
	verifier, err := auth.New(context.Background(), auth.Config{Secret: secret}, logger)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	app, err := api.New(cfg, api.Deps{
		Writer: actors.NewClient(inv), Reader: store, Operations: postgres.NewOperations(pool), Verifier: verifier,
		Registry: prometheus.NewRegistry(), DevTokenSecret: secret,
		Calendars: postgres.NewCalendarFeeds(pool), Webhooks: postgres.NewWebhooks(pool),
		MCP: mcptools.Handler(mcptools.NewServer(&mcptools.Backend{APIURL: base}, mcptools.HeaderCredentials)),
		Ops: &api.OpsDeps{Store: postgres.NewOps(pool), Operations: postgres.NewOperations(pool), Control: actors.NewClient(inv),
			Outbox: postgres.NewOutbox(pool)},
	}, logger)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	h := &harness{pool: pool, app: app, base: base, keys: map[string]string{}}
	for _, u := range []string{"alice", "bob"} {
		tok, err := auth.Mint(secret, u, auth.MintOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h.keys[u] = tok
	}
	admin, err := auth.Mint(secret, "ops", auth.MintOptions{Roles: []string{api.DefaultAdminRole}})
	if err != nil {
		t.Fatal(err)
	}
	h.keys["ops"] = admin
	return h
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r response) problem(t *testing.T) api.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("content type %q for status %d: %s", ct, r.status, r.body)
	}
	var p api.Problem
	r.json(t, &p)
	if p.Status != r.status || !strings.HasPrefix(p.Type, api.ProblemBase) || p.Title == "" {
		t.Fatalf("malformed problem %+v", p)
	}
	return p
}

func (h *harness) do(t *testing.T, user, method, path string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+h.keys[user])
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (h *harness) create(t *testing.T, user string, body map[string]any) task.Task {
	t.Helper()
	r := h.do(t, user, "POST", "/api/v1/tasks", body)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var tk task.Task
	r.json(t, &tk)
	return tk
}

func fieldsOf(p api.Problem) []string {
	var out []string
	for _, f := range p.Errors {
		out = append(out, f.Field)
	}
	slices.Sort(out)
	return out
}

func TestTaskCRUD(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	// Due a month from now, written in a +01:00 offset; returned in UTC.
	due := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second).In(time.FixedZone("", 3600))
	r := h.do(t, "alice", "POST", "/api/v1/tasks", map[string]any{
		"title": " Write report ", "priority": "high", "tags": []string{"Work"},
		"due_date": due.Format(time.RFC3339), "reminder_offset": "1 hour",
	}, "X-Correlation-ID", "trace-123")
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var tk task.Task
	r.json(t, &tk)
	if tk.Title != "Write report" || tk.UserID != "alice" || tk.Priority != "high" || !slices.Equal(tk.Tags, []string{"work"}) ||
		tk.DueDate.Format(time.RFC3339) != due.UTC().Format(time.RFC3339) || tk.Version != 1 {
		t.Fatalf("created %+v", tk)
	}
	if r.header.Get("Location") != "/api/v1/tasks/"+tk.ID.String() || r.header.Get("ETag") != `"1"` ||
		r.header.Get("X-Correlation-ID") != "trace-123" {
		t.Fatalf("headers %v", r.header)
	}
	// The JSON uses the column names, nulls included.
	var raw map[string]any
	r.json(t, &raw)
	for _, k := range []string{"id", "user_id", "title", "description", "completed", "priority", "tags", "due_date",
		"recurrence_pattern", "recurrence_end_date", "parent_recurring_task_id", "occurrence_date", "reminder_offset",
		"reminder_status", "created_at", "updated_at", "version"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("response lacks %q", k)
		}
	}

	path := "/api/v1/tasks/" + tk.ID.String()
	if r := h.do(t, "alice", "GET", path, nil); r.status != 200 {
		t.Fatalf("get: %d", r.status)
	}
	if r := h.do(t, "alice", "GET", path, nil, "If-None-Match", `"1"`); r.status != 304 {
		t.Fatalf("conditional get: %d", r.status)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if r := h.do(t, "bob", m, path, nil); r.status != 404 {
			t.Fatalf("bob %s alice's task: %d", m, r.status)
		}
	}
	if r := h.do(t, "bob", "PATCH", path, map[string]any{"title": "mine"}); r.status != 404 {
		t.Fatalf("bob PATCH: %d", r.status)
	}
	if r := h.do(t, "bob", "POST", path+"/complete", nil); r.status != 404 {
		t.Fatalf("bob complete: %d", r.status)
	}

	r = h.do(t, "alice", "PATCH", path, map[string]any{"description": "Q4 numbers", "reminder_offset": nil}, "If-Match", `"1"`)
	if r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	r.json(t, &tk)
	if tk.Description != "Q4 numbers" || tk.ReminderOffset != nil || tk.Version != 2 {
		t.Fatalf("patched %+v", tk)
	}
	if r := h.do(t, "alice", "PATCH", path, map[string]any{"title": "x"}, "If-Match", `"1"`); r.status != 412 {
		t.Fatalf("stale If-Match: %d", r.status)
	} else if p := r.problem(t); fieldsOf(p)[0] != "If-Match" {
		t.Fatalf("problem %+v", p)
	}

	r = h.do(t, "alice", "POST", path+"/complete", nil)
	r.json(t, &tk)
	if r.status != 200 || !tk.Completed || tk.CompletedAt == nil {
		t.Fatalf("complete: %d %+v", r.status, tk)
	}
	r = h.do(t, "alice", "POST", path+"/uncomplete", nil)
	r.json(t, &tk)
	if r.status != 200 || tk.Completed {
		t.Fatalf("uncomplete: %d %+v", r.status, tk)
	}
	if r := h.do(t, "alice", "DELETE", path, nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := h.do(t, "alice", "GET", path, nil); r.status != 404 {
		t.Fatalf("get after delete: %d", r.status)
	} else {
		r.problem(t)
	}
	if r := h.do(t, "alice", "DELETE", path, nil); r.status != 404 {
		t.Fatalf("second delete: %d", r.status)
	}
}

func TestBadInputIsAClear4xx(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tk := h.create(t, "alice", map[string]any{"title": "x"})
	path := "/api/v1/tasks/" + tk.ID.String()
	// A due date ahead of now, so only the field under test is wrong.
	due := time.Now().Add(7 * 24 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	tests := []struct {
		name, method, path string
		body               any
		headers            []string
		status             int
		fields             []string
	}{
		{"no token", "GET", "/api/v1/tasks", nil, nil, 401, []string{"Authorization"}},
		{"missing title", "POST", "/api/v1/tasks", map[string]any{"description": "d"}, nil, 422, []string{"title"}},
		{"every field reported", "POST", "/api/v1/tasks", map[string]any{"title": "", "priority": "urgent", "tags": "work", "due_date": "tomorrow"}, nil, 422,
			[]string{"due_date", "priority", "tags", "title"}},
		{"title wrong type", "POST", "/api/v1/tasks", map[string]any{"title": 42}, nil, 422, []string{"title"}},
		{"unknown field", "POST", "/api/v1/tasks", map[string]any{"title": "x", "titel": "y"}, nil, 422, []string{"titel"}},
		{"read-only field", "POST", "/api/v1/tasks", map[string]any{"title": "x", "version": 7}, nil, 422, []string{"version"}},
		{"naive time", "POST", "/api/v1/tasks", map[string]any{"title": "x", "due_date": strings.TrimSuffix(due, "Z")}, nil, 422, []string{"due_date"}},
		{"reminder without due date", "POST", "/api/v1/tasks", map[string]any{"title": "x", "reminder_offset": "1 hour"}, nil, 422, []string{"reminder_offset"}},
		{"recurrence floods", "POST", "/api/v1/tasks", map[string]any{"title": "x", "due_date": due, "recurrence_pattern": "FREQ=SECONDLY;INTERVAL=30"}, nil, 422, []string{"recurrence_pattern"}},
		{"recurrence unknown part", "POST", "/api/v1/tasks", map[string]any{"title": "x", "due_date": due, "recurrence_pattern": "FREQ=DAILY;BYDAYS=MO"}, nil, 422, []string{"recurrence_pattern"}},
		{"bad scope", "DELETE", path + "?scope=all", nil, nil, 400, []string{"scope"}},
		{"scope=series on a plain task", "DELETE", path + "?scope=series", nil, nil, 422, []string{"id"}},
		{"bad offset", "POST", "/api/v1/tasks", map[string]any{"title": "x", "due_date": due, "reminder_offset": "soon"}, nil, 422, []string{"reminder_offset"}},
		{"malformed json", "POST", "/api/v1/tasks", `{"title": "x"`, nil, 400, nil},
		{"array body", "POST", "/api/v1/tasks", `[1]`, nil, 400, nil},
		{"trailing data", "POST", "/api/v1/tasks", `{"title":"x"} {}`, nil, 400, nil},
		{"wrong content type", "POST", "/api/v1/tasks", "title=x", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, []string{"Content-Type"}},
		{"too large", "POST", "/api/v1/tasks", `{"title":"` + strings.Repeat("a", 20<<10) + `"}`, nil, 413, nil},
		{"far too large", "POST", "/api/v1/tasks", `{"title":"` + strings.Repeat("[", 200<<10) + `"}`, nil, 413, nil},
		{"idempotency key of 10 KB", "POST", "/api/v1/tasks", map[string]any{"title": "x"}, []string{"Idempotency-Key", strings.Repeat("k", 10<<10)}, 400, []string{"Idempotency-Key"}},
		{"bad id", "GET", "/api/v1/tasks/42", nil, nil, 400, []string{"id"}},
		{"bad If-Match", "PATCH", path, map[string]any{"title": "y"}, []string{"If-Match", "yesterday"}, 400, []string{"If-Match"}},
		{"null title", "PATCH", path, map[string]any{"title": nil}, nil, 422, []string{"title"}},
		{"bad idempotency key", "POST", "/api/v1/tasks", map[string]any{"title": "x"}, []string{"Idempotency-Key", "has space"}, 400, []string{"Idempotency-Key"}},
		{"bad status", "GET", "/api/v1/tasks?status=done", nil, nil, 400, []string{"status"}},
		{"bad limit", "GET", "/api/v1/tasks?limit=1000", nil, nil, 400, []string{"limit"}},
		{"bad sort", "GET", "/api/v1/tasks?sort=color", nil, nil, 400, []string{"sort"}},
		{"bad cursor", "GET", "/api/v1/tasks?cursor=zzz", nil, nil, 400, []string{"cursor"}},
		{"bad due_before", "GET", "/api/v1/tasks?due_before=monday", nil, nil, 400, []string{"due_before"}},
		{"unknown param", "GET", "/api/v1/tasks?statu=open", nil, nil, 400, []string{"statu"}},
		{"several params", "GET", "/api/v1/tasks?priority=urgent&order=up", nil, nil, 400, []string{"order", "priority"}},
		{"method not allowed", "PUT", path, map[string]any{"title": "x"}, nil, 405, nil},
		{"no such route", "GET", "/api/v2/tasks", nil, nil, 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := "alice"
			if tt.status == 401 {
				user = ""
			}
			r := h.do(t, user, tt.method, tt.path, tt.body, tt.headers...)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			p := r.problem(t)
			if tt.fields != nil && !slices.Equal(fieldsOf(p), tt.fields) {
				t.Fatalf("fields %v, want %v (%s)", fieldsOf(p), tt.fields, r.body)
			}
		})
	}
	// A forged token with alg "none" is refused.
	none := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMH0."
	if r := h.do(t, "", "GET", "/api/v1/tasks", nil, "Authorization", "Bearer "+none); r.status != 401 {
		t.Fatalf("alg none: %d", r.status)
	}
}

func TestIdempotentCreate(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	body := map[string]any{"title": "Pay rent", "tags": []string{"home"}}
	first := h.do(t, "alice", "POST", "/api/v1/tasks", body, "Idempotency-Key", "rent-2026-12")
	retry := h.do(t, "alice", "POST", "/api/v1/tasks", body, "Idempotency-Key", "rent-2026-12")
	if first.status != 201 || retry.status != 201 || retry.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("statuses %d %d, replay header %q", first.status, retry.status, retry.header.Get("Idempotent-Replayed"))
	}
	var a, b task.Task
	first.json(t, &a)
	retry.json(t, &b)
	if a.ID != b.ID {
		t.Fatalf("retry created another task: %s vs %s", a.ID, b.ID)
	}
	other := h.do(t, "alice", "POST", "/api/v1/tasks", map[string]any{"title": "Pay more rent"}, "Idempotency-Key", "rent-2026-12")
	if other.status != 422 || fieldsOf(other.problem(t))[0] != "Idempotency-Key" {
		t.Fatalf("reused key: %d %s", other.status, other.body)
	}
	bobs := h.do(t, "bob", "POST", "/api/v1/tasks", body, "Idempotency-Key", "rent-2026-12")
	var c task.Task
	bobs.json(t, &c)
	if bobs.status != 201 || c.ID == a.ID || c.UserID != "bob" {
		t.Fatalf("bob's create with alice's key: %d %+v", bobs.status, c)
	}
	var list struct{ Items []task.Task }
	h.do(t, "alice", "GET", "/api/v1/tasks", nil).json(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("alice has %d tasks, want 1", len(list.Items))
	}
}

func TestListThroughAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	day0 := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 7)
	split := day0.AddDate(0, 0, 4).Format(time.RFC3339)
	for i := range 7 {
		body := map[string]any{"title": fmt.Sprintf("task %d", i), "priority": []string{"low", "high"}[i%2], "tags": []string{"t" + fmt.Sprint(i%3)}}
		if i%3 == 0 {
			body["due_date"] = day0.AddDate(0, 0, i).Add(9 * time.Hour).Format(time.RFC3339)
		}
		tk := h.create(t, "alice", body)
		if i == 6 {
			h.do(t, "alice", "POST", "/api/v1/tasks/"+tk.ID.String()+"/complete", nil)
		}
	}
	h.create(t, "bob", map[string]any{"title": "task of bob"})

	type page struct {
		Items      []task.Task `json:"items"`
		NextCursor *string     `json:"next_cursor"`
	}
	var all []task.Task
	url := "/api/v1/tasks?limit=3&sort=title&order=asc"
	for {
		var p page
		r := h.do(t, "alice", "GET", url, nil)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		r.json(t, &p)
		all = append(all, p.Items...)
		if p.NextCursor == nil {
			break
		}
		url = "/api/v1/tasks?limit=3&sort=title&order=asc&cursor=" + *p.NextCursor
	}
	if len(all) != 7 || all[0].Title != "task 0" || all[6].Title != "task 6" {
		t.Fatalf("paged %d tasks", len(all))
	}
	count := func(query string) int {
		var p page
		r := h.do(t, "alice", "GET", "/api/v1/tasks?"+query, nil)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", query, r.status, r.body)
		}
		r.json(t, &p)
		return len(p.Items)
	}
	for query, want := range map[string]int{
		"status=open": 6, "status=completed": 1, "priority=high": 3, "priority=high,low": 7, "tag=t0": 3,
		"tag=T1&tag=t0": 0, "due_before=" + split: 2, "due_after=" + split: 1,
		"q=TASK%206": 1, "q=bob": 0, "sort=due_date": 7,
	} {
		if got := count(query); got != want {
			t.Errorf("%s: %d tasks, want %d", query, got, want)
		}
	}
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.do(t, "", "GET", "/api/v1/openapi.json", nil)
	if r.status != 200 {
		t.Fatalf("%d", r.status)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	r.json(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		// The notifier's and the auditor's routes are documented here too
		// (one contract for the web app), served by those apps.
		if _, elsewhere := ops["x-served-by"]; elsewhere {
			continue
		}
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range h.app.GetRoutes(true) {
		if !strings.HasPrefix(rt.Path, "/api/v1/") || rt.Method == "HEAD" || rt.Method == "USE" {
			continue
		}
		path := regexp.MustCompile(`:(\w+)`).ReplaceAllString(rt.Path, "{$1}")
		served[rt.Method+" "+path] = true
	}
	for op := range served {
		if !documented[op] {
			t.Errorf("route %s is not in the OpenAPI document", op)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("the OpenAPI document has %s, which is not served", op)
		}
	}
	if len(served) < 8 {
		t.Fatalf("only %d routes found: %v", len(served), served)
	}
}

// A body over the limit is read to its end and answered 413 on a
// connection that stays open: fasthttp alone would answer and close before
// reading the rest, and a client still writing would see a reset instead.
func TestTooLargeBodyKeepsTheConnection(t *testing.T) {
	h := newHarness(t)
	for _, size := range []int{20 << 10, 200 << 10} {
		req, _ := http.NewRequest("POST", h.base+"/api/v1/tasks", strings.NewReader(`{"title":"`+strings.Repeat("a", size)+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+h.keys["alice"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Close {
			t.Fatalf("%d bytes: %d, connection closed %v: want 413 on an open connection", size, resp.StatusCode, resp.Close)
		}
	}
}
