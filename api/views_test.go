package api_test

import (
	"slices"
	"testing"
	"time"

	"github.com/taskflow/taskflow/task"
)

func TestCountsFollowTheClientsDay(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	now := time.Now().In(tokyo)
	dayStart := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, tokyo)
	at := func(d time.Time) string { return d.UTC().Format(time.RFC3339) }
	// Due later today in Tokyo, tomorrow, overdue (earlier today, or before
	// today), with no date, completed, and a series.
	later := dayStart.Add(24*time.Hour - time.Minute)
	for _, body := range []map[string]any{
		{"title": "later today", "due_date": at(later)},
		{"title": "tomorrow", "due_date": at(dayStart.Add(30 * time.Hour))},
		{"title": "last week", "due_date": at(now.Add(-7 * 24 * time.Hour))},
		{"title": "no date"},
		{"title": "series", "due_date": at(now.Add(time.Hour)), "recurrence_pattern": "daily:"},
	} {
		h.create(t, "alice", body)
	}
	done := h.create(t, "alice", map[string]any{"title": "done"})
	if r := h.do(t, "alice", "POST", "/api/v1/tasks/"+done.ID.String()+"/complete", nil); r.status != 200 {
		t.Fatalf("complete: %d", r.status)
	}
	h.create(t, "bob", map[string]any{"title": "bob's", "due_date": at(later)})

	var got struct {
		Timezone string    `json:"timezone"`
		DayStart time.Time `json:"day_start"`
		Counts   struct {
			Today, Upcoming, Overdue, Open, Completed, Series int
		} `json:"counts"`
	}
	r := h.do(t, "alice", "GET", "/api/v1/tasks/counts?timezone=Asia/Tokyo", nil)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	r.json(t, &got)
	c := got.Counts
	// The series' first instance is a task of its own, due in an hour: it
	// counts among today's or tomorrow's, and never as a series.
	if got.Timezone != "Asia/Tokyo" || !got.DayStart.Equal(dayStart) || c.Overdue != 1 || c.Completed != 1 || c.Series != 1 ||
		c.Open != 5 || c.Today+c.Upcoming != 3 || c.Upcoming < 1 {
		t.Fatalf("counts %+v", got)
	}
	if r := h.do(t, "alice", "GET", "/api/v1/tasks/counts", nil, "Time-Zone", "Mars/Olympus"); r.status != 400 ||
		fieldsOf(r.problem(t))[0] != "Time-Zone" {
		t.Fatalf("bad zone: %d %s", r.status, r.body)
	}
	if r := h.do(t, "alice", "GET", "/api/v1/tasks/counts?view=today", nil); r.status != 400 {
		t.Fatalf("unknown parameter: %d", r.status)
	}
	// The list can leave the series out, or show only them.
	var list struct{ Items []task.Task }
	h.do(t, "alice", "GET", "/api/v1/tasks?series=true", nil).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].Title != "series" {
		t.Fatalf("series=true: %+v", list.Items)
	}
	h.do(t, "alice", "GET", "/api/v1/tasks?series=false&status=all", nil).json(t, &list)
	if len(list.Items) != 6 || slices.ContainsFunc(list.Items, func(t task.Task) bool { return t.IsSeries() }) {
		t.Fatalf("series=false: %d items", len(list.Items))
	}
}

func TestPreviewCreatesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	due := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Hour)
	r := h.do(t, "alice", "POST", "/api/v1/tasks/preview?occurrences=3", map[string]any{
		"title": " Stand-up ", "due_date": due.Format(time.RFC3339), "recurrence_pattern": "weekly:mon,wed",
		"timezone": "Europe/Berlin", "reminders": []map[string]any{{"offset": "15m"}},
	})
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var p struct {
		Task        task.Task    `json:"task"`
		Occurrences []time.Time  `json:"occurrences"`
		Reminders   []task.Alarm `json:"reminders"`
	}
	r.json(t, &p)
	if p.Task.Title != "Stand-up" || len(p.Occurrences) != 3 || len(p.Reminders) != 2 {
		t.Fatalf("preview %+v", p)
	}
	for i, o := range p.Occurrences {
		if wd := o.In(mustZone(t, "Europe/Berlin")).Weekday(); wd != time.Monday && wd != time.Wednesday {
			t.Errorf("occurrence %d on a %v", i, wd)
		}
	}
	// The same 422 as a create, naming the field.
	for name, body := range map[string]map[string]any{
		"bad rule":      {"title": "x", "due_date": due.Format(time.RFC3339), "recurrence_pattern": "FREQ=FORTNIGHTLY"},
		"past reminder": {"title": "x", "due_date": time.Now().Add(time.Minute).UTC().Format(time.RFC3339), "reminder_offset": "1 hour"},
		"no title":      {"due_date": due.Format(time.RFC3339)},
	} {
		r := h.do(t, "alice", "POST", "/api/v1/tasks/preview", body)
		if r.status != 422 {
			t.Fatalf("%s: %d %s", name, r.status, r.body)
		}
		want := map[string]string{"bad rule": "recurrence_pattern", "past reminder": "reminders[0]", "no title": "title"}[name]
		if f := fieldsOf(r.problem(t)); !slices.Contains(f, want) {
			t.Errorf("%s: fields %v, want %s", name, f, want)
		}
	}
	var list struct{ Items []task.Task }
	h.do(t, "alice", "GET", "/api/v1/tasks?status=all", nil).json(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("a preview created %d tasks", len(list.Items))
	}
}

func TestWebConfigAndDevSignIn(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var cfg struct {
		DevSignIn bool `json:"dev_sign_in"`
	}
	h.do(t, "", "GET", "/api/v1/config", nil).json(t, &cfg)
	if !cfg.DevSignIn {
		t.Fatal("the harness runs on the development secret: dev sign-in must be on")
	}
	var tok struct{ Token string }
	r := h.do(t, "", "POST", "/api/v1/dev/token", map[string]any{"user": "carol"})
	r.json(t, &tok)
	if r.status != 200 || tok.Token == "" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if r := h.do(t, "", "POST", "/api/v1/dev/token", map[string]any{}); r.status != 400 {
		t.Fatalf("no user: %d", r.status)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
