package api_test

import (
	"testing"
	"time"

	"github.com/taskflow/taskflow/task"
)

// TestQuickAdd: POST /api/v1/tasks/parse says what a text gives without
// creating; POST /api/v1/tasks with "text" creates exactly that.
func TestQuickAdd(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	count := func() int {
		var page struct{ Items []task.Task }
		h.do(t, "alice", "GET", "/api/v1/tasks?status=all&limit=200", nil).json(t, &page)
		return len(page.Items)
	}
	text := "Pay rent on the 1st of every month at 9am, remind me a day before #home !high"

	r := h.do(t, "alice", "POST", "/api/v1/tasks/parse", map[string]any{"text": text, "timezone": "Europe/Berlin"})
	if r.status != 200 {
		t.Fatalf("parse: %d %s", r.status, r.body)
	}
	var p struct {
		Title             string     `json:"title"`
		DueDate           *time.Time `json:"due_date"`
		RecurrencePattern *string    `json:"recurrence_pattern"`
		Reminders         []string   `json:"reminders"`
		Priority          string     `json:"priority"`
		Tags              []string   `json:"tags"`
		Timezone          string     `json:"timezone"`
		Valid             bool       `json:"valid"`
		Spans             []struct {
			Start, End  int
			Field, Text string
		} `json:"spans"`
	}
	r.json(t, &p)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	if p.Title != "Pay rent" || p.Priority != "high" || len(p.Tags) != 1 || p.Tags[0] != "home" || !p.Valid ||
		p.RecurrencePattern == nil || *p.RecurrencePattern != "FREQ=MONTHLY;BYMONTHDAY=1" ||
		len(p.Reminders) != 1 || p.Reminders[0] != "1 day" || p.Timezone != "Europe/Berlin" {
		t.Errorf("parse gave %s", r.body)
	}
	if p.DueDate == nil || p.DueDate.In(berlin).Day() != 1 || p.DueDate.In(berlin).Hour() != 9 || !p.DueDate.After(time.Now()) {
		t.Errorf("due %v, want the next 1st at 09:00 Berlin", p.DueDate)
	}
	for _, s := range p.Spans {
		if text[s.Start:s.End] != s.Text {
			t.Errorf("span %+v does not match the text", s)
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("parse created %d tasks", n)
	}

	// The create makes what the parse said; Idempotency-Key covers the text.
	r = h.do(t, "alice", "POST", "/api/v1/tasks", map[string]any{"text": text, "timezone": "Europe/Berlin"}, "Idempotency-Key", "qa-1")
	if r.status != 201 {
		t.Fatalf("create from text: %d %s", r.status, r.body)
	}
	var tk task.Task
	r.json(t, &tk)
	if tk.Title != "Pay rent" || tk.Priority != task.PriorityHigh || tk.RecurrencePattern == nil || tk.Timezone == nil ||
		*tk.Timezone != "Europe/Berlin" || len(tk.Reminders) != 1 || tk.DueDate == nil || !tk.DueDate.Equal(*p.DueDate) {
		t.Errorf("created %s", r.body)
	}
	again := h.do(t, "alice", "POST", "/api/v1/tasks", map[string]any{"text": text, "timezone": "Europe/Berlin"}, "Idempotency-Key", "qa-1")
	if again.status != 201 || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("a retried text create: %d %v", again.status, again.header)
	}

	// The zone may come from the Time-Zone header.
	r = h.do(t, "alice", "POST", "/api/v1/tasks/parse", map[string]any{"text": "Call mom tomorrow at 6pm"}, "Time-Zone", "Asia/Tokyo")
	r.json(t, &p)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	if p.Timezone != "Asia/Tokyo" || p.DueDate == nil || p.DueDate.In(tokyo).Hour() != 18 {
		t.Errorf("parse with Time-Zone: %s", r.body)
	}

	// Bad input names its field, and nothing is created.
	before := count()
	for _, tc := range []struct {
		path  string
		body  map[string]any
		field string
	}{
		{"/api/v1/tasks/parse", map[string]any{}, "text"},
		{"/api/v1/tasks/parse", map[string]any{"text": ""}, "text"},
		{"/api/v1/tasks/parse", map[string]any{"text": 42}, "text"},
		{"/api/v1/tasks/parse", map[string]any{"text": "x tomorrow", "timezone": "Mars/Base"}, "timezone"},
		{"/api/v1/tasks", map[string]any{"text": "#only #tags"}, "text"},
		{"/api/v1/tasks", map[string]any{"text": "Call tomorrow", "title": "Call"}, "title"},
		{"/api/v1/tasks", map[string]any{"text": "Call tomorrow", "due_date": "2030-01-01T00:00:00Z"}, "due_date"},
		{"/api/v1/tasks", map[string]any{"text": string(make([]byte, 1001))}, "text"},
		// A reminder a second ago would be in the past: refused on text.
		{"/api/v1/tasks", map[string]any{"text": "Leave in 10 minutes, remind me 1 hour before"}, "text"},
	} {
		r := h.do(t, "alice", "POST", tc.path, tc.body)
		if r.status != 400 && r.status != 422 {
			t.Errorf("%s %v: %d %s, want 400 or 422", tc.path, tc.body, r.status, r.body)
			continue
		}
		if f := r.problem(t).Errors; len(f) == 0 || f[0].Field != tc.field {
			t.Errorf("%s %v: errors %v, want the field %s", tc.path, tc.body, f, tc.field)
		}
	}
	if after := count(); after != before {
		t.Errorf("bad quick adds created %d tasks", after-before)
	}

	// A parse that a create would refuse says so, without failing.
	r = h.do(t, "alice", "POST", "/api/v1/tasks/parse", map[string]any{"text": "Leave in 10 minutes, remind me 1 hour before"})
	var v struct {
		Valid  bool              `json:"valid"`
		Errors []task.FieldError `json:"errors"`
	}
	r.json(t, &v)
	if r.status != 200 || v.Valid || len(v.Errors) == 0 || v.Errors[0].Field != "text" {
		t.Errorf("parse of a past reminder: %d %s", r.status, r.body)
	}
}
