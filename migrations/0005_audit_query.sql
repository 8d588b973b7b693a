-- The audit query API (docs/audit.md "Query", src/audit/query.ts).
--
-- Each search of the trail is itself an admin action: its admin event records the validated search
-- parameters as a canonical query string (`account_id=acct_42&outcome=denied&limit=50`), so "who looked
-- up this account, key or address" has an answer. NULL for every other admin action and for rows
-- written before this migration.
ALTER TABLE admin_audit_events ADD COLUMN query TEXT;

-- Admin events listed by time alone (no account, actor or key filter), newest first: without it such
-- a search would read the whole table and sort it. Admin events are few (one per admin request), so
-- the extra index costs little.
CREATE INDEX IF NOT EXISTS admin_audit_events_time ON admin_audit_events (time_ms);
