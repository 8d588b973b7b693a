/**
 * Last use of each API key (docs/audit.md "Last used", migration 0008 `key_last_used`).
 *
 * The audit consumer keeps, per (account, key), the time, connecting IP and request id of the latest
 * request that **used** the key (countsAsUse): one that the key authenticated and that the authorizer
 * forwarded upstream. Per consumer batch it folds the batch's new request events into one use per key
 * (latestUseByKey) and writes them with ONE upsert statement (lastUsedStatement) in the same D1 batch as
 * the events' rows: no extra round trip, and the rows and the last use are stored together or not at
 * all. The upsert only ever moves a key's last use forward, so an older batch delivered late, or a
 * redelivered one, never moves it back. Nothing here runs on the request path.
 *
 * The admin API reads one account's keys with lastUseOf (one query on the primary key).
 */
import { isAdminEvent } from "./admin-event";
import type { AuditEvent } from "./event";
import type { AnyAuditEvent } from "./producer";

/**
 * Reasons of an `error` event whose request was forwarded: the origin failed (unreachable, no answer in
 * time, its body broke off). The key authenticated and the request left the authorizer, so it counts as
 * a use. Every other `error` (503 `authorizer_unavailable`, `internal_error`) was not forwarded.
 */
export const FORWARDED_ERROR_REASONS: ReadonlySet<string> = new Set([
  "upstream_unavailable",
  "upstream_timeout",
  "upstream_body_incomplete",
]);

/**
 * Whether a request event is a use of its key: the credentials were verified for a key (`account_verified`,
 * `account_id` and `key_id` set) and the request was forwarded upstream: outcome `allowed` (whatever its
 * delivery: `ok` or `client_disconnected`), or outcome `error` for a failure of the origin
 * (FORWARDED_ERROR_REASONS). Refused requests (`denied`: 400, 401, 403, 429, …) never count, even those
 * whose key was verified (an IP outside the allowlist, the key's rate limit), nor do admin events.
 */
export function countsAsUse(event: AnyAuditEvent): event is AuditEvent & { account_id: string; key_id: string } {
  if (isAdminEvent(event)) return false;
  if (!event.account_verified || event.account_id === null || event.key_id === null) return false;
  return event.outcome === "allowed" || (event.outcome === "error" && FORWARDED_ERROR_REASONS.has(event.reason));
}

/** The latest use of one key, as stored in `key_last_used`. */
export interface KeyUse {
  account_id: string;
  key_id: string;
  /** The event's `time`: ISO 8601 UTC with milliseconds. */
  last_used_at: string;
  /** The same instant in milliseconds since the epoch. */
  last_used_ms: number;
  /** The event's `connecting_ip` (trusted, CF-Connecting-IP); null when it had none. */
  last_used_ip: string | null;
  /** The request's X-Request-Id. */
  request_id: string;
}

/**
 * Folds events into the latest use of each key they use (countsAsUse): one entry per (account_id, key_id),
 * the event with the latest `time`; of events with the same time, the later one in `events` order. Keys
 * come out in the order of their first use in `events`. Pure.
 */
export function latestUseByKey(events: Iterable<AnyAuditEvent>): KeyUse[] {
  /** Per account, per key: the index of its use in `out`. */
  const byAccount = new Map<string, Map<string, number>>();
  const out: KeyUse[] = [];
  for (const e of events) {
    if (!countsAsUse(e)) continue;
    const ms = Date.parse(e.time);
    if (Number.isNaN(ms)) continue;
    let keys = byAccount.get(e.account_id);
    if (keys === undefined) {
      keys = new Map();
      byAccount.set(e.account_id, keys);
    }
    const index = keys.get(e.key_id);
    if (index !== undefined && ms < (out[index] as KeyUse).last_used_ms) continue;
    const use: KeyUse = {
      account_id: e.account_id,
      key_id: e.key_id,
      last_used_at: e.time,
      last_used_ms: ms,
      last_used_ip: e.connecting_ip,
      request_id: e.request_id,
    };
    if (index === undefined) {
      keys.set(e.key_id, out.length);
      out.push(use);
    } else out[index] = use;
  }
  return out;
}

/** Columns of `key_last_used` in the order of each JSON row of the upsert's parameter. */
export const KEY_LAST_USED_COLUMNS = ["account_id", "key_id", "last_used_at", "last_used_ms", "last_used_ip", "request_id"] as const;

/**
 * One statement for every key of a batch: the uses travel as one JSON array parameter (`?1`, rows as
 * arrays in KEY_LAST_USED_COLUMNS order), as the consumer's INSERTs do, so the statement's size does not
 * depend on D1's limit of 100 bound parameters. `WHERE true` is SQLite's required disambiguation of an
 * upsert from a SELECT (sqlite.org/lang_UPSERT.html). The DO UPDATE's WHERE keeps the stored use unless
 * the new one is strictly later: a redelivered or late batch never moves it back, and the same batch
 * applied twice changes nothing.
 */
export const UPSERT_LAST_USED_SQL = `INSERT INTO key_last_used (${KEY_LAST_USED_COLUMNS.join(", ")}) SELECT ${KEY_LAST_USED_COLUMNS.map(
  (_, i) => `value ->> ${i}`,
).join(", ")} FROM json_each(?1) WHERE true ON CONFLICT (account_id, key_id) DO UPDATE SET ${KEY_LAST_USED_COLUMNS.slice(2)
  .map((c) => `${c} = excluded.${c}`)
  .join(", ")} WHERE excluded.last_used_ms > key_last_used.last_used_ms`;

/** The upsert's parameter: `[[account_id, key_id, last_used_at, last_used_ms, last_used_ip, request_id], …]`. */
export function lastUsedRowsJson(uses: readonly KeyUse[]): string {
  return JSON.stringify(uses.map((u) => KEY_LAST_USED_COLUMNS.map((c) => u[c])));
}

/** The upsert of some uses, for the consumer's D1 batch; null when there is none (nothing to write). */
export function lastUsedStatement(db: D1Database, uses: readonly KeyUse[]): D1PreparedStatement | null {
  return uses.length === 0 ? null : db.prepare(UPSERT_LAST_USED_SQL).bind(lastUsedRowsJson(uses));
}

/** A key's last use as the admin API shows it. */
export interface LastUse {
  /** ISO 8601 UTC with milliseconds. */
  last_used_at: string;
  /** The trusted connecting IP of that request; null when it had none. */
  last_used_ip: string | null;
  /** The X-Request-Id of that request (its audit event: `GET …/audit/requests/{request_id}`). */
  request_id: string;
}

/** Every key of one account: a search of the primary key's prefix (account_id), never a scan. */
export const SELECT_LAST_USE_SQL = "SELECT key_id, last_used_at, last_used_ip, request_id FROM key_last_used WHERE account_id = ?1";

/**
 * The last use of every key of `accountId` that has one, by key id. A key never used (since migration
 * 0008) has no entry: the caller shows it as never used. One query.
 * @throws whatever D1 throws (unavailable, no such table before the migration): the admin API answers
 *   503 `admin_unavailable` then, as for its other D1 reads.
 */
export async function lastUseOf(db: D1Database, accountId: string): Promise<Map<string, LastUse>> {
  const { results } = await db
    .prepare(SELECT_LAST_USE_SQL)
    .bind(accountId)
    .all<{ key_id: string; last_used_at: string; last_used_ip: string | null; request_id: string }>();
  const uses = new Map<string, LastUse>();
  for (const r of results) uses.set(r.key_id, { last_used_at: r.last_used_at, last_used_ip: r.last_used_ip, request_id: r.request_id });
  return uses;
}
