import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { applyRetention, DEFAULT_RETENTION_DAYS, RETENTION_CHUNK_ROWS, retentionDays } from "../../src/audit/retention";
import auditWorker from "../../src/audit-worker";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 30, 3, 17);

async function insertEvents(prefix: string, count: number, ageDays: number): Promise<void> {
  const statements = Array.from({ length: count }, (_, i) =>
    env.AUDIT_DB.prepare(
      `INSERT INTO audit_events (event_id, v, time, time_ms, request_id, outcome, reason, account_verified, method, host, path,
         path_length, status, duration_ms, source_ip_from, source_ip_asserted, forwarded_chain, forwarded_count, forwarded_for_length,
         user_agent_length, truncated)
       VALUES (?, 1, ?, ?, ?, 'allowed', 'ok', 1, 'GET', 'api.spot-thought.com', '/', 1, 200, 1, 'none', 0, '[]', 0, 0, 0, 0)`,
    ).bind(`${prefix}-${i}`, new Date(NOW - ageDays * DAY).toISOString(), NOW - ageDays * DAY, `req-${prefix}-${i}`),
  );
  for (let i = 0; i < statements.length; i += 500) await env.AUDIT_DB.batch(statements.slice(i, i + 500));
}

async function countLike(prefix: string): Promise<number> {
  const row = await env.AUDIT_DB.prepare("SELECT count(*) AS n FROM audit_events WHERE event_id LIKE ?")
    .bind(`${prefix}%`)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

afterEach(() => vi.restoreAllMocks());

describe("audit retention", () => {
  it("deletes rows older than the retention, keeps the rest, in chunks", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    await insertEvents("old", RETENTION_CHUNK_ROWS + 5, 91);
    await insertEvents("new", 3, 89);
    const result = await applyRetention(env.AUDIT_DB, 90, NOW);
    expect(result).toMatchObject({ eventsDeleted: RETENTION_CHUNK_ROWS + 5, more: false });
    expect(await countLike("old")).toBe(0);
    expect(await countLike("new")).toBe(3);
  });

  it("deletes old dead letters too", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    const insert = (id: string, ageDays: number) =>
      env.AUDIT_DB.prepare(
        "INSERT INTO audit_dead_letters (queue, message_id, received_at, attempts, reason, body, body_length) VALUES ('q', ?, ?, 1, 'r', '{}', 2)",
      )
        .bind(id, new Date(NOW - ageDays * DAY).toISOString())
        .run();
    await insert("dl-old", 100);
    await insert("dl-new", 1);
    const result = await applyRetention(env.AUDIT_DB, 90, NOW);
    expect(result.deadLettersDeleted).toBe(1);
    const { results } = await env.AUDIT_DB.prepare("SELECT message_id FROM audit_dead_letters WHERE message_id LIKE 'dl-%'").all();
    expect(results).toEqual([{ message_id: "dl-new" }]);
  });

  it("runs from the audit Worker's scheduled handler with AUDIT_RETENTION_DAYS", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    await insertEvents("cron-old", 2, 8);
    await insertEvents("cron-new", 2, 6);
    await auditWorker.scheduled(createScheduledController({ scheduledTime: NOW, cron: "17 3 * * *" }), {
      ...env,
      AUDIT_RETENTION_DAYS: "7",
    });
    expect(await countLike("cron-old")).toBe(0);
    expect(await countLike("cron-new")).toBe(2);
  });

  it.each([
    [undefined, DEFAULT_RETENTION_DAYS],
    ["", DEFAULT_RETENTION_DAYS],
    ["0", DEFAULT_RETENTION_DAYS],
    ["1.5", DEFAULT_RETENTION_DAYS],
    ["abc", DEFAULT_RETENTION_DAYS],
    ["30", 30],
  ])("AUDIT_RETENTION_DAYS %j → %i days", (value, days) => {
    expect(retentionDays(value)).toBe(days);
  });
});
