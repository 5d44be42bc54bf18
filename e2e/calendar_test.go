package e2e_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/google/uuid"
)

// TestCalendarFeedOnTheStack: a task made through the API appears in the
// user's feed, fetched without a token as a calendar client would, and
// parses with a maintained iCalendar library; its series keeps its RRULE
// and a later edit shows on the next fetch.
func TestCalendarFeedOnTheStack(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	alice := e.as(t, "alice-"+uuid.NewString())
	due := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	tk := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "Dentist", "due_date": due.Format(time.RFC3339),
		"reminder_offset": "P1D"}).task(t)
	alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "Rent", "due_date": due.Format(time.RFC3339),
		"recurrence_pattern": "FREQ=MONTHLY;BYMONTHDAY=-1"})
	var feed struct{ Path string }
	alice.must(201, "POST", "/api/v1/calendar/feed", nil).decode(t, &feed)

	fetch := func() map[string]*ical.Component {
		resp, err := http.Get(e.api + feed.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("feed: %d %s", resp.StatusCode, body)
		}
		cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
		if err != nil {
			t.Fatalf("feed does not parse: %v", err)
		}
		out := map[string]*ical.Component{}
		for _, c := range cal.Children {
			if c.Name == ical.CompToDo {
				s, _ := c.Props.Text(ical.PropSummary)
				out[s] = c
			}
		}
		return out
	}
	todos := fetch()
	if todos["Dentist"] == nil || todos["Rent"] == nil {
		t.Fatalf("feed VTODOs: %v", keys(todos))
	}
	if rule, err := todos["Rent"].Props.RecurrenceRule(); err != nil || rule == nil || !strings.Contains(rule.String(), "BYMONTHDAY=-1") {
		t.Fatalf("Rent's RRULE %v %v", rule, err)
	}
	alice.must(200, "PATCH", "/api/v1/tasks/"+tk.ID.String(), map[string]any{"title": "Dentist (moved)"})
	if todos := fetch(); todos["Dentist (moved)"] == nil {
		t.Fatalf("the edit is not in the feed: %v", keys(todos))
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
