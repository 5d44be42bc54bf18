package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/taskflow/taskflow/recurrence"
	"github.com/taskflow/taskflow/task"
)

// Writable fields of a task, by JSON name. Everything else in a body is
// refused: read-only fields (id, version, ...) and unknown ones alike.
var readOnlyFields = []string{"id", "user_id", "completed", "completed_at", "created_at", "updated_at", "version",
	"parent_recurring_task_id", "occurrence_date", "reminder_status"}

// object reads a JSON object body after checking the Content-Type.
func object(c *fiber.Ctx, mediaTypes ...string) (map[string]json.RawMessage, error) {
	ct := c.Get(fiber.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	ok := err == nil
	if ok {
		ok = false
		for _, want := range mediaTypes {
			ok = ok || mt == want
		}
	}
	if !ok {
		return nil, problem(fiber.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
			"send the body as "+strings.Join(mediaTypes, " or "),
			task.FieldError{Field: "Content-Type", Message: "must be " + strings.Join(mediaTypes, " or ")})
	}
	body := bytes.TrimSpace(c.Body())
	if len(body) == 0 || body[0] != '{' {
		return nil, problem(fiber.StatusBadRequest, "malformed-json", "Malformed JSON", "the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil {
		return nil, problem(fiber.StatusBadRequest, "malformed-json", "Malformed JSON", "the body is not valid JSON: "+jsonSyntaxDetail(err))
	}
	if dec.More() {
		return nil, problem(fiber.StatusBadRequest, "malformed-json", "Malformed JSON", "the body has data after the JSON object")
	}
	return m, nil
}

func jsonSyntaxDetail(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	return "unexpected end of input"
}

// fields decodes the members of a JSON object one by one so that every
// problem names its field. Not safe for concurrent use.
type fields struct {
	m map[string]json.RawMessage
	v task.Validator
}

func (f *fields) has(name string) bool { _, ok := f.m[name]; return ok }

func (f *fields) isNull(name string) bool { return string(f.m[name]) == "null" }

func decodeInto[T any](f *fields, name string, what string) (T, bool) {
	var out T
	if err := json.Unmarshal(f.m[name], &out); err != nil {
		f.v.Add(name, "must be %s", what)
		return out, false
	}
	return out, true
}

func (f *fields) str(name string) (string, bool) { return decodeInto[string](f, name, "a string") }

func (f *fields) strs(name string) ([]string, bool) {
	return decodeInto[[]string](f, name, "an array of strings")
}

func (f *fields) time(name string) (time.Time, bool) {
	s, ok := decodeInto[string](f, name, `an RFC 3339 time with an offset, like "2026-12-01T17:00:00+01:00"`)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		f.v.Add(name, `must be an RFC 3339 time with an offset, like "2026-12-01T17:00:00+01:00"`)
		return time.Time{}, false
	}
	return t, true
}

// optional decodes a nullable field into an Optional.
func optional[T any](f *fields, name string, get func(string) (T, bool)) task.Optional[T] {
	if !f.has(name) {
		return task.Optional[T]{}
	}
	if f.isNull(name) {
		return task.Null[T]()
	}
	v, ok := get(name)
	if !ok {
		return task.Optional[T]{}
	}
	return task.Some(v)
}

// rejectOthers records every member that is not in allowed.
func (f *fields) rejectOthers(allowed []string) {
	for name := range f.m {
		switch {
		case contains(allowed, name):
		case contains(readOnlyFields, name):
			f.v.Add(name, "is read-only")
		default:
			f.v.Add(name, "is not a field of a task")
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var draftFields = []string{"title", "description", "priority", "tags", "due_date", "recurrence_pattern",
	"recurrence_end_date", "reminder_offset", "timezone", "recurrence_mode", "reminders", firePastField}

// firePastField is a request flag, not a task field: fire reminders whose
// time has passed at once instead of refusing them.
const firePastField = "fire_past_reminders"

// reminders decodes a list of reminders: [{"offset": "1 hour"}, {"at": "..."}].
func (f *fields) reminders(name string) ([]task.ReminderSpec, bool) {
	items, ok := decodeInto[[]map[string]json.RawMessage](f, name, `an array of reminders like {"offset": "1 hour"} or {"at": "2026-12-01T08:00:00Z"}`)
	if !ok {
		return nil, false
	}
	specs := make([]task.ReminderSpec, len(items))
	for i, item := range items {
		el := &fields{m: item}
		prefix := fmt.Sprintf("%s[%d]", name, i)
		for key := range item {
			if key != "offset" && key != "at" {
				f.v.Add(prefix+"."+key, `is not a field of a reminder (use "offset" or "at")`)
			}
		}
		if el.has("offset") {
			if s, ok := el.str("offset"); ok {
				specs[i].Offset = &s
			}
		}
		if el.has("at") {
			if t, ok := el.time("at"); ok {
				specs[i].At = &t
			}
		}
		var ve *task.ValidationError
		if errors.As(el.v.Err(), &ve) {
			for _, fe := range ve.Fields {
				f.v.Add(prefix+"."+fe.Field, "%s", fe.Message)
			}
		}
	}
	return specs, true
}

// firePast reads the fire_past_reminders flag.
func (f *fields) firePast() bool {
	if !f.has(firePastField) {
		return false
	}
	b, _ := decodeInto[bool](f, firePastField, "true or false")
	return b
}

// decodeDraft reads a create body and validates it with limits; firePast
// is the fire_past_reminders flag. A body with "text" is a quick add: the
// draft is what the text says, read at now (see parseText). canonical is
// what an Idempotency-Key's request hash covers.
func decodeDraft(c *fiber.Ctx, limits task.Limits, now time.Time) (d task.Draft, firePast bool, canonical []byte, err error) {
	m, err := object(c, fiber.MIMEApplicationJSON)
	if err != nil {
		return task.Draft{}, false, nil, err
	}
	f := &fields{m: m}
	if f.has("text") {
		firePast = f.firePast()
		p, err := parseText(c, f, now)
		if err != nil {
			return task.Draft{}, false, nil, err
		}
		if err := checkText(limits, p.draft, now, firePast); err != nil {
			return task.Draft{}, false, nil, err
		}
		return p.draft, firePast, canonicalText(m, c.Get("Time-Zone")), nil
	}
	f.rejectOthers(draftFields)
	firePast = f.firePast()
	if f.has("reminders") && !f.isNull("reminders") {
		d.Reminders, _ = f.reminders("reminders")
	}
	if !f.has("title") {
		f.v.Add("title", "is required")
	} else {
		d.Title, _ = f.str("title")
	}
	if f.has("description") && !f.isNull("description") {
		d.Description, _ = f.str("description")
	}
	if f.has("priority") && !f.isNull("priority") {
		if s, ok := f.str("priority"); ok {
			d.Priority = task.Priority(s)
			if s == "" {
				f.v.Add("priority", "must be one of none, low, medium, high")
			}
		}
	}
	if f.has("tags") && !f.isNull("tags") {
		d.Tags, _ = f.strs("tags")
	}
	d.DueDate = optional(f, "due_date", f.time).Ptr()
	d.RecurrencePattern = optional(f, "recurrence_pattern", f.str).Ptr()
	d.RecurrenceEndDate = optional(f, "recurrence_end_date", f.time).Ptr()
	d.ReminderOffset = optional(f, "reminder_offset", f.str).Ptr()
	d.Timezone = optional(f, "timezone", f.str).Ptr()
	d.RecurrenceMode = optional(f, "recurrence_mode", f.str).Ptr()
	if d.Timezone == nil && d.RecurrencePattern != nil {
		// A series' zone defaults to the client's (Time-Zone header), else UTC.
		if tz := strings.TrimSpace(c.Get("Time-Zone")); tz != "" {
			if _, err := recurrence.LoadLocation(tz); err != nil {
				f.v.Add("Time-Zone", "%s", err.Error())
			} else {
				d.Timezone = &tz
			}
		}
	}
	if err := merge(f.v.Err(), limits.ValidateDraft(d)); err != nil {
		return task.Draft{}, false, nil, err
	}
	canonical, _ = json.Marshal(d)
	return d, firePast, canonical, nil
}

// decodePatch reads a PATCH body (JSON merge patch) and the
// fire_past_reminders flag.
func decodePatch(c *fiber.Ctx, limits task.Limits) (task.Patch, bool, error) {
	m, err := object(c, fiber.MIMEApplicationJSON, "application/merge-patch+json")
	if err != nil {
		return task.Patch{}, false, err
	}
	f := &fields{m: m}
	f.rejectOthers(draftFields)
	p := task.Patch{
		Title:             optional(f, "title", f.str),
		Description:       optional(f, "description", f.str),
		Tags:              optional(f, "tags", f.strs),
		DueDate:           optional(f, "due_date", f.time),
		RecurrencePattern: optional(f, "recurrence_pattern", f.str),
		RecurrenceEndDate: optional(f, "recurrence_end_date", f.time),
		ReminderOffset:    optional(f, "reminder_offset", f.str),
		Timezone:          optional(f, "timezone", f.str),
		RecurrenceMode:    optional(f, "recurrence_mode", f.str),
		Reminders:         optional(f, "reminders", f.reminders),
	}
	if p.Reminders.Set && p.Reminders.Null {
		p.Reminders = task.Some([]task.ReminderSpec{})
	}
	firePast := f.firePast()
	if prio := optional(f, "priority", f.str); prio.Set {
		p.Priority = task.Optional[task.Priority]{Set: true, Null: prio.Null, Value: task.Priority(prio.Value)}
	}
	if err := merge(f.v.Err(), limits.ValidatePatch(p)); err != nil {
		return task.Patch{}, false, err
	}
	return p, firePast, nil
}

// decodeSnooze reads {"for": "10m"} or {"until": "2026-12-01T08:00:00Z"}.
func decodeSnooze(c *fiber.Ctx) (forDur time.Duration, until *time.Time, err error) {
	m, err := object(c, fiber.MIMEApplicationJSON)
	if err != nil {
		return 0, nil, err
	}
	f := &fields{m: m}
	for key := range m {
		if key != "for" && key != "until" {
			f.v.Add(key, `is not a field of a snooze (use "for" or "until")`)
		}
	}
	switch {
	case f.has("for") == f.has("until"):
		f.v.Add("for", `give exactly one of "for" (like "10m") or "until" (a time)`)
	case f.has("for"):
		if s, ok := f.str("for"); ok {
			d, perr := task.ParseOffset(s)
			switch {
			case perr != nil:
				f.v.Add("for", "%s", perr.Error())
			case d <= 0:
				f.v.Add("for", "must be longer than zero")
			}
			forDur = d
		}
	default:
		if t, ok := f.time("until"); ok {
			until = &t
		}
	}
	if err := f.v.Err(); err != nil {
		return 0, nil, err
	}
	return forDur, until, nil
}

// merge joins the decoding problems with the domain's, keeping only the
// first problem reported for a field (a field that failed to decode is
// zero, and the domain would only repeat that).
func merge(decoding, domain error) error {
	var out []task.FieldError
	seen := map[string]bool{}
	for _, err := range []error{decoding, domain} {
		var ve *task.ValidationError
		if !errors.As(err, &ve) {
			if err != nil {
				return err
			}
			continue
		}
		for _, fe := range ve.Fields {
			if !seen[fe.Field] {
				seen[fe.Field] = true
				out = append(out, fe)
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return &task.ValidationError{Fields: out}
}
