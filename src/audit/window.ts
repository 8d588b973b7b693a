/**
 * The D1 audit trail as a sized search window (docs/audit.md "Retention"): the decisions of the size
 * rule, which the retention cron applies after the age rule (src/audit/retention.ts does the D1 work).
 * Pure: numbers in, numbers out.
 *
 * How the size is known: every D1 result carries `meta.size_after`, "the size of the database after the
 * query", in bytes (https://developers.cloudflare.com/d1/worker-api/return-object/). D1 does not allow
 * `PRAGMA page_count` or `freelist_count` (not authorized, checked under Miniflare). Miniflare's D1 (a
 * Durable Object with SQLite storage on workerd) reports the pages in use,
 * (page_count − freelist_count) × page_size: deleted rows lower it at once, and new rows reuse the freed
 * pages before the file grows. The rule does not depend on that: each round deletes what the last
 * reported size says is too much, and stops when a round lowers the size by nothing (a size that counts
 * free pages too), instead of deleting on.
 */

/** D1's largest database, in bytes: 10 GB on Workers Paid (https://developers.cloudflare.com/d1/platform/limits/). */
export const D1_MAX_DATABASE_BYTES = 10_000_000_000;
/** Bytes in one MB of `AUDIT_DB_MAX_MB`: decimal, so 10 GB is 10^10 bytes (the smaller reading of D1's "10 GB"). */
export const BYTES_PER_MB = 1_000_000;
/**
 * `AUDIT_DB_MAX_MB` when absent or invalid: 8,000 MB, which leaves 2 GB below D1's 10 GB for what
 * arrives between two runs of the hourly cron (an hour at about 635 requests/s, at ~875 bytes per
 * stored event: README "Audit trail capacity").
 */
export const DEFAULT_DB_MAX_MB = 8_000;
/** Rounds of "measure, delete the excess" per run at most; the next run goes on if still over. */
export const SIZE_TRIM_MAX_ROUNDS = 8;

/**
 * @param setting the configured AUDIT_DB_MAX_MB (text): an integer number of MB (10^6 bytes),
 *        1..10,000; anything else means {@link DEFAULT_DB_MAX_MB}
 * @returns the bound in bytes
 */
export function dbMaxBytes(setting: string | undefined): number {
  const n = Number(setting);
  const valid =
    setting !== undefined && setting.trim() !== "" && Number.isInteger(n) && n >= 1 && n * BYTES_PER_MB <= D1_MAX_DATABASE_BYTES;
  return (valid ? n : DEFAULT_DB_MAX_MB) * BYTES_PER_MB;
}

/**
 * How many of the oldest request events the next round deletes.
 * @param sizeBytes  the database's size now (meta.size_after), bytes
 * @param maxBytes   the bound, bytes
 * @param bytesPerRow what deleting one request event freed in the last round, bytes (the first round
 *        deletes one chunk to learn it)
 * @param rowsLeft   request events still stored, when known (else Number.MAX_SAFE_INTEGER)
 * @returns 0 when the size is within the bound (or nothing can be deleted), else
 *          ⌈(sizeBytes − maxBytes) / bytesPerRow⌉, at most rowsLeft
 */
export function rowsToTrim(sizeBytes: number, maxBytes: number, bytesPerRow: number, rowsLeft: number): number {
  if (!(sizeBytes > maxBytes) || !(rowsLeft > 0)) return 0;
  if (!(bytesPerRow > 0) || !Number.isFinite(bytesPerRow)) return 0;
  return Math.min(rowsLeft, Math.ceil((sizeBytes - maxBytes) / bytesPerRow));
}

/**
 * Bytes freed per deleted row, observed over one round, or null when the round freed nothing visible
 * (no rows deleted, or a size that did not go down: the reported size then counts free pages, and
 * deleting more would not show either).
 */
export function freedPerRow(sizeBefore: number, sizeAfter: number, rowsDeleted: number): number | null {
  if (!(rowsDeleted > 0) || !(sizeAfter < sizeBefore)) return null;
  return (sizeBefore - sizeAfter) / rowsDeleted;
}

/**
 * Days of request events the database holds at a bound, for the README table.
 * @param maxBytes the bound, bytes
 * @param bytesPerEvent stored bytes per request event, indexes included
 * @param requestsPerSecond sustained rate (one event per request)
 */
export function windowDays(maxBytes: number, bytesPerEvent: number, requestsPerSecond: number): number {
  return maxBytes / bytesPerEvent / requestsPerSecond / 86_400;
}

/** The sustained request rate a bound holds for `days` of events (inverse of {@link windowDays}). */
export function sustainedRate(maxBytes: number, bytesPerEvent: number, days: number): number {
  return maxBytes / bytesPerEvent / (days * 86_400);
}
