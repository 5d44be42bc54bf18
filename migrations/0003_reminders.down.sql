DROP INDEX IF EXISTS idx_reminders_task_status;
ALTER TABLE reminder_schedule
    DROP CONSTRAINT IF EXISTS chk_reminder_type,
    DROP COLUMN IF EXISTS fired_at,
    DROP COLUMN IF EXISTS scheduled_for,
    DROP COLUMN IF EXISTS offset_spec;
ALTER TABLE tasks DROP COLUMN IF EXISTS reminders;
