package mcptools

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var errNoCredentials = errors.New("this call carries no credentials: send Authorization: Bearer <token>")

// Limits of the list tools.
const (
	defaultLimit = 20
	maxLimit     = 100
)

// Views of list_tasks, as the web app has them.
var views = []string{"today", "overdue", "upcoming", "open", "completed", "all"}

type tools struct {
	b    *Backend
	cred CredentialsFunc
	now  func() time.Time // nil: time.Now
}

func (t *tools) clock() time.Time {
	if t.now != nil {
		return t.now()
	}
	return time.Now()
}

func ptr[T any](v T) *T { return &v }

func (t *tools) register(s *mcp.Server) {
	readOnly := &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: ptr(false)}
	write := func(idempotent, destructive bool) *mcp.ToolAnnotations {
		return &mcp.ToolAnnotations{IdempotentHint: idempotent, DestructiveHint: ptr(destructive), OpenWorldHint: ptr(false)}
	}
	mcp.AddTool(s, &mcp.Tool{Name: "list_tasks", Annotations: readOnly,
		Description: "List the user's tasks in a view (today, overdue, upcoming, open, completed, all), optionally filtered by tag and priority. Today is the user's day in their time zone."},
		t.listTasks)
	mcp.AddTool(s, &mcp.Tool{Name: "search_tasks", Annotations: readOnly,
		Description: "Search the user's tasks by words in the title or description."},
		t.searchTasks)
	mcp.AddTool(s, &mcp.Tool{Name: "get_task", Annotations: readOnly,
		Description: "Read one task by id, with its reminders and their status."},
		t.getTask)
	mcp.AddTool(s, &mcp.Tool{Name: "create_task", Annotations: write(false, false),
		Description: `Create a task, either from a sentence in "text" (TaskFlow reads the due date, recurrence, reminders, priority from "!high" or "p1" and #tags) or from explicit fields with "title". Give exactly one of text and title.`},
		t.createTask)
	mcp.AddTool(s, &mcp.Tool{Name: "update_task", Annotations: write(true, false),
		Description: `Change some fields of a task; fields left out stay as they are. List fields to empty in "clear" (due_date, recurrence_pattern, recurrence_end_date, reminders, description, tags).`},
		t.updateTask)
	mcp.AddTool(s, &mcp.Tool{Name: "complete_task", Annotations: write(true, false),
		Description: "Mark a task done. Completing an occurrence of a series does not end the series."},
		t.completeTask)
	mcp.AddTool(s, &mcp.Tool{Name: "reopen_task", Annotations: write(true, false),
		Description: "Mark a completed task as not done again."},
		t.reopenTask)
	mcp.AddTool(s, &mcp.Tool{Name: "delete_task", Annotations: write(true, true),
		Description: "Delete a task for good. Ask the user first."},
		t.deleteTask)
	mcp.AddTool(s, &mcp.Tool{Name: "snooze_reminder", Annotations: write(false, false),
		Description: `Fire one of a task's reminders again later: "for" a while from now (like "10 minutes") or "until" a time. reminder_id may be left out when the task has one pending reminder.`},
		t.snoozeReminder)
	mcp.AddTool(s, &mcp.Tool{Name: "list_occurrences", Annotations: readOnly,
		Description: "List the coming occurrences of a recurring task (a series), with the instance task of each that exists."},
		t.listOccurrences)
	mcp.AddTool(s, &mcp.Tool{Name: "task_history", Annotations: readOnly,
		Description: "Read a task's history from the immutable audit log: who changed what and when, oldest first."},
		t.taskHistory)

	for _, v := range []struct{ name, desc string }{
		{"today", "The user's open tasks due today (their time zone), earliest first."},
		{"overdue", "The user's open tasks whose due date has passed, earliest first."},
	} {
		s.AddResource(&mcp.Resource{URI: "taskflow://tasks/" + v.name, Name: v.name, Title: "Tasks: " + v.name,
			Description: v.desc, MIMEType: "application/json"}, t.viewResource(v.name))
	}
}

// --- listing -----------------------------------------------------------

// ListInput is list_tasks' argument.
type ListInput struct {
	View     string   `json:"view,omitempty" jsonschema:"one of today, overdue, upcoming, open, completed, all (default open)"`
	Tags     []string `json:"tags,omitempty" jsonschema:"only tasks with all these tags"`
	Priority string   `json:"priority,omitempty" jsonschema:"only tasks of this priority: none, low, medium or high"`
	Limit    int      `json:"limit,omitempty" jsonschema:"at most this many tasks (1 to 100, default 20)"`
	Cursor   string   `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page"`
	TimeZone string   `json:"timezone,omitempty" jsonschema:"the user's IANA time zone for today, like Europe/Berlin (default: the client's)"`
}

// SearchInput is search_tasks' argument.
type SearchInput struct {
	Query         string `json:"query" jsonschema:"words to find in titles and descriptions"`
	IncludeClosed bool   `json:"include_completed,omitempty" jsonschema:"also completed tasks"`
	Limit         int    `json:"limit,omitempty" jsonschema:"at most this many tasks (1 to 100, default 20)"`
	Cursor        string `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page"`
}

func (t *tools) listTasks(ctx context.Context, req *mcp.CallToolRequest, in ListInput) (*mcp.CallToolResult, any, error) {
	cred, err := t.cred(ctx, req.Extra)
	if err != nil {
		return nil, nil, err
	}
	if in.TimeZone != "" {
		cred.TimeZone = in.TimeZone
	}
	q, err := t.viewQuery(cmp.Or(in.View, "open"), cred.TimeZone)
	if err != nil {
		return nil, nil, err
	}
	if err := page(q, in.Limit, in.Cursor); err != nil {
		return nil, nil, err
	}
	if len(in.Tags) > 0 {
		q.Set("tag", strings.Join(in.Tags, ","))
	}
	if in.Priority != "" {
		q.Set("priority", in.Priority)
	}
	return t.send(ctx, cred, http.MethodGet, "/api/v1/tasks", q, nil)
}

func (t *tools) searchTasks(ctx context.Context, req *mcp.CallToolRequest, in SearchInput) (*mcp.CallToolResult, any, error) {
	cred, err := t.cred(ctx, req.Extra)
	if err != nil {
		return nil, nil, err
	}
	if strings.TrimSpace(in.Query) == "" {
		return nil, nil, errors.New("query: give the words to search for")
	}
	q := url.Values{"q": {in.Query}, "status": {"open"}}
	if in.IncludeClosed {
		q.Set("status", "all")
	}
	if err := page(q, in.Limit, in.Cursor); err != nil {
		return nil, nil, err
	}
	return t.send(ctx, cred, http.MethodGet, "/api/v1/tasks", q, nil)
}

// viewQuery is the list query of a view, "today" being the day in zone.
func (t *tools) viewQuery(view, zone string) (url.Values, error) {
	loc := time.UTC
	if zone != "" {
		l, err := time.LoadLocation(zone)
		if err != nil {
			return nil, fmt.Errorf("timezone: %q is not an IANA time zone such as Europe/Berlin", zone)
		}
		loc = l
	}
	now := t.clock().In(loc)
	dayStart := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	dayEnd := dayStart.AddDate(0, 0, 1)
	rfc := func(x time.Time) string { return x.UTC().Format(time.RFC3339Nano) }
	q := url.Values{"series": {"false"}, "status": {"open"}}
	switch view {
	case "today":
		// due_after and due_before are exclusive.
		q.Set("due_after", rfc(dayStart.Add(-time.Millisecond)))
		q.Set("due_before", rfc(dayEnd))
		q.Set("sort", "due_date")
	case "overdue":
		q.Set("due_before", rfc(now))
		q.Set("sort", "due_date")
	case "upcoming":
		q.Set("due_after", rfc(dayEnd.Add(-time.Millisecond)))
		q.Set("sort", "due_date")
	case "open":
	case "completed":
		q.Set("status", "completed")
	case "all":
		q.Set("status", "all")
		q.Del("series")
	default:
		return nil, fmt.Errorf("view: must be one of %s (got %q)", strings.Join(views, ", "), view)
	}
	return q, nil
}

func page(q url.Values, limit int, cursor string) error {
	switch {
	case limit == 0:
		limit = defaultLimit
	case limit < 1 || limit > maxLimit:
		return fmt.Errorf("limit: must be between 1 and %d", maxLimit)
	}
	q.Set("limit", strconv.Itoa(limit))
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return nil
}

func (t *tools) viewResource(view string) mcp.ResourceHandler {
	return func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		cred, err := t.cred(ctx, req.Extra)
		if err != nil {
			return nil, err
		}
		q, err := t.viewQuery(view, cred.TimeZone)
		if err != nil {
			return nil, err
		}
		q.Set("limit", strconv.Itoa(maxLimit))
		var out json.RawMessage
		if err := t.b.api(ctx, cred, http.MethodGet, "/api/v1/tasks", q, nil, &out); err != nil {
			return nil, err
		}
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{
			URI: req.Params.URI, MIMEType: "application/json", Text: string(out)}}}, nil
	}
}

// --- one task ----------------------------------------------------------

// IDInput names a task.
type IDInput struct {
	ID string `json:"id" jsonschema:"the task's id (a UUID)"`
}

func taskPath(id string, suffix string) (string, error) {
	u, err := uuid.Parse(strings.TrimSpace(id))
	if err != nil {
		return "", errors.New("id: must be a task id (a UUID), as list_tasks gives")
	}
	return "/api/v1/tasks/" + u.String() + suffix, nil
}

func (t *tools) getTask(ctx context.Context, req *mcp.CallToolRequest, in IDInput) (*mcp.CallToolResult, any, error) {
	cred, err := t.cred(ctx, req.Extra)
	if err != nil {
		return nil, nil, err
	}
	path, err := taskPath(in.ID, "")
	if err != nil {
		return nil, nil, err
	}
	var tk, rem map[string]any
	if err := t.b.api(ctx, cred, http.MethodGet, path, nil, nil, &tk); err != nil {
		return nil, nil, err
	}
	if err := t.b.api(ctx, cred, http.MethodGet, path+"/reminders", nil, nil, &rem); err != nil {
		return nil, nil, err
	}
	tk["reminder_status"] = rem["items"]
	return nil, tk, nil
}

// CreateInput is create_task's argument.
type CreateInput struct {
	Text              string   `json:"text,omitempty" jsonschema:"a sentence TaskFlow parses, like 'Call mom tomorrow at 6pm remind me 30 minutes before #family'"`
	Title             string   `json:"title,omitempty" jsonschema:"the task's title (when not using text)"`
	Description       string   `json:"description,omitempty"`
	DueDate           string   `json:"due_date,omitempty" jsonschema:"RFC 3339 time with offset, like 2027-01-15T09:00:00+01:00"`
	Priority          string   `json:"priority,omitempty" jsonschema:"none, low, medium or high"`
	Tags              []string `json:"tags,omitempty"`
	RecurrencePattern string   `json:"recurrence_pattern,omitempty" jsonschema:"RFC 5545 RRULE like FREQ=WEEKLY;BYDAY=MO or daily, weekly, monthly; needs due_date"`
	RecurrenceEndDate string   `json:"recurrence_end_date,omitempty" jsonschema:"RFC 3339 time after which the series stops"`
	Reminders         []string `json:"reminders,omitempty" jsonschema:"offsets before the due date, like 15 minutes or 1 day"`
	TimeZone          string   `json:"timezone,omitempty" jsonschema:"IANA zone of a recurring task (its occurrences keep their wall-clock time), and of dates in text"`
}

func (t *tools) createTask(ctx context.Context, req *mcp.CallToolRequest, in CreateInput) (*mcp.CallToolResult, any, error) {
	cred, err := t.cred(ctx, req.Extra)
	if err != nil {
		return nil, nil, err
	}
	if in.TimeZone != "" {
		cred.TimeZone = in.TimeZone
	}
	body := map[string]any{}
	switch {
	case (in.Text == "") == (in.Title == ""):
		return nil, nil, errors.New("text: give exactly one of text (a sentence to parse) and title")
	case in.Text != "":
		if in.DueDate != "" || in.RecurrencePattern != "" || len(in.Reminders) > 0 || in.Priority != "" || len(in.Tags) > 0 || in.RecurrenceEndDate != "" {
			return nil, nil, errors.New("text: the sentence says everything; leave the other fields out, or use title with fields")
		}
		body["text"] = in.Text
		if in.Description != "" {
			body["description"] = in.Description
		}
		if cred.TimeZone != "" {
			body["timezone"] = cred.TimeZone
		}
	default:
		body["title"] = in.Title
		setStr(body, "description", in.Description)
		setStr(body, "due_date", in.DueDate)
		setStr(body, "priority", in.Priority)
		setStr(body, "recurrence_pattern", in.RecurrencePattern)
		setStr(body, "recurrence_end_date", in.RecurrenceEndDate)
		if in.RecurrencePattern != "" {
			setStr(body, "timezone", cred.TimeZone)
		}
		if len(in.Tags) > 0 {
			body["tags"] = in.Tags
		}
		if len(in.Reminders) > 0 {
			body["reminders"] = reminderSpecs(in.Reminders)
		}
	}
	return t.send(ctx, cred, http.MethodPost, "/api/v1/tasks", nil, body)
}

// send makes one API call as the caller and hands its JSON answer to the
// agent as the tool's result.
func (t *tools) send(ctx context.Context, cred Credentials, method, path string, q url.Values, body any) (*mcp.CallToolResult, any, error) {
	var out map[string]any
	if err := t.b.api(ctx, cred, method, path, q, body, &out); err != nil {
		return nil, nil, err
	}
	return nil, out, nil
}

func setStr(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func reminderSpecs(offsets []string) []map[string]string {
	out := make([]map[string]string, len(offsets))
	for i, o := range offsets {
		out[i] = map[string]string{"offset": o}
	}
	return out
}

// UpdateInput is update_task's argument: only the fields given change.
type UpdateInput struct {
	ID                string    `json:"id" jsonschema:"the task's id"`
	Title             *string   `json:"title,omitempty"`
	Description       *string   `json:"description,omitempty"`
	DueDate           *string   `json:"due_date,omitempty" jsonschema:"RFC 3339 time with offset"`
	Priority          *string   `json:"priority,omitempty" jsonschema:"none, low, medium or high"`
	Tags              *[]string `json:"tags,omitempty" jsonschema:"the new full list of tags"`
	RecurrencePattern *string   `json:"recurrence_pattern,omitempty"`
	RecurrenceEndDate *string   `json:"recurrence_end_date,omitempty"`
	Reminders         *[]string `json:"reminders,omitempty" jsonschema:"the new full list of reminder offsets before the due date"`
	Clear             []string  `json:"clear,omitempty" jsonschema:"fields to empty: due_date, recurrence_pattern, recurrence_end_date, reminders, description, tags"`
	WholeSeries       bool      `json:"whole_series,omitempty" jsonschema:"for a series: change the series and its open occurrences"`
}

var clearable = []string{"due_date", "recurrence_pattern", "recurrence_end_date", "reminders", "description", "tags"}

func (t *tools) updateTask(ctx context.Context, req *mcp.CallToolRequest, in UpdateInput) (*mcp.CallToolResult, any, error) {
	cred, err := t.cred(ctx, req.Extra)
	if err != nil {
		return nil, nil, err
	}
	path, err := taskPath(in.ID, "")
	if err != nil {
		return nil, nil, err
	}
	body := map[string]any{}
	set := func(k string, v *string) {
		if v != nil {
			body[k] = *v
		}
	}
	set("title", in.Title)
	set("description", in.Description)
	set("due_date", in.DueDate)
	set("priority", in.Priority)
	set("recurrence_pattern", in.RecurrencePattern)
	set("recurrence_end_date", in.RecurrenceEndDate)
	if in.Tags != nil {
		body["tags"] = *in.Tags
	}
	if in.Reminders != nil {
		body["reminders"] = reminderSpecs(*in.Reminders)
	}
	for _, f := range in.Clear {
		if !slices.Contains(clearable, f) {
			return nil, nil, fmt.Errorf("clear: %q cannot be cleared (these can: %s)", f, strings.Join(clearable, ", "))
		}
		if _, both := body[f]; both {
			return nil, nil, fmt.Errorf("clear: %s is both set and cleared", f)
		}
		switch f {
		case "description":
			body[f] = ""
		case "tags", "reminders":
			body[f] = []any{}
		default:
			body[f] = nil
		}
	}
	if len(body) == 0 {
		return nil, nil, errors.New("id: nothing to change; give at least one field or clear")
	}
	var q url.Values
	if in.WholeSeries {
		q = url.Values{"scope": {"series"}}
	}
	return t.send(ctx, cred, http.MethodPatch, path, q, body)
}

func (t *tools) command(suffix, method string) mcp.ToolHandlerFor[IDInput, any] {
	return func(ctx context.Context, req *mcp.CallToolRequest, in IDInput) (*mcp.CallToolResult, any, error) {
		cred, err := t.cred(ctx, req.Extra)
		if err != nil {
			return nil, nil, err
		}
		path, err := taskPath(in.ID, suffix)
		if err != nil {
			return nil, nil, err
		}
		var out map[string]any
		if err := t.b.api(ctx, cred, method, path, nil, nil, &out); err != nil {
			return nil, nil, err
		}
		if out == nil {
			out = map[string]any{"id": in.ID, "deleted": true}
		}
		return nil, out, nil
	}
}

func (t *tools) completeTask(ctx context.Context, req *mcp.CallToolRequest, in IDInput) (*mcp.CallToolResult, any, error) {
	return t.command("/complete", http.MethodPost)(ctx, req, in)
}

func (t *tools) reopenTask(ctx context.Context, req *mcp.CallToolRequest, in IDInput) (*mcp.CallToolResult, any, error) {
	return t.command("/uncomplete", http.MethodPost)(ctx, req, in)
}

func (t *tools) deleteTask(ctx context.Context, req *mcp.CallToolRequest, in IDInput) (*mcp.CallToolResult, any, error) {
	return t.command("", http.MethodDelete)(ctx, req, in)
}

// SnoozeInput is snooze_reminder's argument.
type SnoozeInput struct {
	ID         string `json:"id" jsonschema:"the task's id"`
	ReminderID string `json:"reminder_id,omitempty" jsonschema:"which reminder (get_task lists them); may be left out when the task has one pending reminder"`
	For        string `json:"for,omitempty" jsonschema:"how long from now, like 10 minutes or 1 hour"`
	Until      string `json:"until,omitempty" jsonschema:"an RFC 3339 time to fire at instead"`
}

func (t *tools) snoozeReminder(ctx context.Context, req *mcp.CallToolRequest, in SnoozeInput) (*mcp.CallToolResult, any, error) {
	cred, err := t.cred(ctx, req.Extra)
	if err != nil {
		return nil, nil, err
	}
	path, err := taskPath(in.ID, "")
	if err != nil {
		return nil, nil, err
	}
	if (in.For == "") == (in.Until == "") {
		return nil, nil, errors.New(`for: give exactly one of "for" (like "10 minutes") and "until" (a time)`)
	}
	rid := strings.TrimSpace(in.ReminderID)
	if rid == "" {
		var rem struct {
			Items []struct {
				ID     string `json:"reminder_id"`
				Type   string `json:"type"`
				Status string `json:"status"`
			} `json:"items"`
		}
		if err := t.b.api(ctx, cred, http.MethodGet, path+"/reminders", nil, nil, &rem); err != nil {
			return nil, nil, err
		}
		var ids []string
		for _, r := range rem.Items {
			if r.Type != "overdue" {
				ids = append(ids, r.ID)
			}
		}
		if len(ids) != 1 {
			return nil, nil, fmt.Errorf("reminder_id: the task has %d reminders; say which (get_task lists them)", len(ids))
		}
		rid = ids[0]
	} else if _, err := uuid.Parse(rid); err != nil {
		return nil, nil, errors.New("reminder_id: must be a reminder id (a UUID), as get_task gives")
	}
	body := map[string]any{}
	setStr(body, "for", in.For)
	setStr(body, "until", in.Until)
	return t.send(ctx, cred, http.MethodPost, path+"/reminders/"+rid+"/snooze", nil, body)
}

// OccurrencesInput is list_occurrences' argument.
type OccurrencesInput struct {
	ID    string `json:"id" jsonschema:"the series' id (or an occurrence's, whose series is used)"`
	From  string `json:"from,omitempty" jsonschema:"RFC 3339 time to list from (default: the first occurrence)"`
	Limit int    `json:"limit,omitempty" jsonschema:"at most this many (default 10)"`
}

func (t *tools) listOccurrences(ctx context.Context, req *mcp.CallToolRequest, in OccurrencesInput) (*mcp.CallToolResult, any, error) {
	cred, err := t.cred(ctx, req.Extra)
	if err != nil {
		return nil, nil, err
	}
	path, err := taskPath(in.ID, "")
	if err != nil {
		return nil, nil, err
	}
	// An occurrence's series is its parent.
	var tk struct {
		Parent *string `json:"parent_recurring_task_id"`
	}
	if err := t.b.api(ctx, cred, http.MethodGet, path, nil, nil, &tk); err != nil {
		return nil, nil, err
	}
	if tk.Parent != nil {
		if path, err = taskPath(*tk.Parent, ""); err != nil {
			return nil, nil, err
		}
	}
	q := url.Values{"limit": {strconv.Itoa(cmp.Or(in.Limit, 10))}}
	setQ(q, "from", in.From)
	return t.send(ctx, cred, http.MethodGet, path+"/occurrences", q, nil)
}

// HistoryInput is task_history's argument.
type HistoryInput struct {
	ID     string `json:"id" jsonschema:"the task's id"`
	Limit  int    `json:"limit,omitempty" jsonschema:"at most this many entries (default 50)"`
	Cursor string `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page"`
}

func (t *tools) taskHistory(ctx context.Context, req *mcp.CallToolRequest, in HistoryInput) (*mcp.CallToolResult, any, error) {
	cred, err := t.cred(ctx, req.Extra)
	if err != nil {
		return nil, nil, err
	}
	u, err := uuid.Parse(strings.TrimSpace(in.ID))
	if err != nil {
		return nil, nil, errors.New("id: must be a task id (a UUID)")
	}
	q := url.Values{"limit": {strconv.Itoa(cmp.Or(in.Limit, 50))}}
	setQ(q, "cursor", in.Cursor)
	var out map[string]any
	if err := t.b.audit(ctx, cred, "/api/v1/audit/tasks/"+u.String(), q, &out); err != nil {
		return nil, nil, err
	}
	return nil, out, nil
}

func setQ(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}
