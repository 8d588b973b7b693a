/**
 * Audit retention (docs/audit.md "Retention"): the scheduled (cron) run keeps the D1 audit trail a
 * search window bounded by age and by size.
 *
 * 1. Age: audit events older than `AUDIT_RETENTION_DAYS`, and dead letters as old, are deleted.
 * 2. Size: when the database is still larger than `AUDIT_DB_MAX_MB` (src/audit/window.ts), the oldest
 *    request events are deleted until it is not, and one `audit_trimmed_for_size` line says the window
 *    is now shorter than the age rule's. Admin events and dead letters are never trimmed for size: they
 *    are few (one per admin request; failures) and are the record of who changed keys or searched the
 *    trail, and of what could not be stored.
 *
 * Everything is deleted in bounded chunks, oldest first, within one run's statement budget, so a run
 * never holds D1 (a single writer) for long and stays under the queries one invocation may make; what
 * is left is worked off by the next run (`more: true`).
 */
import { errorMessage, log } from "../log";
import { freedPerRow, rowsToTrim, SIZE_TRIM_MAX_ROUNDS } from "./window";

/** Rows deleted per statement. */
export const RETENTION_CHUNK_ROWS = 1000;
/**
 * D1 statements one run may spend on deletes, age and size together. D1 allows 1,000 queries per
 * Worker invocation (https://developers.cloudflare.com/d1/platform/limits/); the rest is headroom for
 * the size reads. At 1,000 rows a statement a run deletes up to 900,000 rows.
 */
export const RETENTION_MAX_STATEMENTS = 900;
/** Days kept when AUDIT_RETENTION_DAYS is absent or invalid. */
export const DEFAULT_RETENTION_DAYS = 90;

export interface RetentionResult {
  cutoffMs: number;
  eventsDeleted: number;
  deadLettersDeleted: number;
  /** Request events deleted by the size rule (0 when the database was within its bound). */
  trimmedForSize: number;
  /** The database's size after the age rule and after the size rule (meta.size_after, bytes); null if D1 did not say. */
  sizeBeforeTrimBytes: number | null;
  sizeAfterBytes: number | null;
  /** True when the statement budget ran out with rows still to delete (by age or for size). */
  more: boolean;
}

/**
 * @param days the configured AUDIT_RETENTION_DAYS (text), 1..3650; anything else means the default
 * @returns the retention in days
 */
export function retentionDays(days: string | undefined): number {
  const n = Number(days);
  return days !== undefined && days !== "" && Number.isInteger(n) && n >= 1 && n <= 3650 ? n : DEFAULT_RETENTION_DAYS;
}

/** One run's deletes: statements left (counted down), and what D1 reported for those done. */
export interface Budget {
  statements: number;
  /** Rows written by the deletes, index entries included (`meta.rows_written`: what D1 bills). */
  rowsWritten: number;
  /** D1's own time for the deletes, milliseconds (`meta.duration`). */
  d1Ms: number;
}

/** A fresh budget of `statements` deletes. */
export function newBudget(statements = RETENTION_MAX_STATEMENTS): Budget {
  return { statements, rowsWritten: 0, d1Ms: 0 };
}

/** Runs one chunked delete (`?1` = the cutoff or nothing, the last `?` = chunk rows) until fewer than a chunk go or the budget ends. */
async function deleteInChunks(
  db: D1Database,
  sql: string,
  params: readonly (number | string)[],
  budget: Budget,
  maxRows = Number.POSITIVE_INFINITY,
): Promise<{ deleted: number; more: boolean }> {
  let deleted = 0;
  while (deleted < maxRows) {
    if (budget.statements <= 0) return { deleted, more: true };
    budget.statements--;
    const chunk = Math.min(RETENTION_CHUNK_ROWS, maxRows - deleted);
    const result = await db
      .prepare(sql)
      .bind(...params, chunk)
      .run();
    const changes = result.meta.changes ?? 0;
    budget.rowsWritten += result.meta.rows_written ?? 0;
    budget.d1Ms += result.meta.duration ?? 0;
    deleted += changes;
    if (changes < chunk) return { deleted, more: false };
  }
  return { deleted, more: false };
}

/**
 * The database's size in bytes as D1 reports it after a read (`meta.size_after`), or null when the
 * result does not carry a usable one.
 */
export async function databaseSize(db: D1Database): Promise<number | null> {
  const result = await db.prepare("SELECT 1").run();
  const size = result.meta.size_after;
  return typeof size === "number" && Number.isFinite(size) && size >= 0 ? size : null;
}

/**
 * Deletes up to `rows` of the oldest request events (by `time_ms`, then rowid), in chunks, within the budget.
 * @returns how many were deleted, and whether the budget ended first
 */
export async function deleteOldestEvents(db: D1Database, rows: number, budget: Budget = newBudget()) {
  return await deleteInChunks(
    db,
    "DELETE FROM audit_events WHERE rowid IN (SELECT rowid FROM audit_events ORDER BY time_ms LIMIT ?)",
    [],
    budget,
    rows,
  );
}

interface SizeTrim {
  deleted: number;
  sizeBefore: number | null;
  sizeAfter: number | null;
  more: boolean;
}

/**
 * The size rule: deletes the oldest request events while the database is over `maxBytes`, in rounds
 * of "read the size, delete what is too much" (src/audit/window.ts), and logs it. The first round
 * deletes one chunk to learn what a deleted event frees (cheaper than counting millions of rows).
 * @param nowMs the scheduled time and `days` the age rule's retention: for the log line
 */
async function trimForSize(db: D1Database, maxBytes: number, nowMs: number, days: number, budget: Budget): Promise<SizeTrim> {
  const sizeBefore = await databaseSize(db);
  if (sizeBefore === null) {
    log("warn", "audit_db_size_unknown", { detail: "D1 reported no size_after; the size rule was skipped" });
    return { deleted: 0, sizeBefore, sizeAfter: null, more: false };
  }
  if (sizeBefore <= maxBytes) return { deleted: 0, sizeBefore, sizeAfter: sizeBefore, more: false };

  let size = sizeBefore;
  let bytesPerRow: number | null = null;
  let deleted = 0;
  let more = false;
  let exhausted = false;
  let unreclaimed = false;
  for (let round = 0; round < SIZE_TRIM_MAX_ROUNDS && size > maxBytes; round++) {
    const want = bytesPerRow === null ? RETENTION_CHUNK_ROWS : rowsToTrim(size, maxBytes, bytesPerRow, Number.MAX_SAFE_INTEGER);
    if (want === 0) break;
    const done = await deleteOldestEvents(db, want, budget);
    deleted += done.deleted;
    const after = (await databaseSize(db)) ?? size;
    const freed = freedPerRow(size, after, done.deleted);
    size = after;
    if (done.more) {
      more = true;
      break;
    }
    if (done.deleted < want) {
      exhausted = true;
      break;
    }
    if (freed === null) {
      unreclaimed = true;
      break;
    }
    bytesPerRow = freed;
  }
  if (size > maxBytes) {
    if (exhausted || unreclaimed) {
      log("error", "audit_db_size_bound_unreachable", {
        size_bytes: size,
        max_bytes: maxBytes,
        detail: unreclaimed
          ? "deleting request events did not lower the size D1 reports; new rows reuse the freed pages"
          : "no request events left to delete: admin events and dead letters fill the bound",
      });
    } else {
      more = true; // rounds or budget ran out: the next run goes on
    }
  }
  if (deleted > 0) {
    const oldest = await db.prepare("SELECT min(time_ms) AS t FROM audit_events").first<{ t: number | null }>();
    const oldestKeptMs = oldest?.t ?? null;
    log("warn", "audit_trimmed_for_size", {
      rows_deleted: deleted,
      oldest_kept: oldestKeptMs === null ? null : new Date(oldestKeptMs).toISOString(),
      window_days: oldestKeptMs === null ? 0 : Math.round(((nowMs - oldestKeptMs) / 86_400_000) * 100) / 100,
      retention_days: days,
      size_before_bytes: sizeBefore,
      size_after_bytes: size,
      max_bytes: maxBytes,
      more,
    });
  }
  return { deleted, sizeBefore, sizeAfter: size, more };
}

/**
 * Applies the age rule, then the size rule.
 * @param days     retention in days (AUDIT_RETENTION_DAYS, read with {@link retentionDays})
 * @param maxBytes size bound in bytes (AUDIT_DB_MAX_MB, read with `dbMaxBytes`), or null for none
 * @param nowMs    the scheduled time, epoch milliseconds
 * @throws the D1 error, after logging it (`audit_retention_failed`); the next scheduled run repeats the work
 */
export async function applyRetention(
  db: D1Database,
  days: number,
  nowMs: number,
  maxBytes: number | null = null,
): Promise<RetentionResult> {
  const cutoffMs = nowMs - days * 86_400_000;
  const budget = newBudget();
  try {
    const events = await deleteInChunks(
      db,
      "DELETE FROM audit_events WHERE rowid IN (SELECT rowid FROM audit_events WHERE time_ms < ? ORDER BY time_ms LIMIT ?)",
      [cutoffMs],
      budget,
    );
    const letters = await deleteInChunks(
      db,
      "DELETE FROM audit_dead_letters WHERE rowid IN (SELECT rowid FROM audit_dead_letters WHERE received_at < ? ORDER BY received_at LIMIT ?)",
      [new Date(cutoffMs).toISOString()],
      budget,
    );
    const size: SizeTrim =
      maxBytes === null || events.more
        ? { deleted: 0, sizeBefore: null, sizeAfter: null, more: false }
        : await trimForSize(db, maxBytes, nowMs, days, budget);
    const result: RetentionResult = {
      cutoffMs,
      eventsDeleted: events.deleted,
      deadLettersDeleted: letters.deleted,
      trimmedForSize: size.deleted,
      sizeBeforeTrimBytes: size.sizeBefore,
      sizeAfterBytes: size.sizeAfter,
      more: events.more || letters.more || size.more,
    };
    log("info", "audit_retention", {
      cutoff: new Date(cutoffMs).toISOString(),
      events_deleted: result.eventsDeleted,
      dead_letters_deleted: result.deadLettersDeleted,
      trimmed_for_size: result.trimmedForSize,
      size_bytes: result.sizeAfterBytes,
      max_bytes: maxBytes,
      rows_written: budget.rowsWritten,
      d1_ms: Math.round(budget.d1Ms),
      more: result.more,
    });
    return result;
  } catch (err) {
    log("error", "audit_retention_failed", { error: errorMessage(err) });
    throw err;
  }
}
