/**
 * Structured logging: one JSON object per line on the Worker's log (Workers Logs / `wrangler tail`),
 * always with `level` and `msg`, and `request_id` wherever there is one. Never pass a secret or a
 * header value other than the capped ones of the audit event.
 */

/**
 * Writes `{ level, msg, ...fields }` as one JSON line, with the console method of its level (`info`:
 * console.log, `warn`: console.warn, `error`: console.error), so wrangler and Workers Logs show a
 * warning as a warning (`▲ [WARNING]`), not as `✘ [ERROR]`. Never throws.
 */
export function log(level: "error" | "warn" | "info", msg: string, fields: Record<string, unknown> = {}): void {
  let line: string;
  try {
    line = JSON.stringify({ level, msg, ...fields });
  } catch {
    // Keep what identifies the request, so the line still leads to it.
    const ids = { request_id: String(fields.request_id ?? ""), event_id: String(fields.event_id ?? "") };
    line = JSON.stringify({ level, msg, ...ids, log_error: "fields did not serialise" });
  }
  if (level === "info") console.log(line);
  else if (level === "warn") console.warn(line);
  else console.error(line);
}

/** The message of a thrown value, for a log field. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
