DROP INDEX IF EXISTS idx_task_events_user;
DROP TABLE IF EXISTS notifications;
