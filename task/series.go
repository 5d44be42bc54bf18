package task

import (
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/recurrence"
)

// Limits are the domain rules operators may tune. The zero value is not
// useful; start from DefaultLimits.
type Limits struct {
	// MinRecurrenceInterval refuses recurrence rules whose occurrences can
	// come closer than this (RECURRENCE_MIN_INTERVAL, default 1 minute).
	MinRecurrenceInterval time.Duration
}

// DefaultLimits returns the limits used when none are configured.
func DefaultLimits() Limits { return Limits{MinRecurrenceInterval: time.Minute} }

var errBadZone = errors.New("bad time zone")

// IsSeries reports whether t is a recurring series (not an instance of one).
func (t Task) IsSeries() bool { return t.RecurrencePattern != nil }

// Mode is the series' recurrence mode (schedule when unset).
func (t Task) Mode() recurrence.Mode {
	if t.RecurrenceMode == nil {
		return recurrence.Schedule
	}
	m, err := recurrence.ParseMode(*t.RecurrenceMode)
	if err != nil {
		return recurrence.Schedule
	}
	return m
}

// Rule parses the series' recurrence rule: it starts at due_date, in the
// series' time zone, and ends at recurrence_end_date (inclusive).
func (t Task) Rule(l Limits) (*recurrence.Rule, error) {
	if t.RecurrencePattern == nil || t.DueDate == nil {
		return nil, errors.New("not a recurring series")
	}
	zone := "UTC"
	if t.Timezone != nil {
		zone = *t.Timezone
	}
	loc, err := recurrence.LoadLocation(zone)
	if err != nil {
		return nil, errors.Join(errBadZone, err)
	}
	return recurrence.Parse(*t.RecurrencePattern, recurrence.Options{
		Start: *t.DueDate, Loc: loc, End: t.RecurrenceEndDate, MinInterval: l.MinRecurrenceInterval,
	})
}

// instanceNamespace scopes the derived ids of series instances.
var instanceNamespace = uuid.MustParse("8f0f3a6e-3c1e-5a39-9a4f-7d1e2b6c4a10")

// InstanceID is the id of the instance of series for an occurrence. It is
// derived, not random, so that a reminder delivered twice names the same
// instance and creates it once.
func InstanceID(series uuid.UUID, occurrence time.Time) uuid.UUID {
	return uuid.NewSHA1(instanceNamespace, append(series[:], occurrence.UTC().Format(time.RFC3339Nano)...))
}

// FollowUpID is the id of the instance a from_completion series creates
// when instance completes: one per completed instance, however often it is
// completed.
func FollowUpID(series, instance uuid.UUID) uuid.UUID {
	return uuid.NewSHA1(instanceNamespace, append(append(series[:], "after:"...), instance[:]...))
}

// NewInstance returns the version-1 instance of series at occurrence, with
// the given id: it inherits title, description, priority, tags, reminder
// offset and time zone, and is due at its occurrence.
func NewInstance(id uuid.UUID, series Task, occurrence, now time.Time) Task {
	occ := stamp(occurrence)
	sid := series.ID
	return Task{
		ID:                    id,
		UserID:                series.UserID,
		Title:                 series.Title,
		Description:           series.Description,
		Priority:              series.Priority,
		Tags:                  append([]string{}, series.Tags...),
		DueDate:               &occ,
		ParentRecurringTaskID: &sid,
		OccurrenceDate:        clonePtr(&occ),
		ReminderOffset:        clonePtr(series.ReminderOffset),
		Reminders:             instanceReminders(id, series.Reminders),
		Timezone:              clonePtr(series.Timezone),
		CreatedAt:             stamp(now),
		UpdatedAt:             stamp(now),
		Version:               1,
	}
}

// SeriesState is the progress of one recurring series, kept by the series
// task's actor (its only writer).
type SeriesState struct {
	TaskID             uuid.UUID
	UserID             string
	LastOccurrence     *time.Time // newest occurrence handled: instance created, or skipped
	LastInstanceID     *uuid.UUID
	NextOccurrence     *time.Time // when the series' reminder is due; nil when nothing is scheduled
	InstancesCreated   int
	OccurrencesSkipped int
	EndedAt            *time.Time
}

// Instance is one existing instance of a series.
type Instance struct {
	ID         uuid.UUID
	Occurrence time.Time
	Completed  bool
}

// OperationItem records, in the same transaction as a change, that a
// series-wide operation made it: a retried step then finds its outcome
// already recorded.
type OperationItem struct {
	OperationID uuid.UUID
	Outcome     string
}

// instanceReminders are a series' offset reminders, for one instance:
// relative to the instance's own due date, with the instance's ids.
// Absolute reminders belong to the series alone.
func instanceReminders(id uuid.UUID, rs []Reminder) []Reminder {
	out := []Reminder{}
	for _, r := range rs {
		if r.Offset != nil {
			out = append(out, Reminder{ID: ReminderID(id, ReminderSpec{Offset: r.Offset}), Offset: clonePtr(r.Offset)})
		}
	}
	return out
}

// leadMargin is how much earlier than strictly needed an instance is
// created, so that its earliest reminder never races its creation.
const leadMargin = 2 * time.Second

// Lead is how long before an occurrence its instance must exist so that
// every inherited reminder can fire: the series' largest offset, plus a
// small margin when it has reminders.
func (t Task) Lead() time.Duration {
	lead := time.Duration(-1)
	for _, r := range t.Reminders {
		if r.Offset != nil {
			if d, err := ParseOffset(*r.Offset); err == nil && d > lead {
				lead = d
			}
		}
	}
	if lead < 0 {
		return 0
	}
	return lead + leadMargin
}

// Extras are written with a task change, in the same transaction.
type Extras struct {
	Item   *OperationItem // a series-wide operation's record of this change
	Alarms []Alarm        // reminder_schedule rows to store
}
