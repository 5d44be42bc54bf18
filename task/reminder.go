package task

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// MaxReminders is how many reminders one task may have.
const MaxReminders = 10

// ReminderSpec is a reminder as a client writes it: an Offset before the
// due date ("1 hour", "90m", "PT30M") or an absolute time At.
type ReminderSpec struct {
	Offset *string    `json:"offset,omitempty"`
	At     *time.Time `json:"at,omitempty"`
}

// Reminder is one of a task's reminders. Its ID derives from the task and
// the reminder's meaning (the offset as a duration, or the time), so that
// "60m" and "1 hour" are the same reminder and an unchanged reminder keeps
// its id across edits.
type Reminder struct {
	ID     uuid.UUID  `json:"id"`
	Offset *string    `json:"offset,omitempty"`
	At     *time.Time `json:"at,omitempty"`
}

var reminderNamespace = uuid.MustParse("5c7e1d0a-6b2f-5e8e-9d41-3a0f8b2c7e55")

// ReminderID is the id of the reminder of task described by spec. spec must be valid.
func ReminderID(taskID uuid.UUID, spec ReminderSpec) uuid.UUID {
	var key string
	if spec.Offset != nil {
		d, _ := ParseOffset(*spec.Offset)
		key = "offset:" + strconv.FormatInt(int64(d/time.Second), 10)
	} else if spec.At != nil {
		key = "at:" + spec.At.UTC().Format(time.RFC3339Nano)
	}
	return uuid.NewSHA1(reminderNamespace, append(taskID[:], key...))
}

// OverdueID is the id of a task's overdue notice in reminder_schedule.
func OverdueID(taskID uuid.UUID) uuid.UUID {
	return uuid.NewSHA1(reminderNamespace, append(taskID[:], "overdue"...))
}

// reminders builds a task's reminder list from specs, validating each
// (field names like reminders[1].offset) and dropping exact duplicates.
func (v *Validator) reminders(taskID uuid.UUID, specs []ReminderSpec) []Reminder {
	out := make([]Reminder, 0, len(specs))
	for i, s := range specs {
		f := fmt.Sprintf("reminders[%d]", i)
		switch {
		case (s.Offset == nil) == (s.At == nil):
			v.Add(f, `needs exactly one of "offset" (before the due date) or "at" (an absolute time)`)
			continue
		case s.Offset != nil:
			o := trimPtr(s.Offset)
			if _, err := ParseOffset(*o); err != nil {
				v.Add(f+".offset", "%s", err.Error())
				continue
			}
			s.Offset = o
		default:
			s.At = utcPtr(s.At)
		}
		r := Reminder{ID: ReminderID(taskID, s), Offset: s.Offset, At: s.At}
		if !slices.ContainsFunc(out, func(o Reminder) bool { return o.ID == r.ID }) {
			out = append(out, r)
		}
	}
	if len(out) > MaxReminders {
		v.Add("reminders", "at most %d reminders per task (got %d)", MaxReminders, len(out))
	}
	return out
}

// syncReminderOffset keeps the seed's one-reminder field reminder_offset
// equal to the task's first offset reminder.
func (t *Task) syncReminderOffset() {
	t.ReminderOffset = nil
	for _, r := range t.Reminders {
		if r.Offset != nil {
			o := *r.Offset
			t.ReminderOffset = &o
			return
		}
	}
}

// withOffset replaces t's offset reminders by one with offset (none when
// offset is nil); absolute reminders stay.
func withOffset(t Task, offset *string) []ReminderSpec {
	var specs []ReminderSpec
	if offset != nil {
		specs = append(specs, ReminderSpec{Offset: offset})
	}
	for _, r := range t.Reminders {
		if r.At != nil {
			specs = append(specs, ReminderSpec{At: r.At})
		}
	}
	return specs
}

func specsOf(rs []Reminder) []ReminderSpec {
	out := make([]ReminderSpec, len(rs))
	for i, r := range rs {
		out[i] = ReminderSpec{Offset: r.Offset, At: r.At}
	}
	return out
}

// Alarm kinds: a reminder relative to the due date, an absolute reminder,
// the overdue notice at the due date.
const (
	AlarmOffset   = "offset"
	AlarmAbsolute = "absolute"
	AlarmOverdue  = "overdue"
)

// Alarm statuses (reminder_schedule.status).
const (
	AlarmPending   = "pending"
	AlarmSent      = "sent"
	AlarmCancelled = "cancelled"
)

// Alarm is one scheduled firing of a task, as a reminder_schedule row:
// each pending alarm has a Dapr actor reminder that fires it at TriggerAt.
type Alarm struct {
	ID           uuid.UUID  `json:"reminder_id"`
	TaskID       uuid.UUID  `json:"task_id"`
	UserID       string     `json:"-"`
	Type         string     `json:"type"`
	Offset       *string    `json:"offset,omitempty"`
	ScheduledFor time.Time  `json:"scheduled_for"` // when it fires by the task's due date and reminders
	TriggerAt    time.Time  `json:"trigger_at"`    // when it fires (later than ScheduledFor when snoozed)
	Status       string     `json:"status"`
	FiredAt      *time.Time `json:"fired_at"`
}

// wanted returns the alarms t should have, by its due date and reminders:
// none when it is completed or deleted.
func (t Task) wanted() []Alarm {
	if t.Completed {
		return nil
	}
	var out []Alarm
	for _, r := range t.Reminders {
		a := Alarm{ID: r.ID, TaskID: t.ID, UserID: t.UserID}
		switch {
		case r.Offset != nil:
			if t.DueDate == nil {
				continue
			}
			d, _ := ParseOffset(*r.Offset)
			a.Type, a.Offset, a.ScheduledFor = AlarmOffset, clonePtr(r.Offset), t.DueDate.Add(-d)
		case r.At != nil:
			a.Type, a.ScheduledFor = AlarmAbsolute, *r.At
		}
		out = append(out, a)
	}
	if t.DueDate != nil {
		out = append(out, Alarm{ID: OverdueID(t.ID), TaskID: t.ID, UserID: t.UserID, Type: AlarmOverdue, ScheduledFor: *t.DueDate})
	}
	return out
}

// ErrPastReminder is matched by the *ValidationError PlanAlarms returns for
// a reminder whose time has passed.
var ErrPastReminder = errors.New("reminder time is in the past")

// AlarmPlan is how a task's alarms change with a write: Rows are every
// row to store (new or changed), Arm the alarms whose actor reminder must
// be (re-)registered, Disarm those whose actor reminder must go.
type AlarmPlan struct {
	Rows   []Alarm
	Arm    []Alarm
	Disarm []Alarm
}

// Empty reports whether the plan changes nothing.
func (p AlarmPlan) Empty() bool { return len(p.Rows) == 0 }

// Past says what PlanAlarms does with a reminder whose time has passed.
type Past int

// The policies for past reminders.
const (
	PastRefuse Past = iota // a client set it: refuse, naming the reminder
	PastFire               // fire it now (the client asked, or the system created the task late)
	PastSkip               // leave it (re-arming a reopened task's reminders)
)

// PlanAlarms reconciles the alarms next wants with the rows that exist.
//
//   - An alarm whose scheduled time is unchanged keeps its row (a snooze, a
//     sent status).
//   - A new or rescheduled alarm is pending if its time is ahead. If its time
//     has passed, a reminder is refused (*ValidationError naming it, matching
//     ErrPastReminder), fired at once (pending at its past time) or left, as
//     past says; a reminder that
//     already fired stays sent; an overdue notice is not raised (the task was
//     already overdue when its due date was set).
//   - Alarms next no longer wants are cancelled.
func PlanAlarms(next Task, rows []Alarm, now time.Time, past Past) (AlarmPlan, error) {
	var plan AlarmPlan
	var v Validator
	byID := make(map[uuid.UUID]Alarm, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}
	now = stamp(now)
	wanted := next.wanted()
	for i, w := range wanted {
		w.ScheduledFor = stamp(w.ScheduledFor)
		old, exists := byID[w.ID]
		delete(byID, w.ID)
		if exists && old.ScheduledFor.Equal(w.ScheduledFor) && old.Status != AlarmCancelled {
			continue // unchanged: keep its status, trigger (snooze) and actor reminder
		}
		row := w
		row.TriggerAt, row.Status = w.ScheduledFor, AlarmPending
		switch {
		case w.ScheduledFor.After(now):
		case exists && old.Status == AlarmSent:
			continue
		case w.Type == AlarmOverdue || past == PastSkip:
			if !exists || old.Status == AlarmCancelled {
				continue
			}
			row.Status, row.TriggerAt = AlarmCancelled, old.TriggerAt
		case past == PastFire:
			// Keep its time: it fires at once, and its event says how late.
		default:
			v.Add(fmt.Sprintf("reminders[%d]", i), "fires at %s, which is in the past (send fire_past_reminders: true to fire it now)",
				w.ScheduledFor.Format(time.RFC3339))
			continue
		}
		if exists {
			row.FiredAt = old.FiredAt
		}
		plan.Rows = append(plan.Rows, row)
		if row.Status == AlarmPending {
			plan.Arm = append(plan.Arm, row)
		} else if exists && old.Status == AlarmPending {
			plan.Disarm = append(plan.Disarm, row)
		}
	}
	for _, old := range rows {
		if _, gone := byID[old.ID]; !gone || old.Status != AlarmPending {
			continue
		}
		old.Status = AlarmCancelled
		plan.Rows = append(plan.Rows, old)
		plan.Disarm = append(plan.Disarm, old)
	}
	if err := v.Err(); err != nil {
		return AlarmPlan{}, errors.Join(err, ErrPastReminder)
	}
	return plan, nil
}

// ReminderStatus summarises a task's reminders (not its overdue notice)
// for the reminder_status column: pending while any is pending, else sent
// if any fired, else cancelled if any was cancelled, else none (nil).
func ReminderStatus(rows []Alarm) *string {
	seen := map[string]bool{}
	for _, r := range rows {
		if r.Type != AlarmOverdue {
			seen[r.Status] = true
		}
	}
	for _, s := range []string{AlarmPending, AlarmSent, AlarmCancelled} {
		if seen[s] {
			return &s
		}
	}
	return nil
}

// NextAlarm returns the earliest trigger time of the pending rows, if any:
// when a task's alarm reminder must fire next.
func NextAlarm(rows []Alarm) (time.Time, bool) {
	var next time.Time
	found := false
	for _, r := range rows {
		if r.Status == AlarmPending && (!found || r.TriggerAt.Before(next)) {
			next, found = r.TriggerAt, true
		}
	}
	return next, found
}

// MergeAlarms returns rows updated by changed (matched by id), new ones added.
func MergeAlarms(rows, changed []Alarm) []Alarm {
	out := slices.Clone(rows)
	for _, c := range changed {
		if i := slices.IndexFunc(out, func(r Alarm) bool { return r.ID == c.ID }); i >= 0 {
			out[i] = c
		} else {
			out = append(out, c)
		}
	}
	return out
}

// ErrNotPending: an alarm is not pending at that trigger time any more (it
// fired already, was cancelled, or was rescheduled).
var ErrNotPending = errors.New("reminder is not pending at that time")

// Fired is one alarm firing, to be stored with its event.
type Fired struct {
	Alarm   Alarm // as it is now: pending, at the trigger time that fired
	FiredAt time.Time
	// Next is the task after the firing when its reminder_status changes
	// (version moved on); nil leaves the task row untouched.
	Next        *Task
	PrevVersion int64
	Event       Event
}
