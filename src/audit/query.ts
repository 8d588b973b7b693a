/**
 * Searching the audit trail in D1 (docs/audit.md "Query"): request events (`audit_events`) and admin
 * events (`admin_audit_events`), newest first, with an opaque cursor over (time_ms, event_id).
 *
 * Every statement is fixed SQL text assembled from constant fragments (column and index names from
 * the tables below); every value is a bound parameter. Each search names its index with
 * `INDEXED BY`, chosen from the filters by a fixed priority (the most selective filter first), so the
 * plan never depends on the planner's guesses and a missing index is an error rather than a silent
 * scan. test/admin/audit-query.test.ts checks the plan of every supported filter combination with
 * `EXPLAIN QUERY PLAN`.
 *
 * Rows are mapped field by field to the event shapes of docs/audit.md (booleans as booleans,
 * `forwarded_chain` and `forged_headers` parsed): D1's own columns (`time_ms`, `stored_at`) never leave.
 */
import { base64url } from "jose";
import * as z from "zod";
import { ADMIN_ACTIONS, type AdminAction, type AdminAuditEvent } from "./admin-event";
import { ADMIN_EVENT_COLUMNS, AUDIT_EVENT_COLUMNS } from "./columns";
import { type AuditEvent, type AuditOutcome, type ForwardedEntry, ID_MAX_CHARS } from "./event";

/** Events per page when `limit` is not given. */
export const DEFAULT_PAGE_SIZE = 50;
/** Largest `limit`. */
export const MAX_PAGE_SIZE = 200;
/**
 * Longest time range of a request-event search that filters by `outcome` or `would_refuse` without any
 * indexed filter (account, key, request id, source or connecting IP): such a search walks a time index and
 * tests each row, so its cost is bounded by the rows of the range, which this bounds.
 */
export const MAX_UNKEYED_WINDOW_MS = 24 * 3_600_000;
/** Longest cursor accepted, in characters. */
export const MAX_CURSOR_CHARS = 512;

/** A position in a result list: the last event of a page (its time in ms and its id). */
export interface Cursor {
  timeMs: number;
  eventId: string;
}

/** What a cursor was made for: request events ("r") or admin events ("a"). */
type CursorKind = "r" | "a";

const CursorSchema = z.tuple([
  z.enum(["r", "a"]),
  z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  z.string().min(1).max(ID_MAX_CHARS),
]);

/** The opaque cursor text (base64url of a small JSON array). */
export function encodeCursor(kind: CursorKind, cursor: Cursor): string {
  return base64url.encode(JSON.stringify([kind, cursor.timeMs, cursor.eventId]));
}

/**
 * @returns the position, or null when `text` is not a cursor of this kind of search (malformed, or made by
 *          the other search)
 */
export function decodeCursor(kind: CursorKind, text: string): Cursor | null {
  if (text.length === 0 || text.length > MAX_CURSOR_CHARS) return null;
  try {
    const parsed = CursorSchema.safeParse(
      JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(base64url.decode(text))),
    );
    if (!parsed.success || parsed.data[0] !== kind) return null;
    return { timeMs: parsed.data[1], eventId: parsed.data[2] };
  } catch {
    return null;
  }
}

/** One page of a search. */
export interface Page<T> {
  /** Newest first: by time, then by event id (both descending). */
  events: T[];
  /** Cursor of the next page; null when this page is the last. */
  next_cursor: string | null;
}

// ---------------------------------------------------------------------------------------------
// Request events

/** Validated, normalised filters of a request-event search. Absent filters do not restrict; all combine with AND. */
export interface AuditSearchFilters {
  accountId?: string;
  keyId?: string;
  requestId?: string;
  /** Normalised address (ipaddr.js form, IPv4-mapped IPv6 unwrapped), as stored. */
  sourceIp?: string;
  connectingIp?: string;
  outcome?: AuditOutcome;
  /** Report-only mode's mark: {@link WOULD_REFUSE_ANY} (any non-null `would_refuse`) or one error code. */
  wouldRefuse?: string;
  /** Inclusive lower bound, epoch ms. */
  sinceMs?: number;
  /** Exclusive upper bound, epoch ms. */
  untilMs?: number;
  /** Continue after this position (from a previous page's `next_cursor`). */
  after?: Cursor;
  /** 1..MAX_PAGE_SIZE. */
  limit: number;
}

/** The `would_refuse` filter value that matches every event with a would-refuse mark, whatever its code. */
export const WOULD_REFUSE_ANY = "any";

type Keyed<F> = { filter: keyof F & string; column: string; index: string };

/**
 * The indexed filters of request events, most selective first: a search uses the index of the first
 * one it has (migrations/0001, 0003), else the time index. The others are tested on the rows it reads.
 */
export const AUDIT_EVENT_INDEXES: readonly Keyed<AuditSearchFilters>[] = [
  { filter: "requestId", column: "request_id", index: "audit_events_request" },
  { filter: "keyId", column: "key_id", index: "audit_events_key_time" },
  { filter: "accountId", column: "account_id", index: "audit_events_account_time" },
  { filter: "connectingIp", column: "connecting_ip", index: "audit_events_connecting_ip_time" },
  { filter: "sourceIp", column: "source_ip", index: "audit_events_source_ip_time" },
];
export const AUDIT_EVENT_TIME_INDEX = "audit_events_time";
/**
 * The partial index of report-only rows that would have been refused (migration 0009): a search by
 * `would_refuse` without an indexed filter reads it instead of the time index, so it reads only marked rows.
 */
export const AUDIT_EVENT_WOULD_REFUSE_INDEX = "audit_events_would_refuse_time";

/** True when the search has one of the indexed equality filters of {@link AUDIT_EVENT_INDEXES}. */
export function hasKeyedFilter(filters: AuditSearchFilters): boolean {
  return AUDIT_EVENT_INDEXES.some((k) => filters[k.filter] !== undefined);
}

/** The columns read for a request event, in the order of docs/audit.md, plus `time_ms` for the cursor. */
const EVENT_SELECT = AUDIT_EVENT_COLUMNS.join(", ");

/** A statement and its bound values, and the index it reads. */
export interface BuiltQuery {
  sql: string;
  params: (string | number)[];
  index: string;
}

/** WHERE fragments shared by both tables: the time range and the cursor. */
function timeConditions(sinceMs: number | undefined, untilMs: number | undefined, after: Cursor | undefined) {
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (sinceMs !== undefined) {
    where.push("time_ms >= ?");
    params.push(sinceMs);
  }
  // One upper bound for the index range: the earlier of `until` and just past the cursor's instant.
  const upper = Math.min(untilMs ?? Number.POSITIVE_INFINITY, after ? after.timeMs + 1 : Number.POSITIVE_INFINITY);
  if (Number.isFinite(upper)) {
    where.push("time_ms < ?");
    params.push(upper);
  }
  if (after) {
    // Within the cursor's own millisecond, only the events after it in (time_ms, event_id) descending order.
    where.push("(time_ms < ? OR event_id < ?)");
    params.push(after.timeMs, after.eventId);
  }
  return { where, params };
}

function select<F>(
  table: string,
  columns: string,
  indexes: readonly Keyed<F>[],
  timeIndex: string,
  filters: F,
  extra: { column: string; value: string | undefined; notNull?: boolean }[],
  time: { sinceMs?: number; untilMs?: number; after?: Cursor },
  rows: number,
): BuiltQuery {
  const index = indexes.find((k) => filters[k.filter] !== undefined)?.index ?? timeIndex;
  const where: string[] = [];
  const params: (string | number)[] = [];
  for (const k of indexes) {
    const value = filters[k.filter];
    if (value === undefined) continue;
    where.push(`${k.column} = ?`);
    params.push(value as string);
  }
  for (const e of extra) {
    if (e.value === undefined) continue;
    if (e.notNull) {
      where.push(`${e.column} IS NOT NULL`);
      continue;
    }
    where.push(`${e.column} = ?`);
    params.push(e.value);
  }
  const t = timeConditions(time.sinceMs, time.untilMs, time.after);
  where.push(...t.where);
  params.push(...t.params);
  params.push(rows);
  const sql =
    `SELECT ${columns} FROM ${table} INDEXED BY ${index}` +
    (where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "") +
    " ORDER BY time_ms DESC, event_id DESC LIMIT ?";
  return { sql, params, index };
}

/** The statement of a request-event search (exported for the EXPLAIN QUERY PLAN tests). */
export function buildAuditSearch(filters: AuditSearchFilters): BuiltQuery {
  return select(
    "audit_events",
    EVENT_SELECT,
    AUDIT_EVENT_INDEXES,
    // No indexed filter: a would-refuse search reads only the marked rows (the partial index), else the time index.
    filters.wouldRefuse === undefined ? AUDIT_EVENT_TIME_INDEX : AUDIT_EVENT_WOULD_REFUSE_INDEX,
    filters,
    [
      { column: "outcome", value: filters.outcome },
      { column: "would_refuse", value: filters.wouldRefuse, notNull: filters.wouldRefuse === WOULD_REFUSE_ANY },
    ],
    filters,
    // One row more than the page: whether it exists decides next_cursor.
    filters.limit + 1,
  );
}

/** The statement that finds the event of one request id (newest first, should there be several). */
export function buildAuditGet(requestId: string): BuiltQuery {
  return select("audit_events", EVENT_SELECT, AUDIT_EVENT_INDEXES, AUDIT_EVENT_TIME_INDEX, { requestId, limit: 1 }, [], {}, 1);
}

type Row = Record<string, unknown>;

const str = (v: unknown): string => (typeof v === "string" ? v : v === null || v === undefined ? "" : String(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : str(v));
const int = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : Number(v) || 0);
const bool = (v: unknown): boolean => v === 1 || v === true || v === "1";

function jsonArray(v: unknown): unknown[] {
  try {
    const parsed = typeof v === "string" ? JSON.parse(v) : v;
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

function forwardedChain(v: unknown): ForwardedEntry[] {
  return jsonArray(v).map((e) => {
    const entry = (e ?? {}) as Row;
    return {
      raw: str(entry.raw),
      ip: strOrNull(entry.ip),
      port: typeof entry.port === "number" ? entry.port : null,
      valid: entry.valid === true,
    };
  });
}

/** A stored row as the event of docs/audit.md: exactly its fields, typed as the event (folded_count only when > 0). */
export function rowToAuditEvent(row: Row): AuditEvent {
  const outcome = str(row.outcome) as AuditOutcome;
  const mode = row.mode === "live" || row.mode === "test" ? row.mode : null;
  const from = str(row.source_ip_from);
  const event: AuditEvent = {
    v: 1,
    event_id: str(row.event_id),
    time: str(row.time),
    request_id: str(row.request_id),
    ray_id: strOrNull(row.ray_id),
    outcome,
    reason: str(row.reason),
    account_id: strOrNull(row.account_id),
    account_verified: bool(row.account_verified),
    key_id: strOrNull(row.key_id),
    mode,
    requested_version: strOrNull(row.requested_version),
    resolved_version: strOrNull(row.resolved_version),
    origin: strOrNull(row.origin),
    method: str(row.method),
    host: str(row.host),
    path: str(row.path),
    path_length: int(row.path_length),
    status: int(row.status),
    duration_ms: int(row.duration_ms),
    connecting_ip: strOrNull(row.connecting_ip),
    source_ip: strOrNull(row.source_ip),
    source_ip_from: from === "x-forwarded-for" || from === "cf-connecting-ip" ? from : "none",
    source_ip_asserted: bool(row.source_ip_asserted),
    forwarded_for: strOrNull(row.forwarded_for),
    forwarded_for_length: int(row.forwarded_for_length),
    forwarded_chain: forwardedChain(row.forwarded_chain),
    forwarded_count: int(row.forwarded_count),
    user_agent: strOrNull(row.user_agent),
    user_agent_length: int(row.user_agent_length),
    country: strOrNull(row.country),
    colo: strOrNull(row.colo),
    forged_headers: jsonArray(row.forged_headers).map(str),
    forged_headers_count: int(row.forged_headers_count),
    truncated: bool(row.truncated),
    would_refuse: strOrNull(row.would_refuse),
  };
  const folded = int(row.folded_count);
  if (folded > 0) event.folded_count = folded;
  return event;
}

function page<T>(kind: CursorKind, rows: Row[], limit: number, map: (row: Row) => T): Page<T> {
  const shown = rows.slice(0, limit);
  const last = shown.at(-1);
  const more = rows.length > limit && last !== undefined;
  return {
    events: shown.map(map),
    next_cursor: more ? encodeCursor(kind, { timeMs: int(last.time_ms), eventId: str(last.event_id) }) : null,
  };
}

/**
 * One page of request events matching every given filter, newest first.
 * @throws the D1 error (the caller answers 503)
 */
export async function searchAuditEvents(db: D1Database, filters: AuditSearchFilters): Promise<Page<AuditEvent>> {
  const q = buildAuditSearch(filters);
  const { results } = await db
    .prepare(q.sql)
    .bind(...q.params)
    .all<Row>();
  return page("r", results, filters.limit, rowToAuditEvent);
}

/**
 * The event of one request id, or null when there is none (yet: events reach D1 seconds after the
 * response; a denied request folded into a flood event is stored under the request id of the last one).
 * @throws the D1 error
 */
export async function findAuditEvent(db: D1Database, requestId: string): Promise<AuditEvent | null> {
  const q = buildAuditGet(requestId);
  const row = await db
    .prepare(q.sql)
    .bind(...q.params)
    .first<Row>();
  return row ? rowToAuditEvent(row) : null;
}

// ---------------------------------------------------------------------------------------------
// Admin events

/** Validated filters of an admin-event search; all combine with AND. */
export interface AdminSearchFilters {
  accountId?: string;
  keyId?: string;
  /** `actor_sub`: the `sub` of the admin token. */
  actor?: string;
  action?: AdminAction;
  sinceMs?: number;
  untilMs?: number;
  after?: Cursor;
  limit: number;
}

/** The indexed filters of admin events, most selective first (migrations/0004, 0005). */
export const ADMIN_EVENT_INDEXES: readonly Keyed<AdminSearchFilters>[] = [
  { filter: "keyId", column: "key_id", index: "admin_audit_events_key_time" },
  { filter: "accountId", column: "account_id", index: "admin_audit_events_account_time" },
  { filter: "actor", column: "actor_sub", index: "admin_audit_events_actor_time" },
];
export const ADMIN_EVENT_TIME_INDEX = "admin_audit_events_time";

const ADMIN_SELECT = ADMIN_EVENT_COLUMNS.join(", ");

/** The statement of an admin-event search (exported for the EXPLAIN QUERY PLAN tests). */
export function buildAdminSearch(filters: AdminSearchFilters): BuiltQuery {
  return select(
    "admin_audit_events",
    ADMIN_SELECT,
    ADMIN_EVENT_INDEXES,
    ADMIN_EVENT_TIME_INDEX,
    filters,
    [{ column: "action", value: filters.action }],
    filters,
    filters.limit + 1,
  );
}

/** A stored admin row as the admin event of docs/audit.md. */
export function rowToAdminAuditEvent(row: Row): AdminAuditEvent {
  const action = str(row.action) as AdminAction;
  return {
    kind: "admin",
    v: 1,
    event_id: str(row.event_id),
    time: str(row.time),
    request_id: str(row.request_id),
    ray_id: strOrNull(row.ray_id),
    action: ADMIN_ACTIONS.includes(action) ? action : "unknown",
    outcome: str(row.outcome) as AuditOutcome,
    reason: str(row.reason),
    status: int(row.status),
    actor_sub: strOrNull(row.actor_sub),
    actor_email: strOrNull(row.actor_email),
    account_id: strOrNull(row.account_id),
    key_id: strOrNull(row.key_id),
    new_key_id: strOrNull(row.new_key_id),
    method: str(row.method),
    path: str(row.path),
    query: strOrNull(row.query),
    connecting_ip: strOrNull(row.connecting_ip),
    user_agent: strOrNull(row.user_agent),
    duration_ms: int(row.duration_ms),
    changes: jsonArray(row.changes).filter((name): name is string => typeof name === "string"),
    truncated: bool(row.truncated),
  };
}

/**
 * One page of admin events matching every given filter, newest first.
 * @throws the D1 error
 */
export async function searchAdminAuditEvents(db: D1Database, filters: AdminSearchFilters): Promise<Page<AdminAuditEvent>> {
  const q = buildAdminSearch(filters);
  const { results } = await db
    .prepare(q.sql)
    .bind(...q.params)
    .all<Row>();
  return page("a", results, filters.limit, rowToAdminAuditEvent);
}
