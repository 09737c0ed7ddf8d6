-- Stored Responses API answers, so a follow-up can continue one with `previous_response_id` and
-- `GET /v1/responses/{id}` can return it. Bounded: rows older than the retention, and the oldest
-- beyond a row cap, are pruned in the background.
CREATE TABLE responses (
    id         TEXT    PRIMARY KEY,            -- resp_... (ours, or the native backend's)
    created_ms INTEGER NOT NULL,
    client     TEXT,                           -- client token name that created it
    response   TEXT    NOT NULL,               -- the Response object, JSON
    context    TEXT    NOT NULL                -- input items then output items, JSON array
);
CREATE INDEX responses_created ON responses (created_ms);
