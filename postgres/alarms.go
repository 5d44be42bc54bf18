package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/taskflow/taskflow/task"
)

const alarmColumns = `reminder_id, task_id, user_id, reminder_type, offset_spec, scheduled_for, trigger_at, status, fired_at`

// alarmsInsert returns a CTE (", alarms AS (...)") upserting alarms if
// the write CTE src wrote its row, appending its parameters to args; ""
// when there are no alarms. A refused write leaves no rows behind.
func alarmsInsert(args *[]any, alarms []task.Alarm, src string) string {
	if len(alarms) == 0 {
		return ""
	}
	var (
		ids, taskIDs       = make([]pgtype.UUID, len(alarms)), make([]pgtype.UUID, len(alarms))
		users, types, stat = make([]string, len(alarms)), make([]string, len(alarms)), make([]string, len(alarms))
		offsets            = make([]*string, len(alarms))
		scheduled, trigger = make([]time.Time, len(alarms)), make([]time.Time, len(alarms))
		fired              = make([]*time.Time, len(alarms))
	)
	for i, a := range alarms {
		ids[i], taskIDs[i], users[i], types[i], stat[i] = pgUUID(a.ID), pgUUID(a.TaskID), a.UserID, a.Type, a.Status
		offsets[i], scheduled[i], trigger[i], fired[i] = a.Offset, a.ScheduledFor, a.TriggerAt, a.FiredAt
	}
	n := len(*args)
	*args = append(*args, ids, taskIDs, users, types, offsets, scheduled, trigger, stat, fired)
	return fmt.Sprintf(`, alarms AS (
		INSERT INTO reminder_schedule (`+alarmColumns+`, created_at, updated_at)
		SELECT a.*, now(), now()
		FROM unnest($%d::uuid[], $%d::uuid[], $%d::text[], $%d::text[], $%d::text[], $%d::timestamptz[], $%d::timestamptz[], $%d::text[], $%d::timestamptz[])
			AS a(reminder_id, task_id, user_id, reminder_type, offset_spec, scheduled_for, trigger_at, status, fired_at)
		WHERE EXISTS (SELECT 1 FROM %s)
		ON CONFLICT (reminder_id) DO UPDATE SET offset_spec = EXCLUDED.offset_spec, scheduled_for = EXCLUDED.scheduled_for,
			trigger_at = EXCLUDED.trigger_at, status = EXCLUDED.status, fired_at = EXCLUDED.fired_at, updated_at = now())`,
		n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, src)
}

// saveAlarms upserts reminder_schedule rows.
func saveAlarms(ctx context.Context, tx pgx.Tx, alarms []task.Alarm) error {
	batch := &pgx.Batch{}
	for _, a := range alarms {
		batch.Queue(`INSERT INTO reminder_schedule (`+alarmColumns+`, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), now())
			ON CONFLICT (reminder_id) DO UPDATE SET offset_spec = $5, scheduled_for = $6, trigger_at = $7,
				status = $8, fired_at = $9, updated_at = now()`,
			pgUUID(a.ID), pgUUID(a.TaskID), a.UserID, a.Type, a.Offset, a.ScheduledFor, a.TriggerAt, a.Status, a.FiredAt)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("save reminders: %w", err)
	}
	return nil
}

func scanAlarms(rows pgx.Rows) ([]task.Alarm, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (task.Alarm, error) {
		var a task.Alarm
		var id, taskID pgtype.UUID
		var scheduled *time.Time
		err := r.Scan(&id, &taskID, &a.UserID, &a.Type, &a.Offset, &scheduled, &a.TriggerAt, &a.Status, &a.FiredAt)
		a.ID, a.TaskID = id.Bytes, taskID.Bytes
		a.TriggerAt = a.TriggerAt.UTC()
		a.ScheduledFor = a.TriggerAt
		if scheduled != nil {
			a.ScheduledFor = scheduled.UTC()
		}
		a.FiredAt = utc(a.FiredAt)
		return a, err
	})
}

// SaveAlarms stores reminder_schedule rows on their own (a snooze that
// leaves the task unchanged).
func (s *Tasks) SaveAlarms(ctx context.Context, alarms []task.Alarm) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return saveAlarms(ctx, tx, alarms) })
}

// Alarms returns the reminder_schedule rows of a task, by trigger time.
func (s *Tasks) Alarms(ctx context.Context, taskID uuid.UUID) ([]task.Alarm, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+alarmColumns+` FROM reminder_schedule WHERE task_id = $1 ORDER BY trigger_at, reminder_id`,
		pgUUID(taskID))
	if err != nil {
		return nil, fmt.Errorf("reminders of %s: %w", taskID, err)
	}
	out, err := scanAlarms(rows)
	if err != nil {
		return nil, fmt.Errorf("reminders of %s: %w", taskID, err)
	}
	return out, nil
}

// AlarmsForUser returns userID's reminders of a task (none for another
// user's task).
func (s *Tasks) AlarmsForUser(ctx context.Context, userID string, taskID uuid.UUID) ([]task.Alarm, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+alarmColumns+` FROM reminder_schedule WHERE task_id = $1 AND user_id = $2
		ORDER BY trigger_at, reminder_id`, pgUUID(taskID), userID)
	if err != nil {
		return nil, fmt.Errorf("reminders of %s: %w", taskID, err)
	}
	out, err := scanAlarms(rows)
	if err != nil {
		return nil, fmt.Errorf("reminders of %s: %w", taskID, err)
	}
	return out, nil
}

// Fire records that an alarm fired and enqueues its event, in one
// transaction, only if the alarm is still pending at the trigger time that
// fired: a second delivery of the same firing returns ErrNotPending and
// publishes nothing.
func (s *Tasks) Fire(ctx context.Context, f task.Fired) error {
	payload, err := f.Event.MarshalCloudEvent()
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE reminder_schedule SET status = 'sent', fired_at = $3, updated_at = now()
			WHERE reminder_id = $1 AND status = 'pending' AND trigger_at = $2`, pgUUID(f.Alarm.ID), f.Alarm.TriggerAt, f.FiredAt)
		if err != nil {
			return fmt.Errorf("fire reminder %s: %w", f.Alarm.ID, err)
		}
		if tag.RowsAffected() != 1 {
			return task.ErrNotPending
		}
		if f.Next != nil {
			tag, err = tx.Exec(ctx, `UPDATE tasks SET reminder_status = $3, version = $4, updated_at = $5
				WHERE id = $1 AND version = $2`, pgUUID(f.Next.ID), f.PrevVersion, f.Next.ReminderStatus, f.Next.Version, f.Next.UpdatedAt)
			if err != nil {
				return fmt.Errorf("fire reminder %s: %w", f.Alarm.ID, err)
			}
			if tag.RowsAffected() != 1 {
				return task.ErrConflict
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO outbox (event_id, task_id, topic, payload, traceparent) VALUES ($1, $2, $3, $4, $5)`,
			pgUUID(f.Event.EventID), pgUUID(f.Event.TaskID), task.Topic, payload, traceparent(ctx))
		if err != nil {
			return fmt.Errorf("fire reminder %s: %w", f.Alarm.ID, err)
		}
		return nil
	})
}
