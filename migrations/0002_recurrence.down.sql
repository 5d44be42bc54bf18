DROP TABLE IF EXISTS operation_items;
DROP TABLE IF EXISTS operations;
DROP TABLE IF EXISTS recurring_series;
ALTER TABLE tasks
    DROP CONSTRAINT IF EXISTS chk_series_fields,
    DROP CONSTRAINT IF EXISTS chk_recurrence_mode,
    DROP COLUMN IF EXISTS recurrence_mode,
    DROP COLUMN IF EXISTS timezone;
