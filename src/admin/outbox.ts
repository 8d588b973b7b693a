/**
 * Decisions of the KV outbox of `AccountKeys` (docs/storage.md "Consistency"): how long the alarm
 * waits before the next try, which failed KV write is worth another try, and what an outbox row
 * says about a key's KV record. Pure.
 */
import type { KvSync } from "./model";

/** Backoff of the KV outbox retries (milliseconds): 5 s, 10 s, 20 s … capped at 300 s. */
export function outboxRetryDelayMs(attempts: number): number {
  return Math.min(5_000 * 2 ** Math.min(Math.max(attempts - 1, 0), 10), 300_000);
}

/**
 * Statuses with which KV refuses a write for what it asks, not for how KV is doing: 400 an invalid
 * argument (an expiration in the past, for one), 413 a value too large, 414 a key too long. The
 * binding reports them as an `Error` whose message starts `KV PUT failed: <status>`.
 */
const REFUSED_WRITE_STATUSES = new Set([400, 413, 414]);

/**
 * Whether a failed `KEYS.put` can never succeed with the same arguments, so retrying it is useless:
 * a `TypeError` or `RangeError` (the binding refused an argument before sending anything, e.g.
 * "Value out of range" for an `expiration` past 2^31 − 1 s), or a `KV PUT failed: 400|413|414` answer.
 * Everything else (429, 5xx, network, timeouts, unknown errors) is transient and retried.
 */
export function isPermanentKvWriteError(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError) return true;
  if (!(err instanceof Error)) return false;
  const status = /^KV PUT failed: (\d{3})\b/.exec(err.message)?.[1];
  return status !== undefined && REFUSED_WRITE_STATUSES.has(Number(status));
}

/**
 * A key's KV record as its outbox row tells it.
 * @param row the key's `kv_outbox` row (`failed_at`: ISO 8601 UTC when the write was given up, else null), or undefined for none
 */
export function kvSyncOf(row: { failed_at: string | null } | undefined): KvSync {
  if (row === undefined) return "synced";
  return row.failed_at === null ? "pending" : "failed";
}
