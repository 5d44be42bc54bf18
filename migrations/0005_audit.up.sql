-- The immutable audit log: a per-task hash chain, append-only rules, and
-- monthly partitions kept ahead (moving rows out of the default partition
-- when a month's partition comes late).

ALTER TABLE task_events
    ADD COLUMN chain_seq bigint NOT NULL DEFAULT 0, -- position in the task's chain (1, 2, ...)
    ADD COLUMN hash      text   NOT NULL DEFAULT '';-- sha256 hex, chained to the task's previous row

CREATE INDEX idx_task_events_chain ON task_events (task_id, chain_seq);

-- A task's history pages by (occurred_at, version, event_id): the index
-- holds the whole order, so a page is an index range, never a sort.
DROP INDEX idx_task_events_task_id;
CREATE INDEX idx_task_events_task_id ON task_events (task_id, user_id, occurred_at, version, event_id);

-- Append-only: no UPDATE, DELETE or TRUNCATE, whoever asks (a superuser
-- can still disable triggers; the hash chain shows what that changed).
CREATE FUNCTION taskflow_task_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'task_events is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER task_events_append_only BEFORE UPDATE OR DELETE ON task_events
    FOR EACH ROW EXECUTE FUNCTION taskflow_task_events_append_only();
CREATE TRIGGER task_events_no_truncate BEFORE TRUNCATE ON task_events
    FOR EACH STATEMENT EXECUTE FUNCTION taskflow_task_events_append_only();

-- TRUNCATE of a partition itself does not fire the parent's trigger.
DO $$
DECLARE p regclass;
BEGIN
    FOR p IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'task_events'::regclass LOOP
        EXECUTE format('CREATE TRIGGER task_events_no_truncate BEFORE TRUNCATE ON %s
            FOR EACH STATEMENT EXECUTE FUNCTION taskflow_task_events_append_only()', p);
    END LOOP;
END
$$;

-- Monthly partitions from the month of start, for months months (1-36);
-- returns how many it created. When the default partition already holds
-- rows of a new month (its partition came late), the default partition is
-- detached and replaced, and its rows go back in through task_events, so
-- they land in their month: no row is deleted, and DETACH's lock on
-- task_events keeps every concurrent insert out until the move commits.
CREATE OR REPLACE FUNCTION taskflow_ensure_event_partitions(start timestamptz, months integer)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    first_month date := date_trunc('month', start AT TIME ZONE 'UTC')::date;
    m date;
    name text;
    lo timestamptz;
    hi timestamptz;
    created integer := 0;
    moving boolean;
BEGIN
    IF months IS NULL OR months < 1 OR months > 36 THEN
        RAISE EXCEPTION 'months must be between 1 and 36, got %', months USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 0 .. months - 1 LOOP
        m := (first_month + make_interval(months => i))::date;
        name := format('task_events_%s', to_char(m, 'YYYY_MM'));
        lo := m::timestamp AT TIME ZONE 'UTC';
        hi := (m + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        CONTINUE WHEN to_regclass(name) IS NOT NULL;
        PERFORM pg_advisory_xact_lock(7283346003);
        CONTINUE WHEN to_regclass(name) IS NOT NULL;
        moving := EXISTS (SELECT 1 FROM task_events_default WHERE occurred_at >= lo AND occurred_at < hi);
        IF moving THEN
            ALTER TABLE task_events DETACH PARTITION task_events_default;
            ALTER TABLE task_events_default RENAME TO task_events_default_moving;
            CREATE TABLE task_events_default PARTITION OF task_events DEFAULT;
            CREATE TRIGGER task_events_no_truncate BEFORE TRUNCATE ON task_events_default
                FOR EACH STATEMENT EXECUTE FUNCTION taskflow_task_events_append_only();
        END IF;
        EXECUTE format('CREATE TABLE %I PARTITION OF task_events FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
        EXECUTE format('CREATE TRIGGER task_events_no_truncate BEFORE TRUNCATE ON %I
            FOR EACH STATEMENT EXECUTE FUNCTION taskflow_task_events_append_only()', name);
        IF moving THEN
            INSERT INTO task_events SELECT * FROM task_events_default_moving;
            DROP TABLE task_events_default_moving;
        END IF;
        created := created + 1;
    END LOOP;
    RETURN created;
END
$$;
-- It runs as its owner: only the owner and the writer role may call it.
REVOKE ALL ON FUNCTION taskflow_ensure_event_partitions(timestamptz, integer) FROM PUBLIC;

-- The auditor writes through a role that can only read and append. Made
-- when the migrating user may create roles (a managed database may not
-- allow it: then grant the same to the auditor's own user).
DO $$
BEGIN
    IF (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
        -- Roles are per cluster: another database may be creating it now.
        BEGIN
            CREATE ROLE taskflow_audit_writer NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
        GRANT SELECT, INSERT ON task_events TO taskflow_audit_writer;
        GRANT EXECUTE ON FUNCTION taskflow_ensure_event_partitions(timestamptz, integer) TO taskflow_audit_writer;
        IF NOT pg_has_role(current_user, 'taskflow_audit_writer', 'MEMBER') THEN
            EXECUTE format('GRANT taskflow_audit_writer TO %I', current_user);
        END IF;
    ELSE
        RAISE NOTICE 'cannot create role taskflow_audit_writer: grant the auditor''s user SELECT and INSERT only on task_events';
    END IF;
END
$$;
