-- Flood folding (docs/audit.md): a row can stand for more denied requests from one connecting IP
-- than were stored one by one. 0 for every ordinary event, and for every row written before this.
-- (Numbered 0003: 0002 is taken by the forged-identity-header field of the assertion work.)
ALTER TABLE audit_events ADD COLUMN folded_count INTEGER NOT NULL DEFAULT 0;

-- Retention (src/audit/retention.ts) deletes by age, and support may list a time range with no other
-- filter: both scan time_ms alone.
CREATE INDEX IF NOT EXISTS audit_events_time ON audit_events (time_ms);
