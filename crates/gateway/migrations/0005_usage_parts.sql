-- The parts of a request's usage that providers bill differently (prompt-cache reads and writes,
-- reasoning), so cost can be explained and recomputed. `input_tokens` keeps counting every input
-- token, cached or not; these columns say how many of them were cache reads or writes.
ALTER TABLE requests ADD COLUMN cache_read_tokens INTEGER;
ALTER TABLE requests ADD COLUMN cache_write_tokens INTEGER;      -- every lifetime
ALTER TABLE requests ADD COLUMN cache_write_1h_tokens INTEGER;   -- the 1-hour part of the writes
ALTER TABLE requests ADD COLUMN reasoning_tokens INTEGER;        -- part of output_tokens

ALTER TABLE spend ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE spend ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE spend ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE spend ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;
-- What the request would have cost with every input token at the plain input rate (NULL for rows
-- written before this column existed: read as nano_usd).
ALTER TABLE spend ADD COLUMN uncached_nano_usd INTEGER;
