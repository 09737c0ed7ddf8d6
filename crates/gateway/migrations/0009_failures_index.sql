-- Almost every row is a success with no error_type: an index over failures only costs those
-- inserts nothing, and the Logs page's `error_type = ?` filter still uses it (the equality
-- implies IS NOT NULL, which SQLite knows).
DROP INDEX requests_error_ts;
CREATE INDEX requests_error_ts ON requests (error_type, ts_ms) WHERE error_type IS NOT NULL;
