package api_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

// TestCalendarFeed: a user's secret feed URL serves their tasks as VTODOs
// that a maintained iCalendar parser reads (a series with its RRULE, a
// reminder as a VALARM, a completed task as COMPLETED); rotating retires
// the old URL; another user's tasks are never in it.
func TestCalendarFeed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	due := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	plain := h.create(t, "alice", map[string]any{"title": "Pay rent; call, landlord", "description": "line one\nline two",
		"due_date": due.Format(time.RFC3339), "reminder_offset": "PT1H", "priority": "high", "tags": []string{"home"}})
	series := h.create(t, "alice", map[string]any{"title": "Stand-up", "due_date": due.Format(time.RFC3339),
		"recurrence_pattern": "FREQ=WEEKLY;BYDAY=MO,WE"})
	done := h.create(t, "alice", map[string]any{"title": "Done already"})
	if r := h.do(t, "alice", "POST", "/api/v1/tasks/"+done.ID.String()+"/complete", nil); r.status != 200 {
		t.Fatalf("complete: %d", r.status)
	}
	h.create(t, "bob", map[string]any{"title": "Bob's secret"})

	var feed struct{ URL, Path string }
	if r := h.do(t, "alice", "POST", "/api/v1/calendar/feed", nil); r.status != 201 {
		t.Fatalf("create feed: %d %s", r.status, r.body)
	} else {
		r.json(t, &feed)
	}
	r := h.do(t, "", "GET", feed.Path, nil) // no token: the URL is the credential
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/calendar") {
		t.Fatalf("feed: %d %s", r.status, r.body)
	}
	cal, err := ical.NewDecoder(bytes.NewReader(r.body)).Decode()
	if err != nil {
		t.Fatalf("the feed does not parse: %v\n%s", err, r.body)
	}
	todos := map[string]*ical.Component{}
	for _, c := range cal.Children {
		if c.Name == ical.CompToDo {
			summary, _ := c.Props.Text(ical.PropSummary)
			todos[summary] = c
		}
	}
	if len(todos) != 3 || todos["Bob's secret"] != nil {
		t.Fatalf("VTODOs %v", keys(todos))
	}
	rent := todos["Pay rent; call, landlord"]
	if rent == nil {
		t.Fatalf("the first task (escaped title) is missing: %v", keys(todos))
	}
	if d, _ := rent.Props.Text(ical.PropDescription); d != "line one\nline two" {
		t.Errorf("description %q", d)
	}
	if got, err := rent.Props.DateTime(ical.PropDue, time.UTC); err != nil || !got.Equal(due) {
		t.Errorf("DUE %v %v, want %v", got, err, due)
	}
	if p := rent.Props.Get(ical.PropPriority); p == nil || p.Value != "1" {
		t.Errorf("priority %v", p)
	}
	if uid, _ := rent.Props.Text(ical.PropUID); uid != plain.ID.String()+"@taskflow" {
		t.Errorf("UID %q", uid)
	}
	var alarms []string
	for _, c := range rent.Children {
		if c.Name == ical.CompAlarm {
			alarms = append(alarms, c.Props.Get(ical.PropTrigger).Value)
		}
	}
	if len(alarms) != 1 || alarms[0] != "-PT1H0M0S" {
		t.Errorf("VALARM triggers %v", alarms)
	}
	stand := todos["Stand-up"]
	if rule, err := stand.Props.RecurrenceRule(); err != nil || rule == nil || !strings.Contains(rule.String(), "FREQ=WEEKLY") {
		t.Errorf("series RRULE %v %v", rule, err)
	}
	if uid, _ := stand.Props.Text(ical.PropUID); uid != series.ID.String()+"@taskflow" {
		t.Errorf("series UID %q", uid)
	}
	if s, _ := todos["Done already"].Props.Text(ical.PropStatus); s != "COMPLETED" {
		t.Errorf("status %q", s)
	}

	// Rotating retires the old URL.
	var next struct{ Path string }
	h.do(t, "alice", "POST", "/api/v1/calendar/feed", nil).json(t, &next)
	if next.Path == feed.Path {
		t.Fatal("rotation kept the URL")
	}
	if r := h.do(t, "", "GET", feed.Path, nil); r.status != 404 {
		t.Fatalf("old URL after rotation: %d", r.status)
	}
	if r := h.do(t, "", "GET", next.Path, nil); r.status != 200 {
		t.Fatalf("new URL: %d", r.status)
	}
	if r := h.do(t, "alice", "DELETE", "/api/v1/calendar/feed", nil); r.status != 204 {
		t.Fatalf("revoke: %d", r.status)
	}
	for _, p := range []string{next.Path, "/api/v1/calendar/nope.ics", "/api/v1/calendar/" + strings.Repeat("A", 43) + ".ics"} {
		if r := h.do(t, "", "GET", p, nil); r.status != 404 {
			t.Fatalf("GET %s: %d", p, r.status)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
