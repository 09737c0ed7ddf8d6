-- The spend ledger: one row per request that cost money, appended and never changed. Budgets are
-- computed from it at start (and kept in memory after), so a crash loses no committed spend.
CREATE TABLE spend (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms           INTEGER NOT NULL,          -- unix time in milliseconds, when the request finished
    correlation_id  TEXT    NOT NULL,
    provider        TEXT    NOT NULL,
    target          TEXT    NOT NULL,          -- provider/model that served
    alias           TEXT    NOT NULL,          -- alias that served (a fallback or reroute included)
    requested_alias TEXT    NOT NULL,          -- alias the client asked for
    client          TEXT,                      -- client token name
    tenant          TEXT,
    input_tokens    INTEGER NOT NULL,
    output_tokens   INTEGER NOT NULL,
    nano_usd        INTEGER NOT NULL           -- cost in billionths of a dollar, so sums are exact
);
CREATE INDEX spend_ts ON spend (ts_ms);
CREATE TRIGGER spend_is_append_only_update BEFORE UPDATE ON spend
BEGIN SELECT RAISE(ABORT, 'the spend ledger is append-only'); END;
CREATE TRIGGER spend_is_append_only_delete BEFORE DELETE ON spend
BEGIN SELECT RAISE(ABORT, 'the spend ledger is append-only'); END;

-- What each request cost (NULL: unpriced cloud model or no usage reported).
ALTER TABLE requests ADD COLUMN cost_usd REAL;
