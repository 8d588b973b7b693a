import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { applyRetention, databaseSize, deleteOldestEvents, newBudget, RETENTION_CHUNK_ROWS } from "../../src/audit/retention";
import { DEFAULT_DB_MAX_MB } from "../../src/audit/window";
import auditWorker from "../../src/audit-worker";

// The size rule of the retention cron (docs/audit.md "Retention") against the real D1 of this file
// (Miniflare's, which reports the pages in use as meta.size_after). Every test starts from empty tables.

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 30, 3, 17);
/** A user agent long enough that a few thousand rows make megabytes. */
const PADDING = "x".repeat(400);

/** Inserts `count` request events `prefix-0` … aged `ageDays`, the i-th i milliseconds later than the first. */
async function insertEvents(prefix: string, count: number, ageDays: number): Promise<void> {
  const first = NOW - ageDays * DAY;
  const statements = Array.from({ length: count }, (_, i) =>
    env.AUDIT_DB.prepare(
      `INSERT INTO audit_events (event_id, v, time, time_ms, request_id, outcome, reason, account_verified, method, host, path,
         path_length, status, duration_ms, source_ip_from, source_ip_asserted, forwarded_chain, forwarded_count, forwarded_for_length,
         user_agent, user_agent_length, truncated)
       VALUES (?, 1, ?, ?, ?, 'allowed', 'ok', 1, 'GET', 'api.spot-thought.com', '/', 1, 200, 1, 'none', 0, '[]', 0, 0, ?, 400, 0)`,
    ).bind(`${prefix}-${i}`, new Date(first + i).toISOString(), first + i, `req-${prefix}-${i}`, PADDING),
  );
  for (let i = 0; i < statements.length; i += 500) await env.AUDIT_DB.batch(statements.slice(i, i + 500));
}

async function insertAdminEvent(id: string, ageDays: number): Promise<void> {
  const t = NOW - ageDays * DAY;
  await env.AUDIT_DB.prepare(
    `INSERT INTO admin_audit_events (event_id, v, time, time_ms, request_id, action, outcome, reason, status, method, path, duration_ms, truncated)
     VALUES (?, 1, ?, ?, ?, 'key.create', 'allowed', 'ok', 201, 'POST', '/__spot/admin/v1/accounts/acct_1/keys', 3, 0)`,
  )
    .bind(id, new Date(t).toISOString(), t, `req-${id}`)
    .run();
}

/** Indexes (the i of `prefix-i`) of the request events left with that prefix, ascending. */
async function kept(prefix: string): Promise<number[]> {
  const { results } = await env.AUDIT_DB.prepare("SELECT event_id FROM audit_events WHERE event_id LIKE ?").bind(`${prefix}-%`).all<{
    event_id: string;
  }>();
  return results.map((r) => Number(r.event_id.slice(prefix.length + 1))).sort((a, b) => a - b);
}

/** The JSON log lines written to a console spy (console.warn: warn, console.error: error) with this `msg`. */
function logged(spy: ReturnType<typeof vi.spyOn>, msg: string): Record<string, unknown>[] {
  return spy.mock.calls
    .map((args: unknown[]) => {
      try {
        return JSON.parse(String(args[0])) as Record<string, unknown>;
      } catch {
        return {};
      }
    })
    .filter((line: Record<string, unknown>) => line.msg === msg);
}

beforeEach(async () => {
  await env.AUDIT_DB.batch([
    env.AUDIT_DB.prepare("DELETE FROM audit_events"),
    env.AUDIT_DB.prepare("DELETE FROM admin_audit_events"),
    env.AUDIT_DB.prepare("DELETE FROM audit_dead_letters"),
  ]);
});

afterEach(() => vi.restoreAllMocks());

describe("the size rule of the retention cron", () => {
  it("over the bound: deletes the oldest request events first, keeps the newest, and logs audit_trimmed_for_size", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const warnings = vi.spyOn(console, "warn").mockImplementation(() => {});
    await insertAdminEvent("admin-oldest", 30);
    await insertEvents("old", 4000, 10);
    await insertEvents("new", 1000, 1);
    const sizeBefore = (await databaseSize(env.AUDIT_DB)) ?? 0;
    const bound = Math.floor(sizeBefore * 0.5);

    const result = await applyRetention(env.AUDIT_DB, 90, NOW, bound);

    // Nothing was past the age rule; the size rule deleted a prefix of the oldest events only.
    expect(result.eventsDeleted).toBe(0);
    // More than the first round's one chunk: later rounds delete what the first one showed is still too much.
    expect(result.trimmedForSize).toBeGreaterThan(RETENTION_CHUNK_ROWS);
    expect(result.sizeBeforeTrimBytes).toBe(sizeBefore);
    expect(result.sizeAfterBytes).toBeLessThanOrEqual(bound);
    expect(result.sizeAfterBytes).toBe(await databaseSize(env.AUDIT_DB));
    const oldKept = await kept("old");
    expect(oldKept.length).toBe(4000 - result.trimmedForSize);
    expect(oldKept[0]).toBe(result.trimmedForSize); // old-0 … old-(n−1) went, the rest stayed
    expect((await kept("new")).length).toBe(1000);
    // Admin events are never trimmed for size, however old.
    const admin = await env.AUDIT_DB.prepare("SELECT count(*) AS n FROM admin_audit_events").first<{ n: number }>();
    expect(admin?.n).toBe(1);

    const lines = logged(warnings, "audit_trimmed_for_size");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: "warn",
      rows_deleted: result.trimmedForSize,
      oldest_kept: new Date(NOW - 10 * DAY + result.trimmedForSize).toISOString(),
      window_days: 10,
      retention_days: 90,
      size_before_bytes: sizeBefore,
      size_after_bytes: result.sizeAfterBytes,
      max_bytes: bound,
      more: false,
    });
    expect(logged(errors, "audit_db_size_bound_unreachable")).toEqual([]);
  });

  it("within a generous bound: only the age rule deletes, and nothing is logged as trimmed", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});
    const warnings = vi.spyOn(console, "warn").mockImplementation(() => {});
    await insertEvents("aged", 200, 8);
    await insertEvents("young", 300, 6);
    const result = await applyRetention(env.AUDIT_DB, 7, NOW, DEFAULT_DB_MAX_MB * 1_000_000);
    expect(result).toMatchObject({ eventsDeleted: 200, trimmedForSize: 0, more: false });
    expect(result.sizeAfterBytes).toBe(result.sizeBeforeTrimBytes);
    expect(await kept("aged")).toEqual([]);
    expect((await kept("young")).length).toBe(300);
    expect(logged(warnings, "audit_trimmed_for_size")).toEqual([]);
  });

  it("runs from the audit Worker's scheduled handler with AUDIT_DB_MAX_MB (MB = 10^6 bytes)", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(console, "warn").mockImplementation(() => {});
    await insertEvents("cron", 3000, 2);
    expect(await databaseSize(env.AUDIT_DB)).toBeGreaterThan(1_000_000);
    await auditWorker.scheduled(createScheduledController({ scheduledTime: NOW, cron: "17 * * * *" }), { ...env, AUDIT_DB_MAX_MB: "1" });
    expect(await databaseSize(env.AUDIT_DB)).toBeLessThanOrEqual(1_000_000);
    const left = await kept("cron");
    expect(left.length).toBeGreaterThan(0);
    expect(left[0]).toBe(3000 - left.length); // the newest stayed
    expect(left[left.length - 1]).toBe(2999);
  });

  it.each([["abc"], [""], ["0"], ["1.5"], ["10001"], [undefined]])(
    "AUDIT_DB_MAX_MB %j falls back to the default bound: nothing is trimmed beyond the age rule",
    async (setting) => {
      vi.spyOn(console, "log").mockImplementation(() => {});
      vi.spyOn(console, "error").mockImplementation(() => {});
      const warnings = vi.spyOn(console, "warn").mockImplementation(() => {});
      await insertEvents("lenient", 3000, 2);
      await auditWorker.scheduled(createScheduledController({ scheduledTime: NOW, cron: "17 * * * *" }), {
        ...env,
        AUDIT_DB_MAX_MB: setting as string,
      });
      expect((await kept("lenient")).length).toBe(3000);
      expect(logged(warnings, "audit_trimmed_for_size")).toEqual([]);
    },
  );

  it("a bound below what the other tables hold: every request event goes, admin events stay, and it is logged once", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(console, "warn").mockImplementation(() => {});
    await insertAdminEvent("admin-1", 3);
    await insertEvents("all", 1200, 2);
    const result = await applyRetention(env.AUDIT_DB, 90, NOW, 1000);
    expect(result.trimmedForSize).toBe(1200);
    expect(await kept("all")).toEqual([]);
    const admin = await env.AUDIT_DB.prepare("SELECT count(*) AS n FROM admin_audit_events").first<{ n: number }>();
    expect(admin?.n).toBe(1);
    const lines = logged(errors, "audit_db_size_bound_unreachable");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "error", max_bytes: 1000 });
    expect(String(lines[0]?.detail)).toContain("no request events left");
  });

  it("a reported size that does not go down after deletes (free pages counted): stops after one round instead of deleting on", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(console, "warn").mockImplementation(() => {});
    await insertEvents("file", 2000, 2);
    const real = (await databaseSize(env.AUDIT_DB)) ?? 0;
    // The same D1, but its size reads as the file's high-water mark: deletes never lower it.
    const fileSized = new Proxy(env.AUDIT_DB, {
      get(target, prop) {
        if (prop === "prepare") {
          return (sql: string) =>
            sql === "SELECT 1" ? { run: async () => ({ success: true, results: [], meta: { size_after: real } }) } : target.prepare(sql);
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as D1Database;
    const result = await applyRetention(fileSized, 90, NOW, Math.floor(real * 0.5));
    // One round (the first chunk, which shows what a delete frees: here nothing), not all 2,000.
    expect(result.trimmedForSize).toBe(RETENTION_CHUNK_ROWS);
    expect((await kept("file")).length).toBe(2000 - RETENTION_CHUNK_ROWS);
    const lines = logged(errors, "audit_db_size_bound_unreachable");
    expect(lines).toHaveLength(1);
    expect(String(lines[0]?.detail)).toContain("did not lower the size");
  });

  it("a D1 result without size_after: the size rule is skipped with a warning", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});
    const warnings = vi.spyOn(console, "warn").mockImplementation(() => {});
    await insertEvents("nosize", 100, 2);
    const sizeless = new Proxy(env.AUDIT_DB, {
      get(target, prop) {
        if (prop === "prepare") {
          return (sql: string) =>
            sql === "SELECT 1" ? { run: async () => ({ success: true, results: [], meta: {} }) } : target.prepare(sql);
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as D1Database;
    const result = await applyRetention(sizeless, 90, NOW, 1000);
    expect(result).toMatchObject({ trimmedForSize: 0, sizeBeforeTrimBytes: null, sizeAfterBytes: null });
    expect((await kept("nosize")).length).toBe(100);
    expect(logged(warnings, "audit_db_size_unknown")).toHaveLength(1);
  });

  it("deletes within the run's statement budget, oldest first, and says when it ran out", async () => {
    await insertEvents("budget", RETENTION_CHUNK_ROWS * 2 + 500, 2);
    const budget = newBudget(2);
    const done = await deleteOldestEvents(env.AUDIT_DB, RETENTION_CHUNK_ROWS * 3, budget);
    expect(done).toEqual({ deleted: RETENTION_CHUNK_ROWS * 2, more: true });
    expect(budget.statements).toBe(0);
    expect(budget.rowsWritten).toBeGreaterThanOrEqual(RETENTION_CHUNK_ROWS * 2);
    const left = await kept("budget");
    expect(left[0]).toBe(RETENTION_CHUNK_ROWS * 2);
  });
});
