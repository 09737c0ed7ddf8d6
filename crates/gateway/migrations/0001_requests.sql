-- What happened to each request. The config is never copied here.
CREATE TABLE requests (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms           INTEGER NOT NULL,          -- unix time in milliseconds, request start
    correlation_id  TEXT    NOT NULL,
    endpoint        TEXT    NOT NULL,          -- chat/completions, completions, embeddings
    requested_model TEXT,
    alias           TEXT,
    target          TEXT,                      -- provider/model that served or last failed
    provider        TEXT,
    status          INTEGER NOT NULL,          -- HTTP status sent to the client (499: client went away)
    error_type      TEXT,                      -- failure summary code, NULL on success
    latency_ms      REAL    NOT NULL,
    ttft_ms         REAL,                      -- time to first token (streams)
    input_tokens    INTEGER,
    output_tokens   INTEGER,
    streamed        INTEGER NOT NULL,
    attempts        TEXT                       -- JSON list of targets tried and their outcome
);
CREATE INDEX requests_ts ON requests (ts_ms);
CREATE INDEX requests_correlation ON requests (correlation_id);
CREATE INDEX requests_alias_ts ON requests (alias, ts_ms);
