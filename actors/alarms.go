package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/task"
)

// reminderAlarms is the one actor reminder that fires a task's alarms (its
// reminders and its overdue notice): it is due at the earliest pending
// alarm, fires every alarm due by then, and is re-armed for the next one.
// One registration per task rather than one per alarm: registering a Dapr
// reminder is the costliest step of a create, and a task with a due date
// and a reminder has two alarms.
//
// The invariant: every pending alarm row has a registration firing at or
// before its trigger time. A write that brings the next alarm earlier
// registers before it commits; one that moves it later or removes it
// re-registers or unregisters after the commit, and if that fails the
// registration in place fires early, finds nothing due and re-arms. The
// registration has a period (SeriesConfig.RetryPeriod): if handling a
// firing fails, it fires again.
const reminderAlarms = "alarms"

// legacyReminderPrefix names the per-alarm reminders ("reminder:<alarm
// id>") of earlier versions; they are still honoured when they fire.
const legacyReminderPrefix = "reminder:"

func pastPolicy(firePast bool) task.Past {
	if firePast {
		return task.PastFire
	}
	return task.PastRefuse
}

func equalStr(a, b *string) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

// armBefore runs before a write commits that changes the alarm rows from
// before to after: if the next alarm comes earlier (or there was none), it
// registers the alarms reminder for it. A failure fails the write.
func (a *TaskActor) armBefore(ctx context.Context, id uuid.UUID, before, after []task.Alarm) error {
	next, ok := task.NextAlarm(after)
	if !ok {
		return nil
	}
	if prev, had := task.NextAlarm(before); had && !next.Before(prev) {
		return nil // the registration in place fires in time
	}
	if err := a.armAt(ctx, id, next); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// armAfter runs after such a write committed: if the next alarm moved
// later it re-registers, if none is left it unregisters. A failure is only
// logged: the registration in place fires, finds nothing due, and re-arms
// or removes itself then.
func (a *TaskActor) armAfter(ctx context.Context, id uuid.UUID, before, after []task.Alarm) {
	prev, had := task.NextAlarm(before)
	if !had {
		return
	}
	var err error
	if next, ok := task.NextAlarm(after); !ok {
		err = a.unregister(ctx, id, reminderAlarms)
	} else if next.After(prev) {
		err = a.armAt(ctx, id, next)
	}
	if err != nil {
		a.deps.Logger.WarnContext(ctx, "re-arming the alarms reminder failed; it will fire early and re-arm itself",
			"task_id", id, "error", err)
	}
}

// armAt registers the alarms reminder due at at (at once if at has passed).
func (a *TaskActor) armAt(ctx context.Context, id uuid.UUID, at time.Time) error {
	if now := a.deps.Now(); at.Before(now) {
		at = now // an alarm whose time has passed fires at once
	}
	return a.registerData(ctx, id, reminderAlarms, at, nil)
}

// fireDue handles a firing of the alarms reminder (or of a legacy per-alarm
// reminder): it fires every pending alarm due by now, earliest first, then
// re-arms for the next pending alarm or, with none left, unregisters. Each
// firing records the alarm as sent and publishes task.reminder.triggered
// (or task.overdue) once, however often the reminder is delivered: the row
// must still be pending at the trigger time that fires. An error leaves
// the registration in place, and its period fires it again.
func (a *TaskActor) fireDue(ctx context.Context, id uuid.UUID, name string, now time.Time) error {
	cur, err := a.load(ctx)
	if err != nil {
		return err
	}
	if cur != nil {
		due := slices.DeleteFunc(slices.Clone(a.alarms), func(al task.Alarm) bool {
			return al.Status != task.AlarmPending || al.TriggerAt.After(now.Add(time.Second))
		})
		slices.SortFunc(due, func(x, y task.Alarm) int { return x.TriggerAt.Compare(y.TriggerAt) })
		for _, al := range due {
			// A firing that found its alarm already fired reloads: fire only
			// what is still pending as it was.
			i := slices.IndexFunc(a.alarms, func(x task.Alarm) bool { return x.ID == al.ID })
			if a.cur == nil || i < 0 || a.alarms[i].Status != task.AlarmPending || !a.alarms[i].TriggerAt.Equal(al.TriggerAt) {
				continue
			}
			if err := a.fire(ctx, al, now); err != nil {
				return err
			}
		}
		cur = a.cur
	}
	if name != reminderAlarms {
		// A legacy reminder: the remaining alarms move to the alarms reminder.
		if next, ok := task.NextAlarm(a.alarms); ok && cur != nil {
			if err := a.armAt(ctx, id, next); err != nil {
				return err
			}
		}
		return a.unregister(ctx, id, name)
	}
	if next, ok := task.NextAlarm(a.alarms); ok && cur != nil {
		return a.armAt(ctx, id, next)
	}
	return a.unregister(ctx, id, reminderAlarms)
}

// fire records one alarm's firing with its event. An alarm that is no
// longer pending at that trigger time (another activation fired it) is
// skipped.
func (a *TaskActor) fire(ctx context.Context, al task.Alarm, now time.Time) error {
	cur := a.cur
	fired := al
	fired.Status, fired.FiredAt = task.AlarmSent, &now
	merged := task.MergeAlarms(a.alarms, []task.Alarm{fired})
	snapshot := cur.Clone()
	f := task.Fired{Alarm: al, FiredAt: now, PrevVersion: cur.Version}
	var changed []string
	typ := task.EventReminderTriggered
	if al.Type == task.AlarmOverdue {
		typ = task.EventOverdue
	} else if st := task.ReminderStatus(merged); !equalStr(st, cur.ReminderStatus) {
		snapshot.ReminderStatus, snapshot.Version, snapshot.UpdatedAt = st, cur.Version+1, now.UTC().Truncate(time.Microsecond)
		f.Next, changed = &snapshot, []string{"reminder_status"}
	}
	f.Event = task.NewEvent(typ, snapshot, changed, "", now)
	f.Event.Reminder = &task.Firing{ReminderID: al.ID, ReminderType: al.Type, ScheduledAt: al.TriggerAt, FiredAt: now.UTC(),
		LateMS: now.Sub(al.TriggerAt).Milliseconds()}
	switch err := a.deps.Store.Fire(ctx, f); {
	case errors.Is(err, task.ErrNotPending):
		// Another activation fired it: reload before trusting the cache.
		a.loaded = false
		_, err = a.load(ctx)
		return err
	case err != nil:
		a.loaded = false
		return err
	}
	a.alarms = merged
	if f.Next != nil {
		a.cur = f.Next
	}
	a.deps.Committed()
	if a.deps.Metrics != nil {
		a.deps.Metrics.fired(al.Type, now.Sub(al.TriggerAt))
	}
	return nil
}

// isAlarmReminder reports whether a reminder name fires alarms.
func isAlarmReminder(name string) bool {
	return name == reminderAlarms || strings.HasPrefix(name, legacyReminderPrefix)
}

// Snooze re-arms one of the task's reminders for a while (For) or until a
// time. Snoozing a reminder that fired makes it pending again.
func (a *TaskActor) Snooze(ctx context.Context, req *SnoozeRequest) (*Reply, error) {
	return a.call(ctx, "snooze", func(now time.Time) (*Reply, error) {
		cur, err := a.owned(ctx, req.Request)
		if err != nil {
			return nil, err
		}
		var al *task.Alarm
		for i := range a.alarms {
			if a.alarms[i].ID == req.ReminderID && a.alarms[i].Type != task.AlarmOverdue && a.alarms[i].Status != task.AlarmCancelled {
				al = &a.alarms[i]
			}
		}
		if al == nil || cur.Completed {
			return nil, task.ErrReminderNotFound
		}
		until := now.Add(req.For)
		if req.Until != nil {
			until = *req.Until
		}
		if !until.After(now) {
			return nil, task.Invalid("until", "must be in the future")
		}
		row := *al
		row.TriggerAt, row.Status = until.UTC().Truncate(time.Microsecond), task.AlarmPending
		merged := task.MergeAlarms(a.alarms, []task.Alarm{row})
		if err := a.armBefore(ctx, cur.ID, a.alarms, merged); err != nil {
			return nil, err
		}
		next := cur.Clone()
		if st := task.ReminderStatus(merged); !equalStr(st, cur.ReminderStatus) {
			next.ReminderStatus, next.Version, next.UpdatedAt = st, cur.Version+1, now.UTC().Truncate(time.Microsecond)
			ev := task.NewEvent(task.EventUpdated, next, []string{"reminder_status"}, req.CorrelationID, now)
			if err := a.deps.Store.Update(ctx, next, cur.Version, ev, task.Extras{Alarms: []task.Alarm{row}}); err != nil {
				a.loaded = false
				return nil, err
			}
			a.cur = &next
			a.deps.Committed()
		} else if err := a.deps.Store.SaveAlarms(ctx, []task.Alarm{row}); err != nil {
			a.loaded = false
			return nil, err
		}
		before := a.alarms
		a.alarms = merged
		a.armAfter(ctx, cur.ID, before, merged)
		return &Reply{Task: &next, Alarm: &row}, nil
	})
}

// ReminderName is the Dapr actor reminder that fires what the ops view
// lists as kind: "reminder" (a task's alarms) or "series_tick".
func ReminderName(kind string) string {
	if kind == "series_tick" {
		return reminderSeries
	}
	return reminderAlarms
}
