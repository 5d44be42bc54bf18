DROP INDEX IF EXISTS idx_series_updated;
DROP INDEX IF EXISTS idx_operations_finished;
DROP INDEX IF EXISTS idx_reminders_final;
