-- Admin events of key.update name the fields that changed (docs/audit.md "Admin events"):
-- "label", "policy.ip_allowlist", "policy.rate_limit_per_minute"; names only, never values.
-- A JSON array as text; rows written before this migration read as an empty array.
ALTER TABLE admin_audit_events ADD COLUMN changes TEXT NOT NULL DEFAULT '[]';
