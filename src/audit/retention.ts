/**
 * Audit retention (docs/audit.md "Retention"): a scheduled (cron) run deletes audit rows older than
 * `AUDIT_RETENTION_DAYS` in bounded chunks, so one run never holds D1 for long and a large backlog
 * is worked off over several runs.
 */
import { errorMessage, log } from "../log";

/** Rows deleted per statement. */
export const RETENTION_CHUNK_ROWS = 1000;
/** Statements per table per run at most (so one run deletes at most 50,000 rows per table). */
export const RETENTION_MAX_CHUNKS = 50;
/** Days kept when AUDIT_RETENTION_DAYS is absent or invalid. */
export const DEFAULT_RETENTION_DAYS = 90;

export interface RetentionResult {
  cutoffMs: number;
  eventsDeleted: number;
  deadLettersDeleted: number;
  /** True when a table still had old rows when the chunk budget ran out. */
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

async function deleteOlder(db: D1Database, sql: string, cutoff: number | string): Promise<{ deleted: number; more: boolean }> {
  let deleted = 0;
  for (let chunk = 0; chunk < RETENTION_MAX_CHUNKS; chunk++) {
    const result = await db.prepare(sql).bind(cutoff, RETENTION_CHUNK_ROWS).run();
    const changes = result.meta.changes ?? 0;
    deleted += changes;
    if (changes < RETENTION_CHUNK_ROWS) return { deleted, more: false };
  }
  return { deleted, more: true };
}

/**
 * Deletes audit events (by `time_ms`) and dead letters (by `received_at`) older than the retention.
 * @param nowMs the scheduled time, epoch milliseconds
 * @throws the D1 error, after logging it; the cron run is then retried by the next schedule
 */
export async function applyRetention(db: D1Database, days: number, nowMs: number): Promise<RetentionResult> {
  const cutoffMs = nowMs - days * 86_400_000;
  try {
    const events = await deleteOlder(
      db,
      "DELETE FROM audit_events WHERE rowid IN (SELECT rowid FROM audit_events WHERE time_ms < ? ORDER BY time_ms LIMIT ?)",
      cutoffMs,
    );
    const letters = await deleteOlder(
      db,
      "DELETE FROM audit_dead_letters WHERE rowid IN (SELECT rowid FROM audit_dead_letters WHERE received_at < ? ORDER BY received_at LIMIT ?)",
      new Date(cutoffMs).toISOString(),
    );
    const result = { cutoffMs, eventsDeleted: events.deleted, deadLettersDeleted: letters.deleted, more: events.more || letters.more };
    log("info", "audit_retention", {
      cutoff: new Date(cutoffMs).toISOString(),
      events_deleted: result.eventsDeleted,
      dead_letters_deleted: result.deadLettersDeleted,
      more: result.more,
    });
    return result;
  } catch (err) {
    log("error", "audit_retention_failed", { error: errorMessage(err) });
    throw err;
  }
}
