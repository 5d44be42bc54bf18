-- Notifications the SSE notifier delivered or will deliver: written before
-- fan-out (by every notifier instance, idempotently), read to replay what a
-- reconnecting browser missed, purged after a retention period.
CREATE TABLE notifications (
    event_id    uuid        PRIMARY KEY,
    user_id     text        NOT NULL,
    event_type  text        NOT NULL,
    task_id     uuid        NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    data        json        NOT NULL  -- the event body, sent as the SSE data
);

CREATE INDEX idx_notifications_user ON notifications (user_id, received_at);
CREATE INDEX idx_notifications_received ON notifications (received_at);

-- Replay also reads the audit log, which has every event even when no
-- notifier instance was running: by user and time.
CREATE INDEX idx_task_events_user ON task_events (user_id, occurred_at);
