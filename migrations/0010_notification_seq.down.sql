DROP INDEX IF EXISTS idx_task_events_user_received;
CREATE INDEX IF NOT EXISTS idx_task_events_user ON task_events (user_id, occurred_at);
DROP INDEX IF EXISTS idx_notifications_user_seq;
ALTER TABLE notifications DROP COLUMN IF EXISTS seq;
