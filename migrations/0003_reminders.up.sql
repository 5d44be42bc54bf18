-- Reminders: a task's reminders (relative offsets before its due date, or
-- absolute times) are listed on the task; each one, and the task's overdue
-- notice, has a reminder_schedule row mirroring the Dapr actor reminder
-- that fires it.

ALTER TABLE tasks ADD COLUMN reminders jsonb NOT NULL DEFAULT '[]';

ALTER TABLE reminder_schedule
    ADD COLUMN offset_spec   text,         -- the offset as written ("1 hour"), for offset reminders
    ADD COLUMN scheduled_for timestamptz,  -- when it was meant to fire before any snooze
    ADD COLUMN fired_at      timestamptz,  -- when it actually fired
    ADD CONSTRAINT chk_reminder_type CHECK (reminder_type IN ('offset', 'absolute', 'overdue'));

CREATE INDEX idx_reminders_task_status ON reminder_schedule (task_id, status);
