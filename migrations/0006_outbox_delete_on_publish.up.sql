-- The outbox relay deletes rows once published instead of marking them
-- sent: the table holds only events waiting for the broker, and the index
-- of sent rows has nothing left to find.
DELETE FROM outbox WHERE sent_at IS NOT NULL;
DROP INDEX IF EXISTS idx_outbox_sent;
DROP INDEX IF EXISTS idx_outbox_unsent;
COMMENT ON COLUMN outbox.sent_at IS 'unused since 0006: published rows are deleted';
