-- The dashboard's log queries: every filter has an index that also orders by time (SQLite
-- appends the rowid to each index entry, so `ORDER BY ts_ms DESC, id DESC` needs no sort).
CREATE INDEX requests_target_ts ON requests (target, ts_ms);
CREATE INDEX requests_error_ts ON requests (error_type, ts_ms);
-- Failures only (a small part of the log): "show me the errors" stays fast on a large log.
CREATE INDEX requests_failed_ts ON requests (ts_ms) WHERE (status >= 400 OR error_type IS NOT NULL);

-- Request and response bodies, when `[database] capture_bodies` asks for them: apart from the
-- log row (the row stays small), redacted and capped by the writer, and gone with their row.
CREATE TABLE request_bodies (
    request_id  INTEGER PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
    request     TEXT,                      -- the client's JSON body, credentials redacted
    response    TEXT,                      -- the JSON answer, or the stream's events as sent
    truncated   INTEGER NOT NULL DEFAULT 0 -- 1 when either was cut at the size cap
);
