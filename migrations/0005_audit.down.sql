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
DROP INDEX IF EXISTS idx_task_events_task_id;
CREATE INDEX idx_task_events_task_id ON task_events (task_id, occurred_at, version);

-- 0001's partition maintenance (the one above adds triggers this down removes).
CREATE OR REPLACE FUNCTION taskflow_ensure_event_partitions(start timestamptz, months integer)
RETURNS integer LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    first_month date := date_trunc('month', start AT TIME ZONE 'UTC')::date;
    m date;
    name text;
    created integer := 0;
BEGIN
    FOR i IN 0 .. months - 1 LOOP
        m := (first_month + make_interval(months => i))::date;
        name := format('task_events_%s', to_char(m, 'YYYY_MM'));
        IF to_regclass(name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF task_events FOR VALUES FROM (%L) TO (%L)',
                name, (m::timestamp AT TIME ZONE 'UTC'),
                ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END
$$;
ALTER FUNCTION taskflow_ensure_event_partitions(timestamptz, integer) RESET search_path;
GRANT EXECUTE ON FUNCTION taskflow_ensure_event_partitions(timestamptz, integer) TO PUBLIC;
