-- Replay anchors on the order the notifier stored events in, not on when
-- the producer says they occurred: an event held up on its partition is
-- stored late, and must still be replayed to a browser that saw a later
-- one. seq is assigned when a notifier instance first stores the event.

-- Rows stored before this migration are numbered in the order they were
-- received (they are at most NOTIFIER_RETENTION old), then new rows take
-- the identity's next values.
ALTER TABLE notifications ADD COLUMN seq bigint;
UPDATE notifications n SET seq = o.seq
FROM (SELECT event_id, row_number() OVER (ORDER BY received_at, occurred_at, event_id) AS seq FROM notifications) o
WHERE n.event_id = o.event_id;
ALTER TABLE notifications ALTER COLUMN seq SET NOT NULL;
ALTER TABLE notifications ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('notifications', 'seq'), coalesce(max(seq), 0) + 1, false) FROM notifications;

CREATE INDEX idx_notifications_user_seq ON notifications (user_id, seq);

-- Replay also reads the audit log for events no notifier stored (none
-- was running): by when the auditor received them, for the same reason.
-- This replaces the (user_id, occurred_at) index, which only replay used.
-- Building it holds off the auditor's writes until it commits (a
-- partitioned table cannot be indexed concurrently); they are retried.
DROP INDEX idx_task_events_user;
CREATE INDEX idx_task_events_user_received ON task_events (user_id, received_at);
