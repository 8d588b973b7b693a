-- Audit trail of the admin API (docs/audit.md "Admin events"). Written by the queue consumer
-- (src/audit/consumer.ts), one row per admin request, allowed or denied. Columns mirror the admin
-- event fields one to one (src/audit/admin-event.ts); never a secret, a secret hash, a token or a body.
CREATE TABLE IF NOT EXISTS admin_audit_events (
  event_id      TEXT    PRIMARY KEY,                 -- idempotency: INSERT OR IGNORE on redelivery
  v             INTEGER NOT NULL,                    -- admin event schema version
  time          TEXT    NOT NULL,                    -- ISO 8601 UTC with milliseconds
  time_ms       INTEGER NOT NULL,                    -- same instant, ms since the epoch
  request_id    TEXT    NOT NULL,
  ray_id        TEXT,
  action        TEXT    NOT NULL,                    -- key.create | key.rotate | key.revoke | key.import | key.list | key.get | openapi.get | unknown
  outcome       TEXT    NOT NULL,                    -- allowed | denied | error
  reason        TEXT    NOT NULL,                    -- error code, or "ok"
  status        INTEGER NOT NULL,
  actor_sub     TEXT,                                -- sub of the verified admin token; NULL when not verified
  actor_email   TEXT,
  account_id    TEXT,
  key_id        TEXT,                                -- the key acted on (create/import: the new key)
  new_key_id    TEXT,                                -- rotate: the key that replaces key_id
  method        TEXT    NOT NULL,
  path          TEXT    NOT NULL,                    -- without the query string, capped at 512
  connecting_ip TEXT,                                -- trusted: CF-Connecting-IP
  user_agent    TEXT,
  duration_ms   INTEGER NOT NULL,
  truncated     INTEGER NOT NULL,
  stored_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- "Who did what to this account's keys", newest first.
CREATE INDEX IF NOT EXISTS admin_audit_events_account_time ON admin_audit_events (account_id, time_ms DESC);
-- "What did this admin do".
CREATE INDEX IF NOT EXISTS admin_audit_events_actor_time ON admin_audit_events (actor_sub, time_ms DESC);
-- "What happened to this key".
CREATE INDEX IF NOT EXISTS admin_audit_events_key_time ON admin_audit_events (key_id, time_ms DESC);
