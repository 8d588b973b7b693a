/**
 * The admin audit event (docs/audit.md "Admin events"): one per request to the admin API
 * (/__spot/admin/v1/), allowed or denied, on the same queue as the request events and stored in
 * D1 `admin_audit_events`. Told apart from a request event by `kind: "admin"` (request events have
 * no `kind`, and are unchanged).
 *
 * Pure. What never goes in: a secret, a secret hash, a token, a request body.
 */
import * as z from "zod";
import {
  type AuditOutcome,
  cleanText,
  ID_MAX_CHARS,
  IP_MAX_CHARS,
  METHOD_MAX_CHARS,
  REASON_MAX_CHARS,
  USER_AGENT_MAX_CHARS,
} from "./event";

export const ADMIN_AUDIT_SCHEMA_VERSION = 1;
/** `sub` and `email` of the admin token. */
export const ACTOR_MAX_CHARS = 256;
export const ADMIN_PATH_MAX_CHARS = 512;
/** `query`: the parameters of an audit search, as a canonical query string. */
export const ADMIN_QUERY_MAX_CHARS = 1024;
/** Names of changed fields kept per event (`changes`), and the cap of each name. */
export const CHANGES_MAX_ENTRIES = 10;
export const CHANGE_MAX_CHARS = 64;

/** What the admin request did (the OpenAPI operation), or "unknown" for a path with no route. */
export const ADMIN_ACTIONS = [
  "key.list",
  "key.get",
  "key.create",
  "key.rotate",
  "key.revoke",
  "key.import",
  "audit.search",
  "audit.get",
  "audit.admin_search",
  "key.update",
  "openapi.get",
  "account.suspend",
  "account.resume",
  "unknown",
] as const;
export type AdminAction = (typeof ADMIN_ACTIONS)[number];

export interface AdminAuditEvent {
  kind: "admin";
  v: 1;
  event_id: string;
  /** ISO 8601 with milliseconds, UTC. */
  time: string;
  request_id: string;
  ray_id: string | null;
  action: AdminAction;
  outcome: AuditOutcome;
  /** Error code, or "ok". */
  reason: string;
  status: number;
  /** `sub` of the verified admin token; null when the token was missing or rejected. */
  actor_sub: string | null;
  actor_email: string | null;
  account_id: string | null;
  /** The key acted on (for create and import: the new key). */
  key_id: string | null;
  /** Rotation: the key that replaces `key_id`. */
  new_key_id: string | null;
  method: string;
  /** Path without the query string, capped. */
  path: string;
  /**
   * Audit query actions (`audit.*`): the validated search parameters as a canonical query string
   * (`account_id=acct_42&outcome=denied&limit=50`, without the cursor), capped; null for every other action
   * and for a search refused before its parameters were valid.
   */
  query: string | null;
  connecting_ip: string | null;
  user_agent: string | null;
  duration_ms: number;
  /**
   * key.update: names of the fields whose value changed (`label`, `policy.ip_allowlist`,
   * `policy.rate_limit_per_minute`); names only, never values. Empty for every other action.
   */
  changes: string[];
  truncated: boolean;
}

const text = (max: number) => z.string().max(max);
const nullableText = (max: number) => z.string().max(max).nullable();

/** Validates an admin event as the consumer receives it; unknown keys are refused. */
export const AdminAuditEventSchema = z.strictObject({
  kind: z.literal("admin"),
  v: z.literal(ADMIN_AUDIT_SCHEMA_VERSION),
  event_id: z.string().min(1).max(ID_MAX_CHARS),
  time: z.iso.datetime({ precision: 3 }),
  request_id: text(ID_MAX_CHARS),
  ray_id: nullableText(ID_MAX_CHARS),
  action: z.enum(ADMIN_ACTIONS),
  outcome: z.enum(["allowed", "denied", "error"]),
  reason: text(REASON_MAX_CHARS),
  status: z.number().int().min(0).max(999),
  actor_sub: nullableText(ACTOR_MAX_CHARS),
  actor_email: nullableText(ACTOR_MAX_CHARS),
  account_id: nullableText(ID_MAX_CHARS),
  key_id: nullableText(ID_MAX_CHARS),
  new_key_id: nullableText(ID_MAX_CHARS),
  method: text(METHOD_MAX_CHARS),
  path: text(ADMIN_PATH_MAX_CHARS),
  // Added after v1 was first deployed (the audit query API): an event from an older producer has none.
  query: nullableText(ADMIN_QUERY_MAX_CHARS).default(null),
  connecting_ip: nullableText(IP_MAX_CHARS),
  user_agent: nullableText(USER_AGENT_MAX_CHARS),
  duration_ms: z.number().int().nonnegative(),
  // Absent in events of producers older than migration 0005: read as [].
  changes: z.array(text(CHANGE_MAX_CHARS)).max(CHANGES_MAX_ENTRIES).default([]),
  truncated: z.boolean(),
});

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesInterface: Same<z.infer<typeof AdminAuditEventSchema>, AdminAuditEvent> = true;
void schemaMatchesInterface;

export interface AdminAuditInput {
  eventId: string;
  timeMs: number;
  requestId: string;
  rayId: string | null;
  action: AdminAction;
  outcome: AuditOutcome;
  reason: string;
  status: number;
  actorSub: string | null;
  actorEmail: string | null;
  accountId: string | null;
  keyId: string | null;
  newKeyId: string | null;
  method: string;
  path: string;
  /** Audit query actions: the canonical search parameters; absent or null otherwise. */
  query?: string | null;
  connectingIp: string | null;
  userAgent: string | null;
  durationMs: number;
  /** key.update: names of the changed fields. */
  changes?: string[];
}

/** Builds the capped, JSON-safe admin event (strings cleaned like request events). Never throws. */
export function buildAdminAuditEvent(input: AdminAuditInput): AdminAuditEvent {
  let truncated = false;
  const str = (value: string, max: number): string => {
    if (value.length > max) truncated = true;
    return cleanText(value, max);
  };
  const opt = (value: string | null, max: number): string | null => (typeof value === "string" ? str(value, max) : null);
  const q = input.path.search(/[?#]/);
  const path = q === -1 ? input.path : input.path.slice(0, q);
  const event: AdminAuditEvent = {
    kind: "admin",
    v: ADMIN_AUDIT_SCHEMA_VERSION,
    event_id: str(input.eventId, ID_MAX_CHARS) || crypto.randomUUID(),
    time: new Date(Number.isFinite(input.timeMs) && input.timeMs >= 0 ? Math.floor(input.timeMs) : 0).toISOString(),
    request_id: str(input.requestId, ID_MAX_CHARS),
    ray_id: opt(input.rayId, ID_MAX_CHARS),
    action: ADMIN_ACTIONS.includes(input.action) ? input.action : "unknown",
    outcome: input.outcome === "allowed" || input.outcome === "denied" ? input.outcome : "error",
    reason: str(input.reason, REASON_MAX_CHARS),
    status: Number.isInteger(input.status) && input.status >= 0 && input.status <= 999 ? input.status : 0,
    actor_sub: opt(input.actorSub, ACTOR_MAX_CHARS),
    actor_email: opt(input.actorEmail, ACTOR_MAX_CHARS),
    account_id: opt(input.accountId, ID_MAX_CHARS),
    key_id: opt(input.keyId, ID_MAX_CHARS),
    new_key_id: opt(input.newKeyId, ID_MAX_CHARS),
    method: str(input.method, METHOD_MAX_CHARS),
    path: str(path, ADMIN_PATH_MAX_CHARS),
    query: opt(input.query ?? null, ADMIN_QUERY_MAX_CHARS),
    connecting_ip: opt(input.connectingIp, IP_MAX_CHARS),
    user_agent: opt(input.userAgent, USER_AGENT_MAX_CHARS),
    duration_ms: Number.isFinite(input.durationMs) && input.durationMs > 0 ? Math.round(input.durationMs) : 0,
    changes: (input.changes ?? []).slice(0, CHANGES_MAX_ENTRIES).map((name) => str(name, CHANGE_MAX_CHARS)),
    truncated: false,
  };
  event.truncated = truncated;
  return event;
}

/** True for an admin event (as opposed to a request event) of a queue message. */
export function isAdminEvent(event: object): event is AdminAuditEvent {
  return (event as { kind?: unknown }).kind === "admin";
}
