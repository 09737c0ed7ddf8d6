-- The dashboard's log queries: every filter has an index that also orders by time (SQLite
-- appends the rowid to each index entry, so `ORDER BY ts_ms DESC, id DESC` needs no sort).
CREATE INDEX requests_target_ts ON requests (target, ts_ms);
CREATE INDEX requests_error_ts ON requests (error_type, ts_ms);
-- Failures only (a small part of the log): "show me the errors" stays fast on a large log.
CREATE INDEX requests_failed_ts ON requests (ts_ms) WHERE (status >= 400 OR error_type IS NOT NULL);
