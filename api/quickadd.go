package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/taskflow/taskflow/quickadd"
	"github.com/taskflow/taskflow/recurrence"
	"github.com/taskflow/taskflow/task"
)

// textFields are the members a quick-add body may hold: the sentence, the
// zone to read it in, and what a sentence cannot say.
var textFields = []string{"text", "timezone", "description", firePastField}

// parsed is a quick-add text read into a draft.
type parsed struct {
	result quickadd.Result
	draft  task.Draft
}

// parseText reads a quick-add body {"text": ..., "timezone": ...}. The
// zone is the body's timezone, else the Time-Zone header, else UTC.
func parseText(c *fiber.Ctx, f *fields, now time.Time) (parsed, error) {
	for name := range f.m {
		if !contains(textFields, name) {
			f.v.Add(name, `cannot be sent with "text" (the text says it; send fields without "text" instead)`)
		}
	}
	text, _ := f.str("text")
	loc := time.UTC
	zoneName, zoneField := "", "timezone"
	if f.has("timezone") && !f.isNull("timezone") {
		zoneName, _ = f.str("timezone")
	} else if h := strings.TrimSpace(c.Get("Time-Zone")); h != "" {
		zoneName, zoneField = h, "Time-Zone"
	}
	if zoneName != "" {
		l, err := recurrence.LoadLocation(zoneName)
		if err != nil {
			f.v.Add(zoneField, "%s", err.Error())
		} else {
			loc = l
		}
	}
	var description string
	if f.has("description") && !f.isNull("description") {
		description, _ = f.str("description")
	}
	if err := f.v.Err(); err != nil {
		return parsed{}, err
	}
	res, err := quickadd.Parse(text, now, loc)
	if err != nil {
		return parsed{}, err
	}
	d := task.Draft{Title: res.Title, Description: description, Priority: task.Priority(res.Priority), Tags: res.Tags,
		DueDate: res.DueDate, RecurrencePattern: res.RecurrencePattern, RecurrenceEndDate: res.RecurrenceEndDate}
	if d.Priority == "" {
		d.Priority = task.PriorityNone
	}
	for _, r := range res.Reminders {
		d.Reminders = append(d.Reminders, task.ReminderSpec{Offset: &r})
	}
	if d.RecurrencePattern != nil {
		d.Timezone = &res.Timezone
	}
	return parsed{result: res, draft: d}, nil
}

// checkText runs the checks a create makes of a draft a text gave, the
// reminders' times included, and reports what fails on the field "text".
func checkText(limits task.Limits, d task.Draft, now time.Time, firePast bool) error {
	t, err := limits.New(uuid.Must(uuid.NewV7()), "-", d, now)
	if err != nil {
		return asText(err)
	}
	past := task.PastRefuse
	if firePast {
		past = task.PastFire
	}
	_, err = task.PlanAlarms(t, nil, now, past)
	return asText(err)
}

// asText reports a draft a text gave that the task rules refuse on the
// field "text", saying which part of the task it was.
func asText(err error) error {
	var ve *task.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var v task.Validator
	for _, fe := range ve.Fields {
		v.Add("text", "gives a task whose %s %s", fe.Field, fe.Message)
	}
	return v.Err()
}

// parseResponse is POST /api/v1/tasks/parse's answer: the fields the text
// gives, where each came from, and whether a create would accept them.
type parseResponse struct {
	quickadd.Result
	// Valid is false when the task rules refuse what the text gives (a
	// reminder already past, say); Errors say why, on the field "text".
	Valid  bool              `json:"valid"`
	Errors []task.FieldError `json:"errors"`
}

// parse answers POST /api/v1/tasks/parse: what a create with this text
// would make, without creating anything.
func (h *taskHandlers) parse(c *fiber.Ctx) error {
	m, err := object(c, fiber.MIMEApplicationJSON)
	if err != nil {
		return err
	}
	f := &fields{m: m}
	if !f.has("text") {
		f.v.Add("text", "is required")
		return f.v.Err()
	}
	firePast := f.firePast()
	p, err := parseText(c, f, h.now())
	if err != nil {
		return err
	}
	resp := parseResponse{Result: p.result, Valid: true, Errors: []task.FieldError{}}
	if err := checkText(h.limits, p.draft, h.now(), firePast); err != nil {
		var ve *task.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		resp.Valid, resp.Errors = false, ve.Fields
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(resp)
}

// canonicalText is what an Idempotency-Key's request hash covers for a
// quick-add create: the request, not the dates it gives, which move with
// the clock ("in 30 minutes" a retry later is the same request).
func canonicalText(m map[string]json.RawMessage, zoneHeader string) []byte {
	var b bytes.Buffer
	b.WriteString("text\x00")
	for _, k := range textFields {
		b.WriteString(k + "=" + string(m[k]) + "\x00")
	}
	b.WriteString("Time-Zone=" + zoneHeader)
	return b.Bytes()
}
