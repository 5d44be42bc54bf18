-- The retention purge (postgres.Retention, run by the actors app) deletes
-- rows in a final state once they are older than RETENTION_DAYS: these
-- partial indexes let it find them without reading the rows still in use.
CREATE INDEX idx_reminders_final ON reminder_schedule (updated_at) WHERE status <> 'pending';
CREATE INDEX idx_operations_finished ON operations (updated_at) WHERE status IN ('completed', 'failed');
CREATE INDEX idx_series_updated ON recurring_series (updated_at);
