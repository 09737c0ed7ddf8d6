-- Which client token (and tenant) made each request, when client tokens are configured.
ALTER TABLE requests ADD COLUMN client TEXT;
ALTER TABLE requests ADD COLUMN tenant TEXT;
CREATE INDEX requests_client_ts ON requests (client, ts_ms);
