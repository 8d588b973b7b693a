-- Last use of each API key (docs/audit.md "Last used"): the time, connecting IP and request id of the
-- latest request the key authenticated and that was forwarded upstream. Written by the queue consumer
-- (src/audit/consumer.ts, src/audit/last-used.ts) in the same D1 batch as the events' rows: one upsert
-- statement per consumer batch, one row per (account, key), never on the request path. Read by the
-- admin API (lastUseOf: every key of one account).
--
-- Time is kept twice, as in audit_events: last_used_at is the event's own `time` (ISO 8601 UTC with
-- milliseconds, what readers show, no conversion on read), last_used_ms the same instant in ms since the
-- epoch, which the upsert compares (an integer comparison, as audit_events' time_ms is for ranges).
--
-- Not touched by the retention cron: the row outlives the events of D1's search window, so a key used
-- once a year still shows its last use. One small row per key (about 140 bytes measured in D1).
--
-- WITHOUT ROWID: the rows live in the primary key's B-tree itself, so the table costs one B-tree, not a
-- table plus an index on (account_id, key_id), and each upsert writes one of them.
CREATE TABLE IF NOT EXISTS key_last_used (
  account_id   TEXT    NOT NULL,
  key_id       TEXT    NOT NULL,
  last_used_at TEXT    NOT NULL,                     -- ISO 8601 UTC with milliseconds: the event's `time`
  last_used_ms INTEGER NOT NULL,                     -- same instant, ms since the epoch: what the upsert compares
  last_used_ip TEXT,                                 -- trusted: the event's connecting_ip (CF-Connecting-IP); NULL when it had none
  request_id   TEXT    NOT NULL,                     -- the X-Request-Id of that request: its audit event
  PRIMARY KEY (account_id, key_id)
) WITHOUT ROWID;
