package api

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// List limits.
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
	MaxSearchLen     = 200
)

var listParams = []string{"status", "priority", "tag", "due_before", "due_after", "q", "series", "sort", "order", "limit", "cursor"}

// parseListQuery reads GET /api/v1/tasks's query string. priority and tag
// may repeat or hold comma-separated values. The default order is newest
// first for created_at and priority (highest first), earliest first for
// due_date and A-Z for title.
func parseListQuery(c *fiber.Ctx) (postgres.ListQuery, error) {
	var v task.Validator
	args := c.Context().QueryArgs()
	values := map[string][]string{}
	args.VisitAll(func(k, val []byte) {
		values[string(k)] = append(values[string(k)], string(val))
	})
	for name := range values {
		if !contains(listParams, name) {
			v.Add(name, "is not a parameter of this list (known: %s)", strings.Join(listParams, ", "))
		}
	}
	single := func(name string) (string, bool) {
		vals := values[name]
		switch len(vals) {
		case 0:
			return "", false
		case 1:
			return strings.TrimSpace(vals[0]), true
		}
		v.Add(name, "must be given once")
		return "", false
	}
	multi := func(name string) []string {
		var out []string
		for _, raw := range values[name] {
			for _, s := range strings.Split(raw, ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
		}
		return out
	}
	timeParam := func(name string) *time.Time {
		s, ok := single(name)
		if !ok {
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			v.Add(name, `must be an RFC 3339 time with an offset, like "2026-12-01T00:00:00Z"`)
			return nil
		}
		return &t
	}

	q := postgres.ListQuery{Status: postgres.StatusAll, Sort: postgres.SortCreatedAt, Limit: DefaultListLimit}
	if s, ok := single("status"); ok {
		switch st := postgres.Status(s); st {
		case postgres.StatusAll, postgres.StatusOpen, postgres.StatusCompleted:
			q.Status = st
		default:
			v.Add("status", "must be open, completed or all (got %q)", s)
		}
	}
	for _, s := range multi("priority") {
		p, err := task.ParsePriority(s)
		if err != nil {
			v.Add("priority", "%s", err.Error())
			continue
		}
		q.Priorities = append(q.Priorities, p)
	}
	for _, s := range multi("tag") {
		q.Tags = append(q.Tags, strings.ToLower(s))
	}
	if len(q.Tags) > task.MaxTags {
		v.Add("tag", "at most %d tags", task.MaxTags)
	}
	q.DueBefore = timeParam("due_before")
	q.DueAfter = timeParam("due_after")
	if s, ok := single("q"); ok {
		if len([]rune(s)) > MaxSearchLen {
			v.Add("q", "must be at most %d characters", MaxSearchLen)
		}
		q.Search = s
	}
	if s, ok := single("series"); ok {
		switch s {
		case "true":
			q.Series = ptr(true)
		case "false":
			q.Series = ptr(false)
		default:
			v.Add("series", "must be true (only series) or false (no series) (got %q)", s)
		}
	}
	if s, ok := single("sort"); ok {
		f, err := postgres.ParseSortField(s)
		if err != nil {
			v.Add("sort", "%s", err.Error())
		} else {
			q.Sort = f
		}
	}
	q.Desc = q.Sort == postgres.SortCreatedAt || q.Sort == postgres.SortPriority
	if s, ok := single("order"); ok {
		switch s {
		case "asc":
			q.Desc = false
		case "desc":
			q.Desc = true
		default:
			v.Add("order", "must be asc or desc (got %q)", s)
		}
	}
	if s, ok := single("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxListLimit {
			v.Add("limit", "must be an integer between 1 and %d", MaxListLimit)
		} else {
			q.Limit = n
		}
	}
	if s, ok := single("cursor"); ok {
		cur, err := postgres.DecodeCursor(s)
		switch {
		case err != nil:
			v.Add("cursor", "is not a cursor from this list")
		case cur.Sort != q.Sort || cur.Desc != q.Desc:
			v.Add("cursor", "belongs to another sort order; keep sort and order when paging")
		default:
			q.After = &cur
		}
	}
	if err := v.Err(); err != nil {
		ve := err.(*task.ValidationError)
		p := badParam(ve.Fields[0].Field, ve.Fields[0].Message)
		p.Errors = ve.Fields
		if len(ve.Fields) > 1 {
			p.Detail = "several query parameters are invalid; see errors"
		}
		return postgres.ListQuery{}, p
	}
	return q, nil
}

func ptr[T any](v T) *T { return &v }
