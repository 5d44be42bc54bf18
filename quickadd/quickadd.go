package quickadd

import (
	"strings"
	"time"

	"github.com/taskflow/taskflow/task"
)

// MaxTextLen is the longest text Parse accepts, in bytes.
const MaxTextLen = 1000

// Span is one recognised phrase of the input: text[Start:End] == Text.
// Field names what it set: due_date, recurrence, recurrence_end, reminder,
// priority, tag or timezone.
type Span struct {
	Start int    `json:"start"`
	End   int    `json:"end"`
	Field string `json:"field"`
	Text  string `json:"text"`
}

// Result is what Parse makes of a quick-add text: the fields of a
// task.Draft, and where in the text each came from.
//
// A Result is a value owned by its caller; Parse shares none of its slices
// or pointers with another Result.
type Result struct {
	// Title is the text without the recognised spans, with white space,
	// dangling connectors (on, at, by, every, due, …) and stray commas
	// tidied away.
	Title string `json:"title"`
	// DueDate is an instant, in the Timezone's location.
	DueDate *time.Time `json:"due_date"`
	// RecurrencePattern is a canonical RFC 5545 RRULE without "RRULE:"
	// ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"), as recurrence.Rule.RRule writes
	// it. Set only together with DueDate, the series' first occurrence.
	RecurrencePattern *string `json:"recurrence_pattern"`
	// RecurrenceEndDate is the inclusive end of the series: the last second
	// of the day (or month) named after "until".
	RecurrenceEndDate *time.Time `json:"recurrence_end_date"`
	// Reminders are offsets before the due date in the notation
	// task.ParseOffset reads ("1 day", "30 minutes"), at most
	// task.MaxReminders. Reminders, Tags and Spans are [] rather than null
	// when empty.
	Reminders []string `json:"reminders"`
	// Priority is none, low, medium or high.
	Priority string `json:"priority"`
	// Tags are lower-cased and de-duplicated, in order of appearance, at
	// most task.MaxTags.
	Tags []string `json:"tags"`
	// Timezone is the IANA zone the dates were read in: the zone named in
	// the text, else the loc given to Parse.
	Timezone string `json:"timezone"`
	// Spans are the recognised phrases, sorted by Start, not overlapping.
	Spans []Span `json:"spans"`
	// Unparsed lists phrases that look like dates but were not used: a
	// second due date, "until" without a recurrence, or what the when
	// library finds in the title that this grammar does not know.
	Unparsed []string `json:"unparsed,omitempty"`
}

// Parse reads a quick-add text such as "Pay rent on the 1st of every month
// at 9am, remind me a day before #home !high" (see the package
// documentation for the grammar). Every date is relative to now, read in
// loc (nil means UTC) unless the text names a zone; loc should be an IANA
// zone, since its name becomes Result.Timezone.
//
// The only errors are *task.ValidationError for the field "text": the text
// is empty, longer than MaxTextLen bytes, or nothing is left for a title.
// Parse is deterministic and safe for concurrent use.
func Parse(text string, now time.Time, loc *time.Location) (Result, error) {
	switch {
	case strings.TrimSpace(text) == "":
		return Result{}, task.Invalid("text", "is required")
	case len(text) > MaxTextLen:
		return Result{}, task.Invalid("text", "must be at most %d bytes (got %d)", MaxTextLen, len(text))
	}
	if loc == nil {
		loc = time.UTC
	}
	p := &parser{text: text, toks: lex(text)}
	p.scan()
	res := p.resolve(now, loc)
	if res.Title == "" {
		return Result{}, task.Invalid("text", "leaves no title once its date, recurrence, reminders, priority and tags are taken out")
	}
	return res, nil
}
