package api_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskflow/taskflow/actors"
	"github.com/taskflow/taskflow/api"
	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// echoWriter creates what it is asked to, like a healthy actor would.
type echoWriter struct{}

func (echoWriter) Create(_ context.Context, id uuid.UUID, req actors.CreateRequest) (*actors.Reply, error) {
	t, err := task.New(id, req.UserID, req.Draft, time.Now())
	if err != nil {
		return &actors.Reply{Error: &actors.Error{Code: actors.CodeValidation}}, nil
	}
	return &actors.Reply{Task: &t}, nil
}

func (echoWriter) Update(_ context.Context, id uuid.UUID, req actors.UpdateRequest) (*actors.Reply, error) {
	t, _ := task.New(id, req.UserID, task.Draft{Title: "x"}, time.Now())
	next, _, err := t.Apply(req.Patch, time.Now())
	if err != nil {
		return &actors.Reply{Error: &actors.Error{Code: actors.CodeValidation}}, nil
	}
	return &actors.Reply{Task: &next}, nil
}

func (w echoWriter) Complete(ctx context.Context, id uuid.UUID, req actors.Request) (*actors.Reply, error) {
	return w.Update(ctx, id, actors.UpdateRequest{Request: req})
}
func (w echoWriter) Uncomplete(ctx context.Context, id uuid.UUID, req actors.Request) (*actors.Reply, error) {
	return w.Update(ctx, id, actors.UpdateRequest{Request: req})
}
func (w echoWriter) Delete(ctx context.Context, id uuid.UUID, req actors.Request) (*actors.Reply, error) {
	return w.Update(ctx, id, actors.UpdateRequest{Request: req})
}

func (echoWriter) StartSeriesOperation(context.Context, uuid.UUID, actors.OperationRequest) (*actors.Reply, error) {
	return &actors.Reply{Error: &actors.Error{Code: actors.CodeNotSeries}}, nil
}

func (echoWriter) Snooze(context.Context, uuid.UUID, actors.SnoozeRequest) (*actors.Reply, error) {
	return &actors.Reply{Error: &actors.Error{Code: actors.CodeReminderNotFound}}, nil
}

type emptyReader struct{}

func (emptyReader) AlarmsForUser(context.Context, string, uuid.UUID) ([]task.Alarm, error) {
	return nil, nil
}

func (emptyReader) Instances(context.Context, uuid.UUID, time.Time, int) ([]task.Instance, error) {
	return nil, nil
}

func (emptyReader) Get(context.Context, string, uuid.UUID) (postgres.Operation, error) {
	return postgres.Operation{}, task.ErrNotFound
}

func (emptyReader) GetForUser(context.Context, string, uuid.UUID) (task.Task, error) {
	return task.Task{}, task.ErrNotFound
}
func (emptyReader) List(context.Context, string, postgres.ListQuery) (postgres.Page, error) {
	return postgres.Page{}, nil
}
func (emptyReader) Counts(context.Context, string, time.Time, time.Time, time.Time) (postgres.Counts, error) {
	return postgres.Counts{}, nil
}

func (emptyReader) LookupIdempotency(context.Context, string, task.IdempotencyKey) (*task.Task, bool, error) {
	return nil, false, nil
}

// FuzzRequests sends arbitrary bodies, paths and query strings: whatever a
// client sends, the answer is never a 5xx and is always a problem document
// when it is an error.
func FuzzRequests(f *testing.F) {
	logger := slog.New(slog.DiscardHandler)
	verifier, err := auth.New(context.Background(), auth.Config{Secret: []byte(auth.DevSecret)}, logger)
	if err != nil {
		f.Fatal(err)
	}
	app, err := api.New(api.Config{}, api.Deps{Writer: echoWriter{}, Reader: emptyReader{}, Operations: emptyReader{}, Verifier: verifier,
		Registry: prometheus.NewRegistry()}, logger)
	if err != nil {
		f.Fatal(err)
	}
	token, _ := auth.Mint([]byte(auth.DevSecret), "fuzzer", auth.MintOptions{})
	id := uuid.NewString()
	for _, seed := range []struct {
		method, path, body string
	}{
		{"POST", "/api/v1/tasks", `{"title":"x","tags":["a"],"due_date":"2026-01-01T00:00:00Z","reminder_offset":"1 hour"}`},
		{"POST", "/api/v1/tasks", `{"title":null,"priority":7,"tags":[1,{}]}`},
		{"PATCH", "/api/v1/tasks/" + id, `{"description":null,"due_date":"2026-13-01T00:00:00Z"}`},
		{"GET", "/api/v1/tasks?status=open&priority=high,low&tag=a&q=%00&sort=title&order=desc&limit=0&cursor=eyJ9", ""},
		{"POST", "/api/v1/tasks/" + id + "/complete", ""},
		{"DELETE", "/api/v1/tasks/%zz", ""},
		{"DELETE", "/api/v1/tasks/" + id + "?scope=series", ""},
		{"GET", "/api/v1/tasks/" + id + "/occurrences?limit=5&from=2026-01-01T00:00:00Z", ""},
		{"GET", "/api/v1/operations/" + id, ""},
		{"GET", "/api/v1/tasks/" + id + "/reminders", ""},
		{"POST", "/api/v1/tasks/" + id + "/reminders/" + id + "/snooze", `{"for":"10m"}`},
		{"POST", "/api/v1/tasks", `{"title":"r","due_date":"2030-01-01T00:00:00Z","reminders":[{"offset":"1h"},{"at":"2029-12-31T00:00:00Z"}],"fire_past_reminders":true}`},
		{"POST", "/api/v1/tasks", `{"title":"s","due_date":"2026-01-01T00:00:00Z","recurrence_pattern":"FREQ=DAILY;BYSETPOS=-1;BYDAY=MO","timezone":"Europe/Berlin"}`},
	} {
		f.Add(seed.method, seed.path, seed.body)
	}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		switch method {
		case "GET", "POST", "PATCH", "DELETE", "PUT":
		default:
			return
		}
		if len(path) == 0 || path[0] != '/' || strings.IndexFunc(path, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			return // not a request target a client can send
		}
		req := httptest.NewRequest(method, "http://taskflow.test/", bytes.NewReader([]byte(body)))
		req.URL.RawPath, req.URL.Path = "", ""
		req.RequestURI = path
		if u, err := req.URL.Parse(path); err == nil {
			req.URL = u
		} else {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := app.Test(req, 5000)
		if err != nil {
			return // fasthttp refused the raw request itself
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s %q -> %d %s", method, path, body, resp.StatusCode, b)
		}
		if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s %s -> %d without a problem document: %s", method, path, resp.StatusCode, b)
		}
	})
}
