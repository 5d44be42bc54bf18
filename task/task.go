// Package task holds TaskFlow's domain rules: a task's fields, how they are
// validated, the transitions a task goes through and the events each
// transition emits. It imports no Dapr, Fiber or pgx code so that the rules
// test in microseconds and every adapter shares them.
package task

import (
	"slices"
	"time"

	"github.com/google/uuid"
)

// Limits on user input. They are part of the public contract (documented in
// the OpenAPI document) so changing one is an API change.
const (
	MaxTitleLen       = 255
	MaxDescriptionLen = 10_000
	MaxTags           = 20
	MaxTagLen         = 50
	MaxUserIDLen      = 255
	MaxPatternLen     = 500
	MaxOffsetLen      = 64
)

// Task is one to-do item owned by one user. The JSON names are the database
// column names; clients and event consumers rely on them.
//
// A Task is a value: copy it freely. Its slices are never shared between
// copies returned by this package's functions.
type Task struct {
	ID                    uuid.UUID  `json:"id"`
	UserID                string     `json:"user_id"`
	Title                 string     `json:"title"`
	Description           string     `json:"description"`
	Completed             bool       `json:"completed"`
	CompletedAt           *time.Time `json:"completed_at"`
	Priority              Priority   `json:"priority"`
	Tags                  []string   `json:"tags"`
	DueDate               *time.Time `json:"due_date"`
	RecurrencePattern     *string    `json:"recurrence_pattern"`
	RecurrenceEndDate     *time.Time `json:"recurrence_end_date"`
	ParentRecurringTaskID *uuid.UUID `json:"parent_recurring_task_id"`
	OccurrenceDate        *time.Time `json:"occurrence_date"`
	ReminderOffset        *string    `json:"reminder_offset"`
	ReminderStatus        *string    `json:"reminder_status"`
	Timezone              *string    `json:"timezone"`        // IANA zone of a series (occurrences keep its wall-clock time)
	RecurrenceMode        *string    `json:"recurrence_mode"` // schedule | from_completion, for a series
	Reminders             []Reminder `json:"reminders"`       // reminder_offset is the first offset reminder
	CreatedAt             time.Time  `json:"created_at"`
	UpdatedAt             time.Time  `json:"updated_at"`
	Version               int64      `json:"version"`
}

// Clone returns a deep copy of t.
func (t Task) Clone() Task {
	c := t
	c.Tags = slices.Clone(t.Tags)
	if c.Tags == nil {
		c.Tags = []string{}
	}
	c.CompletedAt = clonePtr(t.CompletedAt)
	c.DueDate = clonePtr(t.DueDate)
	c.RecurrencePattern = clonePtr(t.RecurrencePattern)
	c.RecurrenceEndDate = clonePtr(t.RecurrenceEndDate)
	c.ParentRecurringTaskID = clonePtr(t.ParentRecurringTaskID)
	c.OccurrenceDate = clonePtr(t.OccurrenceDate)
	c.ReminderOffset = clonePtr(t.ReminderOffset)
	c.ReminderStatus = clonePtr(t.ReminderStatus)
	c.Timezone = clonePtr(t.Timezone)
	c.RecurrenceMode = clonePtr(t.RecurrenceMode)
	c.Reminders = slices.Clone(t.Reminders)
	if c.Reminders == nil {
		c.Reminders = []Reminder{}
	}
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Draft is what a user supplies to create a task. Zero values mean "not
// given": an empty Priority becomes PriorityNone.
type Draft struct {
	Title             string     `json:"title"`
	Description       string     `json:"description"`
	Priority          Priority   `json:"priority"`
	Tags              []string   `json:"tags"`
	DueDate           *time.Time `json:"due_date"`
	RecurrencePattern *string    `json:"recurrence_pattern"`
	RecurrenceEndDate *time.Time `json:"recurrence_end_date"`
	ReminderOffset    *string    `json:"reminder_offset"`
	Timezone          *string    `json:"timezone"`
	RecurrenceMode    *string    `json:"recurrence_mode"`
	// Reminders lists the task's reminders; ReminderOffset is the seed's
	// shorthand for one offset reminder. Use one or the other.
	Reminders []ReminderSpec `json:"reminders"`
}

// Validate checks d on its own with the default limits.
func (d Draft) Validate() error { return DefaultLimits().ValidateDraft(d) }

// ValidateDraft checks d on its own, reporting every invalid field at once.
func (l Limits) ValidateDraft(d Draft) error {
	_, err := l.build(d, uuid.Max, "-", time.Time{})
	return err
}

// New validates d with the default limits and returns the version-1 task
// it describes. It reports every invalid field at once as a *ValidationError.
func New(id uuid.UUID, userID string, d Draft, now time.Time) (Task, error) {
	return DefaultLimits().New(id, userID, d, now)
}

// New is New with limits l.
func (l Limits) New(id uuid.UUID, userID string, d Draft, now time.Time) (Task, error) {
	return l.build(d, id, userID, now)
}

func (l Limits) build(d Draft, id uuid.UUID, userID string, now time.Time) (Task, error) {
	v := Validator{limits: l, reminderField: "reminder_offset"}
	if id == uuid.Nil {
		v.Add("id", "must be a UUID")
	}
	v.Check("user_id", validUserID(userID))
	title := v.Title("title", d.Title)
	desc := v.Description("description", d.Description)
	prio := PriorityNone
	if d.Priority != "" {
		prio = v.Priority("priority", string(d.Priority))
	}
	tags := v.Tags("tags", d.Tags)
	t := Task{
		ID:                id,
		UserID:            userID,
		Title:             title,
		Description:       desc,
		Priority:          prio,
		Tags:              tags,
		DueDate:           utcPtr(d.DueDate),
		RecurrencePattern: trimPtr(d.RecurrencePattern),
		RecurrenceEndDate: utcPtr(d.RecurrenceEndDate),
		ReminderOffset:    trimPtr(d.ReminderOffset),
		Timezone:          trimPtr(d.Timezone),
		RecurrenceMode:    trimPtr(d.RecurrenceMode),
		Reminders:         []Reminder{},
		CreatedAt:         stamp(now),
		UpdatedAt:         stamp(now),
		Version:           1,
	}
	switch {
	case d.Reminders != nil && d.ReminderOffset != nil:
		v.Add("reminder_offset", "use either reminder_offset or reminders, not both")
	case d.Reminders != nil:
		v.reminderField = "reminders"
		t.Reminders = v.reminders(id, d.Reminders)
	}
	v.Schedule(&t)
	if err := v.Err(); err != nil {
		return Task{}, err
	}
	return t, nil
}

// Patch is a partial update (JSON merge-patch semantics): an unset field is
// left unchanged, JSON null clears a nullable field, a value replaces it.
// It travels as JSON between the API and the task actor.
type Patch struct {
	Title             Optional[string]         `json:"title,omitzero"`
	Description       Optional[string]         `json:"description,omitzero"`
	Priority          Optional[Priority]       `json:"priority,omitzero"`
	Tags              Optional[[]string]       `json:"tags,omitzero"`
	DueDate           Optional[time.Time]      `json:"due_date,omitzero"`
	RecurrencePattern Optional[string]         `json:"recurrence_pattern,omitzero"`
	RecurrenceEndDate Optional[time.Time]      `json:"recurrence_end_date,omitzero"`
	ReminderOffset    Optional[string]         `json:"reminder_offset,omitzero"`
	Timezone          Optional[string]         `json:"timezone,omitzero"`
	RecurrenceMode    Optional[string]         `json:"recurrence_mode,omitzero"`
	Reminders         Optional[[]ReminderSpec] `json:"reminders,omitzero"`
}

// Empty reports whether p changes nothing at all.
func (p Patch) Empty() bool {
	return !p.Title.Set && !p.Description.Set && !p.Priority.Set && !p.Tags.Set &&
		!p.DueDate.Set && !p.RecurrencePattern.Set && !p.RecurrenceEndDate.Set && !p.ReminderOffset.Set &&
		!p.Timezone.Set && !p.RecurrenceMode.Set && !p.Reminders.Set
}

// Template keeps only the fields a series hands down to its instances
// (title, description, priority, tags, reminder offset): what a
// series-wide change applies to open instances.
func (p Patch) Template() Patch {
	return Patch{Title: p.Title, Description: p.Description, Priority: p.Priority, Tags: p.Tags,
		ReminderOffset: p.ReminderOffset, Reminders: p.Reminders}
}

// Schedule reports whether p changes when a series occurs.
func (p Patch) Schedule() bool {
	return p.DueDate.Set || p.RecurrencePattern.Set || p.RecurrenceEndDate.Set || p.Timezone.Set || p.RecurrenceMode.Set
}

// Validate checks, with the default limits, the parts of p that do not
// depend on the task it will be applied to (Apply checks the rest).
func (p Patch) Validate() error { return DefaultLimits().ValidatePatch(p) }

// ValidatePatch is Patch.Validate with limits l.
func (l Limits) ValidatePatch(p Patch) error {
	var base Task
	base.Title = "-"
	base.Tags = []string{}
	// Scheduling rules need the current task; leave them out here.
	q := p
	q.DueDate, q.RecurrencePattern, q.RecurrenceEndDate, q.ReminderOffset, q.Timezone, q.RecurrenceMode, q.Reminders =
		Optional[time.Time]{}, Optional[string]{}, Optional[time.Time]{}, Optional[string]{}, Optional[string]{}, Optional[string]{},
		Optional[[]ReminderSpec]{}
	_, _, err := l.Apply(base, q, time.Time{})
	return err
}

// Apply returns t with p applied, the names of the fields whose value really
// changed (in JSON naming, sorted), and a *ValidationError if the result is
// invalid. Null clears description and tags; title and priority cannot be
// null. When nothing changed the task is returned untouched (same version).
func (t Task) Apply(p Patch, now time.Time) (Task, []string, error) {
	return DefaultLimits().Apply(t, p, now)
}

// Apply is Task.Apply with limits l.
func (l Limits) Apply(t Task, p Patch, now time.Time) (Task, []string, error) {
	v := Validator{limits: l, reminderField: "reminder_offset"}
	next := t.Clone()
	var changed []string
	mark := func(field string, differs bool) {
		if differs {
			changed = append(changed, field)
		}
	}
	if p.Title.Set {
		if p.Title.Null {
			v.Add("title", "must not be null")
		} else {
			next.Title = v.Title("title", p.Title.Value)
			mark("title", next.Title != t.Title)
		}
	}
	if p.Description.Set {
		next.Description = v.Description("description", p.Description.Value) // null clears
		mark("description", next.Description != t.Description)
	}
	if p.Priority.Set {
		if p.Priority.Null {
			v.Add("priority", "must not be null; use \"none\"")
		} else {
			next.Priority = v.Priority("priority", string(p.Priority.Value))
			mark("priority", next.Priority != t.Priority)
		}
	}
	if p.Tags.Set {
		next.Tags = v.Tags("tags", p.Tags.Value) // null clears
		mark("tags", !slices.Equal(next.Tags, t.Tags))
	}
	if p.DueDate.Set {
		next.DueDate = utcPtr(p.DueDate.Ptr())
		mark("due_date", !equalTime(next.DueDate, t.DueDate))
	}
	if p.RecurrencePattern.Set {
		next.RecurrencePattern = trimPtr(p.RecurrencePattern.Ptr())
		mark("recurrence_pattern", !equalPtr(next.RecurrencePattern, t.RecurrencePattern))
	}
	if p.RecurrenceEndDate.Set {
		next.RecurrenceEndDate = utcPtr(p.RecurrenceEndDate.Ptr())
		mark("recurrence_end_date", !equalTime(next.RecurrenceEndDate, t.RecurrenceEndDate))
	}
	switch {
	case p.ReminderOffset.Set && p.Reminders.Set:
		v.Add("reminder_offset", "use either reminder_offset or reminders, not both")
	case p.ReminderOffset.Set:
		next.ReminderOffset = trimPtr(p.ReminderOffset.Ptr())
		var probe Validator
		if next.ReminderOffset == nil || probe.validOffset(*next.ReminderOffset) {
			next.Reminders = v.reminders(next.ID, withOffset(t, next.ReminderOffset))
		}
	case p.Reminders.Set:
		v.reminderField = "reminders"
		next.Reminders = v.reminders(next.ID, p.Reminders.Value)
		next.syncReminderOffset()
	}
	mark("reminder_offset", !equalPtr(next.ReminderOffset, t.ReminderOffset))
	mark("reminders", !slices.EqualFunc(next.Reminders, t.Reminders, func(a, b Reminder) bool { return a.ID == b.ID }))
	if p.Timezone.Set {
		next.Timezone = trimPtr(p.Timezone.Ptr())
		mark("timezone", !equalPtr(next.Timezone, t.Timezone))
	}
	if p.RecurrenceMode.Set {
		next.RecurrenceMode = trimPtr(p.RecurrenceMode.Ptr())
		mark("recurrence_mode", !equalPtr(next.RecurrenceMode, t.RecurrenceMode))
	}
	if next.RecurrencePattern == nil {
		next.RecurrenceMode = nil // a task that stops recurring has no mode
	}
	v.Schedule(&next)
	if err := v.Err(); err != nil {
		return t, nil, err
	}
	if len(changed) == 0 {
		return t, nil, nil
	}
	slices.Sort(changed)
	next.UpdatedAt = stamp(now)
	next.Version = t.Version + 1
	return next, changed, nil
}

// Complete marks t completed. ok is false when it already was.
func (t Task) Complete(now time.Time) (next Task, changed []string, ok bool) {
	if t.Completed {
		return t, nil, false
	}
	next = t.Clone()
	at := stamp(now)
	next.Completed = true
	next.CompletedAt = &at
	next.UpdatedAt = at
	next.Version = t.Version + 1
	return next, []string{"completed", "completed_at"}, true
}

// Uncomplete reopens t. ok is false when it was not completed.
func (t Task) Uncomplete(now time.Time) (next Task, changed []string, ok bool) {
	if !t.Completed {
		return t, nil, false
	}
	next = t.Clone()
	next.Completed = false
	next.CompletedAt = nil
	next.UpdatedAt = stamp(now)
	next.Version = t.Version + 1
	return next, []string{"completed", "completed_at"}, true
}

// Delete returns the final snapshot of t as it is deleted: the version moves
// on so that consumers can order the deletion after every other change.
func (t Task) Delete(now time.Time) Task {
	next := t.Clone()
	next.UpdatedAt = stamp(now)
	next.Version = t.Version + 1
	return next
}

// stamp is the timestamp stored for a change at now: UTC, microseconds
// (what PostgreSQL keeps), so that a response and a later read agree.
func stamp(now time.Time) time.Time { return now.UTC().Truncate(time.Microsecond) }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond) // PostgreSQL keeps microseconds
	return &u
}

func equalTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
