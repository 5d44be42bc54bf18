DO $$
DECLARE p regclass;
BEGIN
    FOR p IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'task_events'::regclass LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS task_events_no_truncate ON %s', p);
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'taskflow_audit_writer') THEN
        REVOKE ALL ON task_events FROM taskflow_audit_writer;
        REVOKE ALL ON FUNCTION taskflow_ensure_event_partitions(timestamptz, integer) FROM taskflow_audit_writer;
    END IF;
END
$$;
DROP TRIGGER IF EXISTS task_events_no_truncate ON task_events;
DROP TRIGGER IF EXISTS task_events_append_only ON task_events;
DROP FUNCTION IF EXISTS taskflow_task_events_append_only();
DROP INDEX IF EXISTS idx_task_events_chain;
ALTER TABLE task_events DROP COLUMN IF EXISTS hash, DROP COLUMN IF EXISTS chain_seq;
