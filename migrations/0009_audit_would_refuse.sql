-- Report-only mode (docs/operations.md "Report-only mode", docs/audit.md): the error code enforcement
-- would have answered for a request that was forwarded anyway (invalid_credentials, ip_not_allowed,
-- rate_limited, …). NULL for every other request, and for events written before this migration.
ALTER TABLE audit_events ADD COLUMN would_refuse TEXT;                               -- an error code (docs/errors.md), ≤ 64 chars

-- "What would enforcement refuse, and for whom": only report-only rows that would have been refused,
-- so a partial index stays small (and empty outside a cut-over).
CREATE INDEX IF NOT EXISTS audit_events_would_refuse_time ON audit_events (time_ms DESC) WHERE would_refuse IS NOT NULL;
