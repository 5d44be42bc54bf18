-- What the ops view (/ops, /api/v1/ops, `taskflow ops`) reads beyond the
-- task tables: the messages subscribers gave up on, and the running app
-- instances with what their sidecars report.

-- Dead letters, ingested by the auditor from the task-events-dlq topic
-- (each message once: message_id is the DLQ CloudEvent's id). An operator
-- inspects them and replays a task event to task-events through the outbox.
CREATE TABLE dead_letters (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id     text        NOT NULL UNIQUE,
    event_id       text,
    subscriber     text        NOT NULL,
    topic          text        NOT NULL,
    reason         text        NOT NULL,
    message        jsonb,                -- the message as delivered, when it was JSON
    message_base64 text,                 -- otherwise its bytes
    failed_at      timestamptz NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    replayed_at    timestamptz,
    replayed_by    text,
    CONSTRAINT chk_dead_letter_replay CHECK ((replayed_at IS NULL) = (replayed_by IS NULL))
);

CREATE INDEX idx_dead_letters_pending ON dead_letters (id) WHERE replayed_at IS NULL;

-- One row per running app process, refreshed by its heartbeat with its
-- sidecar's metadata (GET /v1.0/metadata) and removed when it stops.
CREATE TABLE app_instances (
    app_id        text        NOT NULL,
    instance_id   text        NOT NULL,
    host          text        NOT NULL,
    app_version   text        NOT NULL,
    started_at    timestamptz NOT NULL,
    heartbeat_at  timestamptz NOT NULL,
    sidecar       jsonb,                -- the metadata document, NULL when the sidecar did not answer
    sidecar_error text,
    active_actors jsonb,                -- actor type -> activations the app counts itself
    PRIMARY KEY (app_id, instance_id)
);
