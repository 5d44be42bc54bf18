CREATE INDEX idx_outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
CREATE INDEX idx_outbox_sent   ON outbox (sent_at) WHERE sent_at IS NOT NULL;
COMMENT ON COLUMN outbox.sent_at IS NULL;
