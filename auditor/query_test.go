package auditor

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

type fakeVerifier struct{}

func (fakeVerifier) Verify(_ context.Context, raw string) (auth.Claims, error) {
	user, ok := strings.CutPrefix(raw, "token-of-")
	if !ok {
		return auth.Claims{}, errors.New("token is malformed")
	}
	return auth.Claims{UserID: user, ExpiresAt: time.Now().Add(time.Hour)}, nil
}

// fakeReader serves one task owned by "ada"; it records the last query.
type fakeReader struct {
	task  uuid.UUID
	items []task.AuditRecord
	last  postgres.AuditQuery
	err   error
}

func (f *fakeReader) List(_ context.Context, user string, id uuid.UUID, q postgres.AuditQuery) (postgres.AuditPage, error) {
	f.last = q
	switch {
	case f.err != nil:
		return postgres.AuditPage{}, f.err
	case user != "ada" || id != f.task:
		return postgres.AuditPage{}, task.ErrNotFound
	case q.After == "bad":
		return postgres.AuditPage{}, postgres.ErrBadAuditCursor
	}
	return postgres.AuditPage{Items: f.items, Next: "next-page"}, nil
}

func (f *fakeReader) Verify(_ context.Context, user string, id uuid.UUID) (postgres.Verification, error) {
	if user != "ada" || id != f.task {
		return postgres.Verification{}, task.ErrNotFound
	}
	broken := f.items[0].EventID
	return postgres.Verification{Valid: false, Events: 2, FirstBrokenEvent: &broken, FirstBrokenReason: "altered"}, nil
}

type problemDoc struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field string `json:"field"`
	} `json:"errors"`
}

func get(t *testing.T, h http.Handler, path, user string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if user != "" {
		req.Header.Set("Authorization", "Bearer token-of-"+user)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	return rec.Result(), body
}

func TestQueryAnswers(t *testing.T) {
	taskID := uuid.Must(uuid.NewV7())
	rec := task.AuditRecord{EventID: uuid.Must(uuid.NewV7()), EventType: "task.created", TaskID: taskID, UserID: "ada",
		Payload: json.RawMessage(`{"event_type":"task.created"}`), ChainSeq: 1, Hash: "abc"}
	reader := &fakeReader{task: taskID, items: []task.AuditRecord{rec}}
	h := QueryHandler(reader, fakeVerifier{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	base := "/api/v1/audit/tasks/" + taskID.String()

	resp, body := get(t, h, base+"?type=task.created,task.updated&type=task.updated&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00%2B01:00&limit=500&cursor=abc", "ada")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var page struct {
		Items      []map[string]any `json:"items"`
		NextCursor *string          `json:"next_cursor"`
	}
	if err := json.Unmarshal(body, &page); err != nil || len(page.Items) != 1 || page.NextCursor == nil || *page.NextCursor != "next-page" {
		t.Fatalf("page %s (%v)", body, err)
	}
	for _, k := range []string{"event_id", "event_type", "task_id", "user_id", "occurred_at", "version", "payload",
		"correlation_id", "partition_key", "received_at", "chain_seq", "hash"} {
		if _, ok := page.Items[0][k]; !ok {
			t.Errorf("item has no %q: %s", k, body)
		}
	}
	q := reader.last
	if !slices.Equal(q.Types, []string{"task.created", "task.updated"}) || q.Limit != 500 || q.After != "abc" ||
		q.From == nil || !q.From.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) ||
		q.To == nil || !q.To.Equal(time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)) {
		t.Fatalf("query %+v", q)
	}
	get(t, h, base, "ada")
	if reader.last.Limit != DefaultPageSize || reader.last.Types != nil {
		t.Fatalf("defaults %+v", reader.last)
	}

	resp, body = get(t, h, base+"/verify", "ada")
	var v map[string]any
	_ = json.Unmarshal(body, &v)
	if resp.StatusCode != http.StatusOK || v["valid"] != false || v["events"] != float64(2) || v["first_broken_event_id"] != rec.EventID.String() {
		t.Fatalf("verify: %d %s", resp.StatusCode, body)
	}
}

func TestQueryProblems(t *testing.T) {
	taskID := uuid.Must(uuid.NewV7())
	reader := &fakeReader{task: taskID, items: []task.AuditRecord{{EventID: uuid.New()}}}
	h := QueryHandler(reader, fakeVerifier{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	base := "/api/v1/audit/tasks/" + taskID.String()
	for _, c := range []struct {
		name, path, user string
		status           int
		fields           []string
	}{
		{"no token", base, "", 401, []string{"Authorization"}},
		{"another user's task", base, "eve", 404, nil},
		{"another user's verify", base + "/verify", "eve", 404, nil},
		{"unknown task", "/api/v1/audit/tasks/" + uuid.NewString(), "ada", 404, nil},
		{"task id not a uuid", "/api/v1/audit/tasks/42", "ada", 400, []string{"task_id"}},
		{"unknown parameter", base + "?sort=desc", "ada", 400, []string{"sort"}},
		{"unknown event type", base + "?type=task.created,task.exploded", "ada", 400, []string{"type"}},
		{"limit too big", base + "?limit=501", "ada", 400, []string{"limit"}},
		{"limit zero", base + "?limit=0", "ada", 400, []string{"limit"}},
		{"from not a time", base + "?from=yesterday", "ada", 400, []string{"from"}},
		{"to before from", base + "?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", "ada", 400, []string{"to"}},
		{"limit twice", base + "?limit=1&limit=2", "ada", 400, []string{"limit"}},
		{"every problem named", base + "?limit=x&from=y&colour=red", "ada", 400, []string{"colour", "from", "limit"}},
		{"foreign cursor", base + "?cursor=bad", "ada", 400, []string{"cursor"}},
		{"verify takes no parameters", base + "/verify?deep=1", "ada", 400, []string{"deep"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := get(t, h, c.path, c.user)
			var p problemDoc
			if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != c.status || p.Status != c.status ||
				resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%d %s, want a %d problem", resp.StatusCode, body, c.status)
			}
			var fields []string
			for _, e := range p.Errors {
				fields = append(fields, e.Field)
			}
			slices.Sort(fields)
			if !slices.Equal(fields, c.fields) {
				t.Fatalf("fields %v, want %v (%s)", fields, c.fields, body)
			}
		})
	}

	reader.err = errors.New(`relation "task_events" does not exist`)
	resp, body := get(t, h, base, "ada")
	if resp.StatusCode != 500 || strings.Contains(string(body), "task_events") {
		t.Fatalf("internal error: %d %s (must not leak)", resp.StatusCode, body)
	}
	// An unreachable database is "try again", not an internal error.
	reader.err = errors.New("read tcp 127.0.0.1:5432: connection reset by peer")
	resp, body = get(t, h, base, "ada")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || strings.Contains(string(body), "connection reset") {
		t.Fatalf("database unreachable: %d %s", resp.StatusCode, body)
	}
}
