/**
 * The D1 columns of the audit tables (migrations/), one list each for the writer (consumer.ts) and
 * the reader (query.ts). A column added by a migration is added here once.
 */

/** Columns of `audit_events`: one per request-event field, plus `time_ms`. */
export const AUDIT_EVENT_COLUMNS = [
  "event_id",
  "v",
  "time",
  "time_ms",
  "request_id",
  "ray_id",
  "outcome",
  "reason",
  "account_id",
  "account_verified",
  "key_id",
  "mode",
  "requested_version",
  "resolved_version",
  "origin",
  "method",
  "host",
  "path",
  "path_length",
  "status",
  "duration_ms",
  "connecting_ip",
  "source_ip",
  "source_ip_from",
  "source_ip_asserted",
  "forwarded_for",
  "forwarded_for_length",
  "forwarded_chain",
  "forwarded_count",
  "user_agent",
  "user_agent_length",
  "country",
  "colo",
  "truncated",
  "forged_headers",
  "forged_headers_count",
  "folded_count",
  "would_refuse",
] as const;

/** Columns of `admin_audit_events`: one per admin-event field, plus `time_ms`. */
export const ADMIN_EVENT_COLUMNS = [
  "event_id",
  "v",
  "time",
  "time_ms",
  "request_id",
  "ray_id",
  "action",
  "outcome",
  "reason",
  "status",
  "actor_sub",
  "actor_email",
  "account_id",
  "key_id",
  "new_key_id",
  "method",
  "path",
  "query",
  "connecting_ip",
  "user_agent",
  "duration_ms",
  "changes",
  "truncated",
] as const;

/**
 * The ledger column of both tables (migration 0007): the archive object holding the row's event
 * (src/audit/archive/layout.ts archiveObjectOf), NULL for rows from before the archive. Not an event
 * field: written and read only by the consumer, never archived, never in a query answer.
 */
export const ARCHIVE_OBJECT_COLUMN = "archive_object";
