package auditor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// Query limits of GET /api/v1/audit/tasks/{task_id}.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// EventTypes are the values the type filter accepts.
var EventTypes = task.EventTypes

var queryParams = []string{"type", "from", "to", "limit", "cursor"}

// Reader reads the audit log; see postgres.Audit.
type Reader interface {
	List(ctx context.Context, userID string, taskID uuid.UUID, q postgres.AuditQuery) (postgres.AuditPage, error)
	Verify(ctx context.Context, userID string, taskID uuid.UUID) (postgres.Verification, error)
}

// Verifier checks a bearer token; see auth.Verifier.
type Verifier interface {
	Verify(ctx context.Context, raw string) (auth.Claims, error)
}

// QueryHandler serves the audit log to its owners:
//
//	GET /api/v1/audit/tasks/{task_id}         the task's events, oldest first
//	GET /api/v1/audit/tasks/{task_id}/verify  the check of its hash chain
//
// A task the caller does not own (or that has no events) is 404, so ids
// of other users' tasks cannot be probed. A deleted task's history stays.
func QueryHandler(r Reader, v Verifier, logger *slog.Logger) http.Handler {
	h := &queryHandler{r: r, v: v, log: logger.With("component", "audit-query")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/audit/tasks/{task_id}", h.auth(h.list))
	mux.HandleFunc("GET /api/v1/audit/tasks/{task_id}/verify", h.auth(h.verify))
	return mux
}

type queryHandler struct {
	r   Reader
	v   Verifier
	log *slog.Logger
}

// problemError is an answer other than 200.
type problemError struct {
	status              int
	slug, title         string
	detail              string
	field, fieldMessage string
	extra               []*problemError // more fields at fault
}

func (p *problemError) Error() string { return p.detail }

func badParam(field, message string) *problemError {
	return &problemError{status: http.StatusBadRequest, slug: "invalid-parameter", title: "Invalid request parameter",
		detail: field + ": " + message, field: field, fieldMessage: message}
}

func (h *queryHandler) auth(next func(w http.ResponseWriter, r *http.Request, userID string, taskID uuid.UUID) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := func() error {
			raw, ok := auth.BearerToken(r.Header.Get("Authorization"))
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="taskflow"`)
				return &problemError{status: http.StatusUnauthorized, slug: "unauthorized", title: "Unauthorized",
					detail: "send Authorization: Bearer <token>", field: "Authorization", fieldMessage: "missing"}
			}
			claims, err := h.v.Verify(r.Context(), raw)
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="taskflow", error="invalid_token"`)
				return &problemError{status: http.StatusUnauthorized, slug: "unauthorized", title: "Unauthorized",
					detail: err.Error(), field: "Authorization", fieldMessage: err.Error()}
			}
			taskID, err := uuid.Parse(r.PathValue("task_id"))
			if err != nil {
				return badParam("task_id", "must be a task id (a UUID)")
			}
			return next(w, r, claims.UserID, taskID)
		}()
		if err != nil {
			h.fail(w, r, err)
		}
	}
}

func (h *queryHandler) list(w http.ResponseWriter, r *http.Request, userID string, taskID uuid.UUID) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	page, err := h.r.List(r.Context(), userID, taskID, q)
	if err != nil {
		return err
	}
	resp := struct {
		Items      []task.AuditRecord `json:"items"`
		NextCursor *string            `json:"next_cursor"`
	}{Items: page.Items}
	if resp.Items == nil {
		resp.Items = []task.AuditRecord{}
	}
	if page.Next != "" {
		resp.NextCursor = &page.Next
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (h *queryHandler) verify(w http.ResponseWriter, r *http.Request, userID string, taskID uuid.UUID) error {
	for name := range r.URL.Query() {
		return badParam(name, "is not a parameter of verify (it takes none)")
	}
	v, err := h.r.Verify(r.Context(), userID, taskID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// parseQuery reads the list's query string; every problem is reported, the
// first one as the detail.
func parseQuery(r *http.Request) (postgres.AuditQuery, error) {
	values := r.URL.Query()
	var errs []*problemError
	bad := func(field, format string, args ...any) {
		errs = append(errs, badParam(field, fmt.Sprintf(format, args...)))
	}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(queryParams, name) {
			bad(name, "is not a parameter of this list (known: %s)", strings.Join(queryParams, ", "))
		}
	}
	single := func(name string) (string, bool) {
		switch vals := values[name]; len(vals) {
		case 0:
			return "", false
		case 1:
			return strings.TrimSpace(vals[0]), true
		}
		bad(name, "must be given once")
		return "", false
	}
	timeParam := func(name string) *time.Time {
		s, ok := single(name)
		if !ok {
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			bad(name, `must be an RFC 3339 time with an offset, like "2026-12-01T00:00:00Z"`)
			return nil
		}
		return &t
	}
	q := postgres.AuditQuery{Limit: DefaultPageSize, From: timeParam("from"), To: timeParam("to")}
	if q.From != nil && q.To != nil && !q.To.After(*q.From) {
		bad("to", "must be after from")
	}
	for _, raw := range values["type"] {
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			if !slices.Contains(EventTypes, task.EventType(s)) {
				bad("type", "%q is not an event type (known: %s)", s, eventTypeList())
				continue
			}
			if !slices.Contains(q.Types, s) {
				q.Types = append(q.Types, s)
			}
		}
	}
	if s, ok := single("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPageSize {
			bad("limit", "must be a whole number from 1 to %d", MaxPageSize)
		} else {
			q.Limit = n
		}
	}
	if s, ok := single("cursor"); ok && s != "" {
		q.After = s
	}
	if len(errs) > 0 {
		p := *errs[0]
		p.extra = errs[1:]
		return q, &p
	}
	return q, nil
}

func eventTypeList() string {
	s := make([]string, len(EventTypes))
	for i, t := range EventTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// fail answers err as an RFC 9457 problem document; internal error text
// never reaches the client.
func (h *queryHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var p *problemError
	switch {
	case errors.As(err, &p):
	case errors.Is(err, task.ErrNotFound):
		p = &problemError{status: http.StatusNotFound, slug: "not-found", title: "Task not found",
			detail: "no audit history of this task exists for you"}
	case errors.Is(err, postgres.ErrBadAuditCursor):
		p = badParam("cursor", "is not a cursor this list returned")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return // the client left
	case errors.Is(err, context.DeadlineExceeded) || postgres.IsUnavailable(err):
		h.log.WarnContext(r.Context(), "audit query timed out or the database is unreachable", "path", r.URL.Path, "error", err)
		w.Header().Set("Retry-After", "2")
		p = &problemError{status: http.StatusServiceUnavailable, slug: "unavailable", title: "Service unavailable",
			detail: "the audit log did not answer in time; try again"}
	default:
		h.log.ErrorContext(r.Context(), "audit query failed", "path", r.URL.Path, "error", err)
		p = &problemError{status: http.StatusInternalServerError, slug: "internal", title: "Internal server error",
			detail: "the audit log could not be read"}
	}
	body := map[string]any{"type": "https://taskflow.dev/problems/" + p.slug, "title": p.title, "status": p.status,
		"detail": p.detail, "instance": r.URL.Path}
	if p.field != "" {
		fields := []map[string]string{{"field": p.field, "message": p.fieldMessage}}
		for _, e := range p.extra {
			fields = append(fields, map[string]string{"field": e.field, "message": e.fieldMessage})
		}
		body["errors"] = fields
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.status)
	_ = json.NewEncoder(w).Encode(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "private, no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
