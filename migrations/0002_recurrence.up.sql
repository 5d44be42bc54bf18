-- Recurring series: a task with a recurrence_pattern is a series; its
-- instances are tasks with parent_recurring_task_id and occurrence_date.

ALTER TABLE tasks
    ADD COLUMN timezone        text,
    ADD COLUMN recurrence_mode text,
    ADD CONSTRAINT chk_recurrence_mode CHECK (recurrence_mode IN ('schedule', 'from_completion')),
    ADD CONSTRAINT chk_series_fields CHECK (
        (recurrence_pattern IS NULL AND recurrence_mode IS NULL) OR
        (recurrence_pattern IS NOT NULL AND recurrence_mode IS NOT NULL AND timezone IS NOT NULL));

-- Progress of each series, written only by the series task's actor.
CREATE TABLE recurring_series (
    task_id             uuid        PRIMARY KEY,
    user_id             text        NOT NULL,
    last_occurrence     timestamptz,          -- newest occurrence handled (instance created or skipped)
    last_instance_id    uuid,                 -- the instance of last_occurrence
    next_occurrence     timestamptz,          -- when the series' reminder is due; NULL when nothing is scheduled
    instances_created   integer     NOT NULL DEFAULT 0,
    occurrences_skipped integer     NOT NULL DEFAULT 0,
    ended_at            timestamptz,          -- the rule has no more occurrences, or the series was stopped
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Operations that span many tasks (series-wide changes), run as Dapr
-- workflows whose instance id is the operation id.
CREATE TABLE operations (
    id         uuid        PRIMARY KEY,
    user_id    text        NOT NULL,
    kind       text        NOT NULL,
    task_id    uuid        NOT NULL,
    status     text        NOT NULL DEFAULT 'pending',
    request    jsonb       NOT NULL,
    total      integer,
    result     jsonb,
    error      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT chk_operation_kind CHECK (kind IN ('series.update', 'series.delete')),
    CONSTRAINT chk_operation_status CHECK (status IN ('pending', 'running', 'completed', 'failed'))
);

CREATE INDEX idx_operations_user ON operations (user_id, created_at);

-- One row per task an operation has dealt with: progress, and the guard
-- that makes a retried activity count once.
CREATE TABLE operation_items (
    operation_id uuid        NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
    task_id      uuid        NOT NULL,
    outcome      text        NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operation_id, task_id),
    CONSTRAINT chk_operation_outcome CHECK (outcome IN ('updated', 'unchanged', 'deleted', 'kept', 'gone'))
);
