-- Audit trail of the request path (docs/audit.md). Written by the queue consumer
-- (src/audit/consumer.ts), one row per request, allowed or denied.
--
-- Columns mirror the event fields one to one (src/audit/event.ts). Booleans are INTEGER 0/1,
-- forwarded_chain is the JSON array of parsed X-Forwarded-For entries, and time is kept twice:
-- as the ISO 8601 text of the event and as time_ms (milliseconds since the epoch) for range scans.
-- Fields named forwarded_* and source_ip when source_ip_asserted = 1 are ASSERTED by the
-- caller's infrastructure (X-Forwarded-For), while connecting_ip is what Cloudflare saw.
CREATE TABLE IF NOT EXISTS audit_events (
  event_id             TEXT    PRIMARY KEY,          -- idempotency: INSERT OR IGNORE on redelivery
  v                    INTEGER NOT NULL,             -- event schema version
  time                 TEXT    NOT NULL,             -- ISO 8601 UTC with milliseconds
  time_ms              INTEGER NOT NULL,             -- same instant, ms since the epoch
  request_id           TEXT    NOT NULL,
  ray_id               TEXT,
  outcome              TEXT    NOT NULL,             -- allowed | denied | error
  reason               TEXT    NOT NULL,             -- error code, or "ok"
  account_id           TEXT,
  account_verified     INTEGER NOT NULL,             -- 1 only when the credentials were verified
  key_id               TEXT,
  mode                 TEXT,                         -- live | test
  requested_version    TEXT,
  resolved_version     TEXT,
  origin               TEXT,
  method               TEXT    NOT NULL,
  host                 TEXT    NOT NULL,
  path                 TEXT    NOT NULL,             -- raw path, capped, never the query string
  path_length          INTEGER NOT NULL,
  status               INTEGER NOT NULL,
  duration_ms          INTEGER NOT NULL,
  connecting_ip        TEXT,                         -- trusted: CF-Connecting-IP
  source_ip            TEXT,
  source_ip_from       TEXT    NOT NULL,             -- x-forwarded-for | cf-connecting-ip | none
  source_ip_asserted   INTEGER NOT NULL,             -- 1 when source_ip comes from X-Forwarded-For
  forwarded_for        TEXT,                         -- asserted: raw header, capped
  forwarded_for_length INTEGER NOT NULL,
  forwarded_chain      TEXT    NOT NULL,             -- asserted: JSON [{raw, ip, port, valid}], at most 20
  forwarded_count      INTEGER NOT NULL,
  user_agent           TEXT,
  user_agent_length    INTEGER NOT NULL,
  country              TEXT,
  colo                 TEXT,
  truncated            INTEGER NOT NULL,             -- 1 when any value was cut
  stored_at            TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Support's most common question: "what did account X do between T1 and T2", newest first.
CREATE INDEX IF NOT EXISTS audit_events_account_time ON audit_events (account_id, time_ms DESC);
-- A customer quotes the X-Request-Id of one response: find its event directly.
CREATE INDEX IF NOT EXISTS audit_events_request ON audit_events (request_id);
-- "Who claims to call from this address" (asserted original caller), in a time range.
CREATE INDEX IF NOT EXISTS audit_events_source_ip_time ON audit_events (source_ip, time_ms DESC);
-- "What connected from this address" (trusted CF-Connecting-IP), in a time range: abuse and allowlist checks.
CREATE INDEX IF NOT EXISTS audit_events_connecting_ip_time ON audit_events (connecting_ip, time_ms DESC);
-- "Where and when was this key used", e.g. before revoking or after a leak.
CREATE INDEX IF NOT EXISTS audit_events_key_time ON audit_events (key_id, time_ms DESC);

-- Messages the consumer could not store as events: poison bodies (failed validation) and
-- everything that reached the dead-letter queue after exhausting its retries. Nothing is
-- silently dropped: the body is kept (capped at 64 KB) for inspection or replay.
CREATE TABLE IF NOT EXISTS audit_dead_letters (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  queue       TEXT    NOT NULL,                      -- queue the message came from
  message_id  TEXT    NOT NULL,                      -- Queues message id
  received_at TEXT    NOT NULL,                      -- ISO 8601: when the consumer stored it
  enqueued_at TEXT,                                  -- ISO 8601: the message's own timestamp
  attempts    INTEGER NOT NULL,                      -- delivery attempts so far
  reason      TEXT    NOT NULL,                      -- "poison: …" or "dead_letter: delivery retries exhausted"
  body        TEXT    NOT NULL,                      -- message body as text (JSON), at most 64 KB of UTF-8
  body_length INTEGER NOT NULL,                      -- UTF-8 bytes of the whole body before the cap
  -- A redelivered message (ack lost) is stored once per queue.
  UNIQUE (queue, message_id)
);

-- Newest dead letters first, for the operations runbook.
CREATE INDEX IF NOT EXISTS audit_dead_letters_received ON audit_dead_letters (received_at DESC);
