package task

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/taskflow/taskflow/recurrence"
)

// ErrValidation is matched (errors.Is) by every *ValidationError.
var ErrValidation = errors.New("validation failed")

// FieldError says what is wrong with one input field. Field uses the JSON
// name (or the query parameter / header name at the API boundary).
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every invalid field of one input.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrValidation) true.
func (e *ValidationError) Is(target error) bool { return target == ErrValidation }

// Invalid returns a *ValidationError for one field.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Fields: []FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// Validator collects field errors so that a client learns about every
// problem of a request at once. The zero value is ready to use; it is not
// safe for concurrent use.
type Validator struct {
	fields        []FieldError
	limits        Limits
	reminderField string // the field a client used for reminders: reminder_offset or reminders
}

// Add records a problem with field.
func (v *Validator) Add(field, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Check records err (if any) against field.
func (v *Validator) Check(field string, err error) {
	if err != nil {
		v.Add(field, "%s", err.Error())
	}
}

// Err returns the collected problems as a *ValidationError, or nil.
func (v *Validator) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: slices.Clone(v.fields)}
}

// Title validates and normalises a title (trimmed, 1..MaxTitleLen characters).
func (v *Validator) Title(field, s string) string {
	s = strings.TrimSpace(s)
	switch n := utf8.RuneCountInString(s); {
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case n == 0:
		v.Add(field, "is required")
	case n > MaxTitleLen:
		v.Add(field, "must be at most %d characters (got %d)", MaxTitleLen, n)
	case hasControl(s, false):
		v.Add(field, "must not contain control characters")
	}
	return s
}

// Description validates a description (at most MaxDescriptionLen characters;
// newlines and tabs allowed).
func (v *Validator) Description(field, s string) string {
	switch n := utf8.RuneCountInString(s); {
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case n > MaxDescriptionLen:
		v.Add(field, "must be at most %d characters (got %d)", MaxDescriptionLen, n)
	case hasControl(s, true):
		v.Add(field, "must not contain control characters other than newline and tab")
	}
	return s
}

// Priority validates a priority name.
func (v *Validator) Priority(field, s string) Priority {
	p, err := ParsePriority(s)
	if err != nil {
		v.Add(field, "%s", err.Error())
		return PriorityNone
	}
	return p
}

// Tags validates and normalises tags: trimmed, lower-cased, de-duplicated in
// first-seen order; at most MaxTags of at most MaxTagLen characters each.
func (v *Validator) Tags(field string, tags []string) []string {
	out := make([]string, 0, len(tags))
	for i, tag := range tags {
		tag = strings.ToLower(strings.TrimSpace(tag))
		f := fmt.Sprintf("%s[%d]", field, i)
		switch n := utf8.RuneCountInString(tag); {
		case !utf8.ValidString(tag):
			v.Add(f, "must be valid UTF-8")
			continue
		case n == 0:
			v.Add(f, "must not be empty")
			continue
		case n > MaxTagLen:
			v.Add(f, "must be at most %d characters (got %d)", MaxTagLen, n)
			continue
		case hasControl(tag, false):
			v.Add(f, "must not contain control characters")
			continue
		}
		if !slices.Contains(out, tag) {
			out = append(out, tag)
		}
	}
	if len(out) > MaxTags {
		v.Add(field, "at most %d distinct tags are allowed (got %d)", MaxTags, len(out))
	}
	return out
}

// Schedule checks the rules that tie the scheduling fields together (the
// database enforces the first two as chk_recurrence_requires_due_date and
// chk_reminder_requires_due_date) and that a recurrence rule is valid. It
// fills in a series' defaults: time zone UTC and mode schedule.
func (v *Validator) Schedule(t *Task) {
	if t.Timezone != nil {
		if _, err := recurrence.LoadLocation(*t.Timezone); err != nil {
			v.Add("timezone", "%s", err.Error())
		}
	}
	if t.RecurrencePattern != nil {
		if t.Timezone == nil {
			utc := "UTC"
			t.Timezone = &utc
		}
		if t.RecurrenceMode == nil {
			m := string(recurrence.Schedule)
			t.RecurrenceMode = &m
		} else if _, err := recurrence.ParseMode(*t.RecurrenceMode); err != nil {
			v.Add("recurrence_mode", "%s", err.Error())
		}
		switch {
		case t.DueDate == nil:
			v.Add("recurrence_pattern", "requires due_date (the series starts there)")
		case *t.RecurrencePattern == "":
			v.Add("recurrence_pattern", "must not be empty (use null to stop recurring)")
		case len(*t.RecurrencePattern) > MaxPatternLen:
			v.Add("recurrence_pattern", "must be at most %d bytes", MaxPatternLen)
		default:
			if _, err := t.Rule(v.limits); err != nil && !errors.Is(err, errBadZone) {
				v.Add("recurrence_pattern", "%s", strings.TrimPrefix(err.Error(), recurrence.ErrInvalid.Error()+": "))
			}
		}
	} else if t.RecurrenceMode != nil {
		v.Add("recurrence_mode", "requires recurrence_pattern")
	}
	if t.RecurrenceEndDate != nil {
		switch {
		case t.RecurrencePattern == nil:
			v.Add("recurrence_end_date", "requires recurrence_pattern")
		case t.DueDate != nil && t.RecurrenceEndDate.Before(*t.DueDate):
			v.Add("recurrence_end_date", "must not be before due_date")
		}
	}
	if v.reminderField == "reminders" {
		for i, r := range t.Reminders {
			if r.Offset != nil && t.DueDate == nil {
				v.Add(fmt.Sprintf("reminders[%d].offset", i), "requires due_date (or use \"at\" for an absolute time)")
			}
		}
		t.syncReminderOffset()
		return
	}
	if t.ReminderOffset != nil {
		switch {
		case t.DueDate == nil:
			v.Add("reminder_offset", "requires due_date")
		case len(*t.ReminderOffset) > MaxOffsetLen:
			v.Add("reminder_offset", "must be at most %d bytes", MaxOffsetLen)
		default:
			if _, err := ParseOffset(*t.ReminderOffset); err != nil {
				v.Add("reminder_offset", "%s", err.Error())
			} else if len(t.Reminders) == 0 || !slices.ContainsFunc(t.Reminders, func(r Reminder) bool { return r.Offset != nil }) {
				t.Reminders = append([]Reminder{{ID: ReminderID(t.ID, ReminderSpec{Offset: t.ReminderOffset}),
					Offset: clonePtr(t.ReminderOffset)}}, t.Reminders...)
			}
		}
	} else {
		// Keep the shorthand consistent: without reminder_offset there are no
		// offset reminders (absolute ones stay).
		t.Reminders = slices.DeleteFunc(t.Reminders, func(r Reminder) bool { return r.Offset != nil })
	}
	for _, r := range t.Reminders {
		if r.Offset != nil && t.DueDate == nil && t.ReminderOffset == nil {
			v.Add("reminders", "offset reminders require due_date")
		}
	}
	t.syncReminderOffset()
}

// validOffset reports whether s parses as a reminder offset.
func (v *Validator) validOffset(s string) bool {
	_, err := ParseOffset(s)
	return err == nil
}

func validUserID(s string) error {
	switch {
	case s == "":
		return errors.New("is required")
	case len(s) > MaxUserIDLen:
		return fmt.Errorf("must be at most %d bytes", MaxUserIDLen)
	case !utf8.ValidString(s) || hasControl(s, false):
		return errors.New("must be printable UTF-8")
	}
	return nil
}

func hasControl(s string, allowNewlines bool) bool {
	for _, r := range s {
		if allowNewlines && (r == '\n' || r == '\t' || r == '\r') {
			continue
		}
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

func trimPtr(s *string) *string {
	if s == nil {
		return nil
	}
	t := strings.TrimSpace(*s)
	return &t
}

// Optional is a JSON field that distinguishes "absent" (Set false), "null"
// (Set true, Null true) and a value. Use it as a struct field without
// omitempty; absent keys leave it zero.
type Optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// Some returns a set, non-null Optional.
func Some[T any](v T) Optional[T] { return Optional[T]{Set: true, Value: v} }

// Null returns a set, null Optional.
func Null[T any]() Optional[T] { return Optional[T]{Set: true, Null: true} }

// Ptr returns nil for null (or unset) and a pointer to a copy of the value
// otherwise.
func (o Optional[T]) Ptr() *T {
	if !o.Set || o.Null {
		return nil
	}
	v := o.Value
	return &v
}

// IsZero reports whether o is unset; with the omitzero tag option an unset
// Optional is left out of the JSON.
func (o Optional[T]) IsZero() bool { return !o.Set }

// MarshalJSON implements json.Marshaler: null or the value.
func (o Optional[T]) MarshalJSON() ([]byte, error) {
	if !o.Set || o.Null {
		return []byte("null"), nil
	}
	return json.Marshal(o.Value)
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		var zero T
		o.Value = zero
		return nil
	}
	o.Null = false
	return json.Unmarshal(b, &o.Value)
}
