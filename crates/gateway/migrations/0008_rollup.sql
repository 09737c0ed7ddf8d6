-- Per-minute and per-hour rollups of the request log, kept by the log writer in the same
-- transaction as the rows, so `GET /admin/stats` reads a few rows per period instead of every
-- request. Keys use '' for a row without alias/target/client (NULLs would never conflict).
-- Latency and TTFT are sparse log-scale histograms (store/rollup.rs) for p50/p95.
CREATE TABLE request_minutes (
    start_ms      INTEGER NOT NULL,
    alias         TEXT    NOT NULL,
    target        TEXT    NOT NULL,
    client        TEXT    NOT NULL,
    count         INTEGER NOT NULL,
    errors        INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd      REAL    NOT NULL,
    latency_hist  BLOB    NOT NULL,
    ttft_hist     BLOB    NOT NULL,
    PRIMARY KEY (start_ms, alias, target, client)
) WITHOUT ROWID;

CREATE TABLE request_hours (
    start_ms      INTEGER NOT NULL,
    alias         TEXT    NOT NULL,
    target        TEXT    NOT NULL,
    client        TEXT    NOT NULL,
    count         INTEGER NOT NULL,
    errors        INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd      REAL    NOT NULL,
    latency_hist  BLOB    NOT NULL,
    ttft_hist     BLOB    NOT NULL,
    PRIMARY KEY (start_ms, alias, target, client)
) WITHOUT ROWID;

-- Rows logged before this migration are rolled up in the background (ids up to `upto_id`),
-- in chunks, by the pruning task.
CREATE TABLE rollup_backfill (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    done_id INTEGER NOT NULL,
    upto_id INTEGER NOT NULL
);
INSERT INTO rollup_backfill (id, done_id, upto_id) SELECT 1, 0, COALESCE(MAX(id), 0) FROM requests;
