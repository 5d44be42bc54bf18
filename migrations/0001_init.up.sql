-- TaskFlow schema: tasks (with the Phase V scheduling columns), the audit
-- log, reminder bookkeeping, the transactional outbox and idempotency keys.

-- Trigram indexes make title/description substring search fast
-- (pg_trgm is a trusted extension: a database owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE tasks (
    id                       uuid        PRIMARY KEY,
    user_id                  text        NOT NULL,
    title                    text        NOT NULL,
    description              text        NOT NULL DEFAULT '',
    completed                boolean     NOT NULL DEFAULT false,
    completed_at             timestamptz,
    priority                 text        NOT NULL DEFAULT 'none',
    priority_rank            smallint    GENERATED ALWAYS AS (
                                 CASE priority WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 ELSE 0 END
                             ) STORED,
    tags                     text[]      NOT NULL DEFAULT '{}',
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    version                  bigint      NOT NULL DEFAULT 1,
    -- Phase V columns, all nullable.
    due_date                 timestamptz,
    recurrence_pattern       text,
    recurrence_end_date      timestamptz,
    parent_recurring_task_id uuid,
    occurrence_date          timestamptz,
    reminder_offset          text,
    reminder_status          text,

    CONSTRAINT chk_title_length CHECK (char_length(title) BETWEEN 1 AND 255),
    CONSTRAINT chk_description_length CHECK (char_length(description) <= 10000),
    CONSTRAINT chk_priority CHECK (priority IN ('none', 'low', 'medium', 'high')),
    CONSTRAINT chk_version CHECK (version >= 1),
    CONSTRAINT chk_completed_at CHECK (completed = (completed_at IS NOT NULL)),
    CONSTRAINT chk_reminder_status CHECK (reminder_status IN ('pending', 'sent', 'cancelled')),
    CONSTRAINT chk_recurrence_requires_due_date CHECK (recurrence_pattern IS NULL OR due_date IS NOT NULL),
    CONSTRAINT chk_reminder_requires_due_date CHECK (reminder_offset IS NULL OR due_date IS NOT NULL),
    -- One instance per series and occurrence: the backstop against a
    -- recurrence reminder that is delivered twice.
    CONSTRAINT uniq_recurring_instance UNIQUE (parent_recurring_task_id, occurrence_date)
);

-- Keyset pagination per sort order (each also serves the descending order).
CREATE INDEX idx_tasks_user_created  ON tasks (user_id, created_at, id);
CREATE INDEX idx_tasks_due_date      ON tasks (user_id, due_date, id);
CREATE INDEX idx_tasks_user_priority ON tasks (user_id, priority_rank, id);
CREATE INDEX idx_tasks_user_title    ON tasks (user_id, lower(title), id);
-- Filters.
CREATE INDEX idx_tasks_tags          ON tasks USING gin (tags);
CREATE INDEX idx_tasks_search        ON tasks USING gin ((title || ' ' || description) gin_trgm_ops);
-- Phase V lookups.
CREATE INDEX idx_tasks_recurrence       ON tasks (id) WHERE recurrence_pattern IS NOT NULL;
CREATE INDEX idx_tasks_parent_recurring ON tasks (parent_recurring_task_id, occurrence_date)
    WHERE parent_recurring_task_id IS NOT NULL AND NOT completed;
CREATE INDEX idx_tasks_reminder_status  ON tasks (reminder_status) WHERE reminder_status IS NOT NULL;

-- Immutable audit log, one row per task event, partitioned by month of
-- occurred_at. The primary key includes the partition key, as PostgreSQL
-- requires; a redelivered event has the same event_id and occurred_at.
CREATE TABLE task_events (
    event_id       uuid        NOT NULL,
    event_type     text        NOT NULL,
    task_id        uuid        NOT NULL,
    user_id        text        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    version        bigint      NOT NULL,
    payload        jsonb       NOT NULL,
    correlation_id text,
    partition_key  text        NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, occurred_at)
) PARTITION BY RANGE (occurred_at);

CREATE INDEX idx_task_events_task_id ON task_events (task_id, occurred_at, version);

-- Events of a month without its own partition land here, never lost.
CREATE TABLE task_events_default PARTITION OF task_events DEFAULT;

-- taskflow_ensure_event_partitions creates the monthly partitions
-- task_events_YYYY_MM from the month of start for the given number of
-- months, skipping those that exist, and returns how many it created.
CREATE FUNCTION taskflow_ensure_event_partitions(start timestamptz, months integer)
RETURNS integer LANGUAGE plpgsql AS $$
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

SELECT taskflow_ensure_event_partitions(now(), 3);

-- Reminder bookkeeping: mirrors the task actors' Dapr reminders.
CREATE TABLE reminder_schedule (
    reminder_id   uuid        PRIMARY KEY,
    task_id       uuid        NOT NULL,
    user_id       text        NOT NULL,
    trigger_at    timestamptz NOT NULL,
    reminder_type text        NOT NULL,
    status        text        NOT NULL DEFAULT 'pending',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT chk_reminder_schedule_status CHECK (status IN ('pending', 'sent', 'cancelled'))
);

CREATE INDEX idx_reminders_trigger ON reminder_schedule (trigger_at) WHERE status = 'pending';
CREATE INDEX idx_reminders_task    ON reminder_schedule (task_id);

-- Transactional outbox: a task change and its event commit together; the
-- relay publishes unsent rows in id order and marks them sent.
CREATE TABLE outbox (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   uuid        NOT NULL,
    task_id    uuid        NOT NULL,
    topic      text        NOT NULL,
    payload    json        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);

CREATE INDEX idx_outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
CREATE INDEX idx_outbox_sent   ON outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Idempotency-Key of POST /api/v1/tasks: a retried create replays the
-- original response. Written in the task's creating transaction.
CREATE TABLE idempotency_keys (
    user_id      text        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    task_id      uuid        NOT NULL,
    response     jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

CREATE INDEX idx_idempotency_created ON idempotency_keys (created_at);
