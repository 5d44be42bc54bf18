DROP TABLE IF EXISTS idempotency_keys;
DROP TABLE IF EXISTS outbox;
DROP TABLE IF EXISTS reminder_schedule;
DROP TABLE IF EXISTS task_events;
DROP FUNCTION IF EXISTS taskflow_ensure_event_partitions(timestamptz, integer);
DROP TABLE IF EXISTS tasks;
-- pg_trgm stays: other schemas in the database may use it.
