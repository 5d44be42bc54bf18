package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/task"
)

// reminderPrefix names the actor reminder of one alarm (a reminder, or
// the overdue notice): "reminder:<alarm id>".
const reminderPrefix = "reminder:"

func pastPolicy(firePast bool) task.Past {
	if firePast {
		return task.PastFire
	}
	return task.PastRefuse
}

func equalStr(a, b *string) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

// arm registers the actor reminders of alarms. It runs before the rows are
// committed: a committed pending row always has its reminder, and a reminder
// left behind by a failed commit finds no pending row when it fires and
// removes itself.
func (a *TaskActor) arm(ctx context.Context, alarms []task.Alarm) error {
	now := a.deps.Now()
	for _, al := range alarms {
		data, _ := json.Marshal(map[string]time.Time{"trigger_at": al.TriggerAt})
		due := al.TriggerAt
		if due.Before(now) {
			due = now // a reminder fired late fires at once
		}
		if err := a.registerData(ctx, al.TaskID, reminderPrefix+al.ID.String(), due, data); err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return nil
}

// disarm removes the actor reminders of alarms after their rows left
// pending. A failure is only logged: the reminder fires, finds its row not
// pending and removes itself then.
func (a *TaskActor) disarm(ctx context.Context, alarms []task.Alarm) {
	for _, al := range alarms {
		if err := a.unregister(ctx, al.TaskID, reminderPrefix+al.ID.String()); err != nil {
			a.deps.Logger.WarnContext(ctx, "removing a reminder failed; it will remove itself when it fires",
				"task_id", al.TaskID, "reminder_id", al.ID, "error", err)
		}
	}
}

// fireAlarm handles the actor reminder of an alarm: it records the firing
// and publishes task.reminder.triggered (or task.overdue) once, however
// often the reminder is delivered: the row must still be pending at the
// trigger time that fires. On success the actor reminder is removed; on
// failure it stays and its period fires it again.
func (a *TaskActor) fireAlarm(ctx context.Context, id uuid.UUID, alarmID uuid.UUID, now time.Time) error {
	cur, err := a.load(ctx)
	if err != nil {
		return err
	}
	name := reminderPrefix + alarmID.String()
	var al *task.Alarm
	for i := range a.alarms {
		if a.alarms[i].ID == alarmID {
			al = &a.alarms[i]
		}
	}
	switch {
	case cur == nil || al == nil || al.Status != task.AlarmPending:
		return a.unregister(ctx, id, name) // fired already, cancelled, or gone
	case al.TriggerAt.After(now.Add(time.Second)):
		// An older registration fired (the alarm was rescheduled): re-arm it.
		return a.arm(ctx, []task.Alarm{*al})
	}
	fired := *al
	fired.Status, fired.FiredAt = task.AlarmSent, &now
	merged := task.MergeAlarms(a.alarms, []task.Alarm{fired})
	snapshot := cur.Clone()
	f := task.Fired{Alarm: *al, FiredAt: now, PrevVersion: cur.Version}
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
		a.loaded = false // another activation fired it: reload before trusting the cache
		return a.unregister(ctx, id, name)
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
	return a.unregister(ctx, id, name)
}

// alarmFromReminder returns the alarm id of a reminder name, if it is one.
func alarmFromReminder(name string) (uuid.UUID, bool) {
	s, ok := strings.CutPrefix(name, reminderPrefix)
	if !ok {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(s)
	return id, err == nil
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
		if err := a.arm(ctx, []task.Alarm{row}); err != nil {
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
		a.alarms = merged
		return &Reply{Task: &next, Alarm: &row}, nil
	})
}
