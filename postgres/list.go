package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/task"
)

// SortField is a list order.
type SortField string

// The list orders. Ties are broken by id (UUIDv7, so by creation time).
const (
	SortCreatedAt SortField = "created_at"
	SortDueDate   SortField = "due_date" // tasks without a due date come last in both directions
	SortPriority  SortField = "priority"
	SortTitle     SortField = "title" // case-insensitive
)

// ParseSortField returns the SortField named s.
func ParseSortField(s string) (SortField, error) {
	switch f := SortField(s); f {
	case SortCreatedAt, SortDueDate, SortPriority, SortTitle:
		return f, nil
	}
	return "", fmt.Errorf("must be one of created_at, due_date, priority, title (got %q)", s)
}

// Status filters tasks by completion.
type Status string

// The status filters.
const (
	StatusAll       Status = "all"
	StatusOpen      Status = "open"
	StatusCompleted Status = "completed"
)

// ListQuery selects one page of a user's tasks. Limit must be positive; an
// empty Sort means SortCreatedAt. The api package chooses client defaults.
type ListQuery struct {
	Status     Status
	Priorities []task.Priority
	Tags       []string // tasks carrying every one of these tags
	DueBefore  *time.Time
	DueAfter   *time.Time
	Search     string // case-insensitive substring of title or description
	Series     *bool  // true: only series (tasks with a recurrence pattern); false: none of them
	Sort       SortField
	Desc       bool
	Limit      int
	After      *Cursor // continue after this position
}

// Page is one page of a list; Next is nil on the last page.
type Page struct {
	Items []task.Task
	Next  *Cursor
}

// Cursor is an opaque list position: the sort key and id of the last item
// of a page, and the order it belongs to.
type Cursor struct {
	Sort SortField  `json:"s"`
	Desc bool       `json:"d,omitempty"`
	ID   uuid.UUID  `json:"i"`
	Time *time.Time `json:"t,omitempty"` // created_at or due_date
	Num  *int       `json:"n,omitempty"` // priority rank
	Str  *string    `json:"v,omitempty"` // lower(title)
	Null bool       `json:"z,omitempty"` // due_date was null
}

// ErrBadCursor is returned by DecodeCursor for a cursor it did not make.
var ErrBadCursor = errors.New("cursor is malformed")

// Encode returns c as an opaque URL-safe string.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a string made by Cursor.Encode.
func DecodeCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(s) > 1024 {
		return Cursor{}, ErrBadCursor
	}
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return Cursor{}, ErrBadCursor
	}
	if _, err := ParseSortField(string(c.Sort)); err != nil || c.ID == uuid.Nil {
		return Cursor{}, ErrBadCursor
	}
	ok := false
	switch c.Sort {
	case SortCreatedAt:
		ok = c.Time != nil
	case SortDueDate:
		ok = c.Time != nil || c.Null
	case SortPriority:
		ok = c.Num != nil
	case SortTitle:
		// The title key goes to PostgreSQL as text: no NUL, valid UTF-8.
		ok = c.Str != nil && utf8.ValidString(*c.Str) && !strings.ContainsRune(*c.Str, 0)
	}
	if !ok {
		return Cursor{}, ErrBadCursor
	}
	return c, nil
}

// List returns one page of userID's tasks.
func (s *Tasks) List(ctx context.Context, userID string, q ListQuery) (Page, error) {
	if q.Limit <= 0 {
		return Page{}, errors.New("list: limit must be positive")
	}
	if q.Sort == "" {
		q.Sort = SortCreatedAt
	}
	if q.After != nil && (q.After.Sort != q.Sort || q.After.Desc != q.Desc) {
		return Page{}, fmt.Errorf("list: %w: it belongs to another sort order", ErrBadCursor)
	}
	b := sqlBuilder{}
	where := []string{"user_id = " + b.arg(userID)}
	switch q.Status {
	case StatusOpen:
		where = append(where, "NOT completed")
	case StatusCompleted:
		where = append(where, "completed")
	}
	if len(q.Priorities) > 0 {
		names := make([]string, len(q.Priorities))
		for i, p := range q.Priorities {
			names[i] = string(p)
		}
		where = append(where, "priority = ANY("+b.arg(names)+")")
	}
	if len(q.Tags) > 0 {
		where = append(where, "tags @> "+b.arg(q.Tags))
	}
	if q.DueBefore != nil {
		where = append(where, "due_date < "+b.arg(*q.DueBefore))
	}
	if q.DueAfter != nil {
		where = append(where, "due_date > "+b.arg(*q.DueAfter))
	}
	if q.Search != "" {
		where = append(where, "(title || ' ' || description) ILIKE "+b.arg("%"+escapeLike(q.Search)+"%"))
	}
	if q.Series != nil {
		if *q.Series {
			where = append(where, "recurrence_pattern IS NOT NULL")
		} else {
			where = append(where, "recurrence_pattern IS NULL")
		}
	}

	dir, cmp := "ASC", ">"
	if q.Desc {
		dir, cmp = "DESC", "<"
	}
	var order, extra string
	switch q.Sort {
	case SortCreatedAt:
		order = "created_at " + dir + ", id " + dir
		if c := q.After; c != nil {
			where = append(where, fmt.Sprintf("(created_at, id) %s (%s, %s)", cmp, b.arg(*c.Time), b.arg(c.ID)))
		}
	case SortDueDate:
		order = "due_date IS NULL, due_date " + dir + ", id " + dir
		if c := q.After; c != nil {
			if c.Null {
				where = append(where, fmt.Sprintf("(due_date IS NULL AND id %s %s)", cmp, b.arg(c.ID)))
			} else {
				where = append(where, fmt.Sprintf("((due_date IS NOT NULL AND (due_date, id) %s (%s, %s)) OR due_date IS NULL)",
					cmp, b.arg(*c.Time), b.arg(c.ID)))
			}
		}
	case SortPriority:
		order = "priority_rank " + dir + ", id " + dir
		if c := q.After; c != nil {
			where = append(where, fmt.Sprintf("(priority_rank, id) %s (%s, %s)", cmp, b.arg(*c.Num), b.arg(c.ID)))
		}
	case SortTitle:
		order = "lower(title) " + dir + ", id " + dir
		extra = ", lower(title)"
		if c := q.After; c != nil {
			where = append(where, fmt.Sprintf("(lower(title), id) %s (%s, %s)", cmp, b.arg(*c.Str), b.arg(c.ID)))
		}
	default:
		return Page{}, fmt.Errorf("list: unknown sort %q", q.Sort)
	}
	sql := "SELECT " + taskColumns + extra + ", priority_rank FROM tasks WHERE " + strings.Join(where, " AND ") +
		" ORDER BY " + order + " LIMIT " + strconv.Itoa(q.Limit+1)

	rows, err := s.pool.Query(ctx, sql, b.args...)
	if err != nil {
		return Page{}, fmt.Errorf("list tasks: %w", err)
	}
	defer rows.Close()
	page := Page{Items: make([]task.Task, 0, q.Limit)}
	var lastTitle string
	var lastRank int16
	for rows.Next() {
		var t task.Task
		var title string
		var rank int16
		if extra != "" {
			t, err = scanTask(rows, &title, &rank)
		} else {
			t, err = scanTask(rows, &rank)
		}
		if err != nil {
			return Page{}, fmt.Errorf("list tasks: %w", err)
		}
		if len(page.Items) == q.Limit {
			last := page.Items[len(page.Items)-1]
			page.Next = cursorFor(q, last, lastTitle, int(lastRank))
			break
		}
		page.Items = append(page.Items, t)
		lastTitle, lastRank = title, rank
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("list tasks: %w", err)
	}
	return page, nil
}

func cursorFor(q ListQuery, last task.Task, lowerTitle string, rank int) *Cursor {
	c := &Cursor{Sort: q.Sort, Desc: q.Desc, ID: last.ID}
	switch q.Sort {
	case SortCreatedAt:
		at := last.CreatedAt
		c.Time = &at
	case SortDueDate:
		if last.DueDate == nil {
			c.Null = true
		} else {
			at := *last.DueDate
			c.Time = &at
		}
	case SortPriority:
		c.Num = &rank
	case SortTitle:
		c.Str = &lowerTitle
	}
	return c
}

type sqlBuilder struct{ args []any }

func (b *sqlBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// escapeLike escapes LIKE wildcards so that a search is a plain substring.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Counts are how many of a user's tasks each view of the web app holds.
// Series (the templates of recurring tasks) are counted only in Series:
// their instances carry the dates.
type Counts struct {
	Today     int `json:"today"`     // open, due today (overdue ones of today included)
	Upcoming  int `json:"upcoming"`  // open, due after today
	Overdue   int `json:"overdue"`   // open, due before now
	Open      int `json:"open"`      // open
	Completed int `json:"completed"` // completed
	Series    int `json:"series"`    // series, open or paused
}

// Counts counts userID's tasks by view; today is [dayStart, dayEnd).
func (s *Tasks) Counts(ctx context.Context, userID string, now, dayStart, dayEnd time.Time) (Counts, error) {
	var c Counts
	err := s.pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE NOT completed AND recurrence_pattern IS NULL AND due_date >= $2 AND due_date < $3),
			count(*) FILTER (WHERE NOT completed AND recurrence_pattern IS NULL AND due_date >= $3),
			count(*) FILTER (WHERE NOT completed AND recurrence_pattern IS NULL AND due_date < $4),
			count(*) FILTER (WHERE NOT completed AND recurrence_pattern IS NULL),
			count(*) FILTER (WHERE completed AND recurrence_pattern IS NULL),
			count(*) FILTER (WHERE recurrence_pattern IS NOT NULL)
		FROM tasks WHERE user_id = $1`, userID, dayStart, dayEnd, now).
		Scan(&c.Today, &c.Upcoming, &c.Overdue, &c.Open, &c.Completed, &c.Series)
	if err != nil {
		return Counts{}, fmt.Errorf("count tasks: %w", err)
	}
	return c, nil
}
