-- placeholder, replaced by the audit schema
CREATE TABLE IF NOT EXISTS audit_events (event_id TEXT PRIMARY KEY);
