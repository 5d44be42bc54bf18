package quickadd_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // zone data even where the system has none

	"github.com/taskflow/taskflow/quickadd"
	"github.com/taskflow/taskflow/recurrence"
	"github.com/taskflow/taskflow/task"
)

// testClock is a now owned by the tests and the zone Parse reads it in.
type testClock struct {
	now time.Time
	loc *time.Location
}

func mustLoad(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatalf("load %s: %v", name, err)
	}
	return loc
}

// nthSunday is the nth Sunday of month m of year y, the day US DST
// changes fall on (second Sunday of March, first of November).
func nthSunday(y int, m time.Month, n int) time.Time {
	d := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	d = d.AddDate(0, 0, (7-int(d.Weekday()))%7)
	return d.AddDate(0, 0, 7*(n-1))
}

// clocks are the test clocks. Each now is passed to Parse in UTC, to show
// that only the instant matters.
func clocks(tb testing.TB) map[string]testClock {
	tb.Helper()
	ny := mustLoad(tb, "America/New_York")
	berlin := mustLoad(tb, "Europe/Berlin")
	spring := nthSunday(2025, time.March, 2)
	fall := nthSunday(2025, time.November, 1)
	at := func(day time.Time, h, m int, loc *time.Location) time.Time {
		y, mo, d := day.Date()
		return time.Date(y, mo, d, h, m, 0, 0, loc)
	}
	return map[string]testClock{
		// Wednesday 5 March 2025, 10:00 in New York: four days before DST starts.
		"wed": {time.Date(2025, 3, 5, 10, 0, 0, 0, ny), ny},
		// Friday 31 October 2025, 22:30 UTC: the last day of a month, late.
		"fri": {time.Date(2025, 10, 31, 22, 30, 0, 0, time.UTC), time.UTC},
		// The same Friday, 23:30 UTC: past every default hour of the day.
		"late": {time.Date(2025, 10, 31, 23, 30, 0, 0, time.UTC), time.UTC},
		// Monday 29 December 2025, 08:00 in Berlin: the turn of the year.
		"berlin": {time.Date(2025, 12, 29, 8, 0, 0, 0, berlin), berlin},
		// 10:00 in New York on the Saturday before spring forward.
		"spring": {at(spring.AddDate(0, 0, -1), 10, 0, ny), ny},
		// 10:00 in New York on spring-forward day itself.
		"springday": {at(spring, 10, 0, ny), ny},
		// 10:00 in New York on the Saturday before fall back.
		"fall": {at(fall.AddDate(0, 0, -1), 10, 0, ny), ny},
	}
}

func parse(tb testing.TB, c testClock, text string) quickadd.Result {
	tb.Helper()
	res, err := quickadd.Parse(text, c.now.UTC(), c.loc)
	if err != nil {
		tb.Fatalf("Parse(%q): %v", text, err)
	}
	return res
}

// wall renders an instant as the table writes it: wall clock and zone.
func wall(t *time.Time, layout string) string {
	if t == nil {
		return ""
	}
	return t.Format(layout) + " " + t.Location().String()
}

var fields = []string{"due_date", "recurrence", "recurrence_end", "reminder", "priority", "tag", "timezone"}

// checkResult checks what must hold for every Result of text: spans point
// into the text, are sorted and do not overlap; the fields are what the
// task package and the recurrence package accept.
func checkResult(tb testing.TB, text string, res quickadd.Result) {
	tb.Helper()
	end := 0
	for i, s := range res.Spans {
		switch {
		case s.Start < end || s.End <= s.Start || s.End > len(text):
			tb.Errorf("span %d %+v: out of order, empty or out of range (previous ends at %d, text is %d bytes)", i, s, end, len(text))
			return
		case text[s.Start:s.End] != s.Text:
			tb.Errorf("span %d %+v: text[%d:%d] is %q", i, s, s.Start, s.End, text[s.Start:s.End])
		case !slices.Contains(fields, s.Field):
			tb.Errorf("span %d %+v: unknown field", i, s)
		}
		end = s.End
	}
	if strings.TrimSpace(res.Title) != res.Title || res.Title == "" {
		tb.Errorf("title %q is empty or not trimmed", res.Title)
	}
	if res.Tags == nil || res.Reminders == nil || res.Spans == nil {
		tb.Errorf("tags, reminders and spans must be [] rather than null: %+v", res)
	}
	for _, r := range res.Reminders {
		if _, err := task.ParseOffset(r); err != nil {
			tb.Errorf("reminder %q: task.ParseOffset: %v", r, err)
		}
	}
	var v task.Validator
	if got := v.Tags("tags", res.Tags); v.Err() != nil || !slices.Equal(got, res.Tags) {
		tb.Errorf("tags %q: the task validator makes them %q, %v", res.Tags, got, v.Err())
	}
	if _, err := task.ParsePriority(res.Priority); err != nil {
		tb.Errorf("priority %q: %v", res.Priority, err)
	}
	loc, err := recurrence.LoadLocation(res.Timezone)
	if err != nil {
		tb.Errorf("timezone %q: %v", res.Timezone, err)
		return
	}
	for _, t := range []*time.Time{res.DueDate, res.RecurrenceEndDate} {
		if t != nil && t.Location().String() != res.Timezone {
			tb.Errorf("time %v is not in the result's zone %s", t, res.Timezone)
		}
	}
	if res.RecurrencePattern != nil {
		checkPattern(tb, res, loc)
	} else if res.RecurrenceEndDate != nil {
		tb.Errorf("an end date without a pattern")
	}
	checkDraft(tb, res)
	if _, err := json.Marshal(res); err != nil {
		tb.Errorf("json: %v", err)
	}
}

// checkPattern parses the pattern as the system will: starting at the due
// date, in the zone, with the end; the due date must be its first
// occurrence and the pattern canonical. The system's default limit (one
// minute between occurrences) refuses only sub-minute rules.
func checkPattern(tb testing.TB, res quickadd.Result, loc *time.Location) {
	tb.Helper()
	p := *res.RecurrencePattern
	if res.DueDate == nil {
		tb.Errorf("pattern %s without a due date", p)
		return
	}
	o := recurrence.Options{Start: *res.DueDate, Loc: loc, End: res.RecurrenceEndDate, MinInterval: time.Second}
	rule, err := recurrence.Parse(p, o)
	if err != nil {
		tb.Errorf("pattern %s: recurrence.Parse: %v", p, err)
		return
	}
	if first, _ := rule.First(); !first.Equal(*res.DueDate) {
		tb.Errorf("pattern %s: first occurrence %v, due date %v", p, first, res.DueDate)
	}
	if rule.RRule() != p {
		tb.Errorf("pattern %s is not canonical (%s)", p, rule.RRule())
	}
	o.MinInterval = task.DefaultLimits().MinRecurrenceInterval
	_, err = recurrence.Parse(p, o)
	if subMinute := strings.Contains(p, "SECONDLY"); (err != nil) != subMinute {
		tb.Errorf("pattern %s under the default limits: %v", p, err)
	}
}

// checkDraft validates the result as the draft the API would build. The
// title is the user's own text, which the task package may refuse (invalid
// UTF-8, control characters, too long); Parse does not judge it, so the
// draft then gets a stand-in title and every other field is still checked.
func checkDraft(tb testing.TB, res quickadd.Result) {
	tb.Helper()
	title := res.Title
	if titleRefused(title) {
		title = "stand-in"
	}
	d := task.Draft{Title: title, Priority: task.Priority(res.Priority), Tags: res.Tags, DueDate: res.DueDate,
		RecurrencePattern: res.RecurrencePattern, RecurrenceEndDate: res.RecurrenceEndDate, Timezone: &res.Timezone,
		Reminders: []task.ReminderSpec{}}
	for _, r := range res.Reminders {
		d.Reminders = append(d.Reminders, task.ReminderSpec{Offset: &r})
	}
	if err := (task.Limits{MinRecurrenceInterval: time.Second}).ValidateDraft(d); err != nil {
		tb.Errorf("draft: %v", err)
	}
}

// textError reports whether err is the validation error Parse returns,
// for the field "text".
func textError(err error) bool {
	var v *task.ValidationError
	return errors.As(err, &v) && errors.Is(err, task.ErrValidation) && len(v.Fields) == 1 && v.Fields[0].Field == "text"
}

// titleRefused reports whether the task package refuses title itself.
func titleRefused(title string) bool {
	var v task.Validator
	v.Title("title", title)
	return v.Err() != nil
}
