-- Forged identity headers (docs/audit.md, docs/upstream.md): the names of the authorizer's own
-- x-spot-* headers (X-Spot-Account-Id, X-Spot-Assertion, … in any spelling) that a client sent and
-- that were stripped before forwarding. Events written before this migration read as none.
ALTER TABLE audit_events ADD COLUMN forged_headers TEXT NOT NULL DEFAULT '[]';      -- JSON array of canonical names, at most 10, each ≤ 64 chars
ALTER TABLE audit_events ADD COLUMN forged_headers_count INTEGER NOT NULL DEFAULT 0; -- distinct names the request had

-- "Who tried to forge identity headers, and when": rare rows, so a partial index stays small.
CREATE INDEX IF NOT EXISTS audit_events_forged_time ON audit_events (time_ms DESC) WHERE forged_headers_count > 0;
