/**
 * The last use of each key (docs/audit.md "Last used", migration 0008): written by the consumer in the
 * same D1 batch as the events, against the real D1 of workerd.
 *
 * All tests of this file share one D1: each uses its own account.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { buildAdminAuditEvent } from "../../src/audit/admin-event";
import { AUDIT_QUEUE_NAME, consumeAuditBatch } from "../../src/audit/consumer";
import { type AuditEvent, buildAuditEvent } from "../../src/audit/event";
import { lastUseOf, SELECT_LAST_USE_SQL, UPSERT_LAST_USED_SQL } from "../../src/audit/last-used";
import type { AnyAuditEvent } from "../../src/audit/producer";
import { sampleAuditInput } from "../helpers/audit";

const T0 = Date.UTC(2026, 11, 6, 10, 0, 0, 0);

/** An allowed request of `account`/`key` at T0 + `offsetMs` from `ip`. */
function use(account: string, key: string, id: string, offsetMs: number, ip: string, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    ...buildAuditEvent(
      sampleAuditInput({ eventId: id, requestId: `req-${id}`, timeMs: T0 + offsetMs, accountId: account, keyId: key, connectingIp: ip }),
    ),
    ...overrides,
  };
}

let messageSeq = 0;
function message(events: AnyAuditEvent[], attempts = 1, id = `msg-lu-${++messageSeq}`) {
  return { id, timestamp: new Date(T0), attempts, body: { v: 1, events } };
}

async function run(messages: ReturnType<typeof message>[], target: Env = env) {
  const batch = createMessageBatch<unknown>(AUDIT_QUEUE_NAME, messages);
  const ctx = createExecutionContext();
  await consumeAuditBatch(batch, target);
  return getQueueResult(batch, ctx);
}

async function rows(account: string) {
  const { results } = await env.AUDIT_DB.prepare(
    "SELECT key_id, last_used_at, last_used_ms, last_used_ip, request_id FROM key_last_used WHERE account_id = ? ORDER BY key_id",
  )
    .bind(account)
    .all<Record<string, unknown>>();
  return results;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("key_last_used", () => {
  it("keeps one row per key after a batch with several uses: the latest, with its IP and request id", async () => {
    const result = await run([
      message([use("acct_lu1", "key_a", "lu1-a1", 1000, "203.0.113.1"), use("acct_lu1", "key_b", "lu1-b1", 500, "203.0.113.7")]),
      message([use("acct_lu1", "key_a", "lu1-a2", 3000, "203.0.113.3"), use("acct_lu1", "key_a", "lu1-a3", 2000, "203.0.113.2")]),
    ]);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(2);
    expect(await rows("acct_lu1")).toEqual([
      {
        key_id: "key_a",
        last_used_at: "2026-12-06T10:00:03.000Z",
        last_used_ms: T0 + 3000,
        last_used_ip: "203.0.113.3",
        request_id: "req-lu1-a2",
      },
      {
        key_id: "key_b",
        last_used_at: "2026-12-06T10:00:00.500Z",
        last_used_ms: T0 + 500,
        last_used_ip: "203.0.113.7",
        request_id: "req-lu1-b1",
      },
    ]);
  });

  it("of uses at the same millisecond keeps the later one in batch order", async () => {
    await run([
      message([use("acct_lu2", "key_a", "lu2-1", 0, "203.0.113.1")]),
      message([use("acct_lu2", "key_a", "lu2-2", 0, "203.0.113.2")]),
    ]);
    expect((await rows("acct_lu2")).map((r) => r.request_id)).toEqual(["req-lu2-2"]);
  });

  it("a later batch moves it forward; an older or redelivered batch never moves it back", async () => {
    const first = message([use("acct_lu3", "key_a", "lu3-1", 1000, "203.0.113.1")]);
    await run([first]);
    await run([message([use("acct_lu3", "key_a", "lu3-2", 5000, "203.0.113.5")])]);
    expect((await rows("acct_lu3")).map((r) => [r.request_id, r.last_used_ip])).toEqual([["req-lu3-2", "203.0.113.5"]]);

    // An older batch arriving late (delayed by retries), new events for D1.
    const late = await run([message([use("acct_lu3", "key_a", "lu3-0", 3000, "203.0.113.3")])]);
    expect(late.explicitAcks).toHaveLength(1);
    // The first batch redelivered (an ack lost).
    const again = await run([{ ...first, attempts: 2 }]);
    expect(again.explicitAcks).toEqual([first.id]);
    // The first batch replayed as new (a dead letter sent again): D1 sees it, the upsert still holds.
    await run([{ ...first, id: "msg-lu3-replay" }]);
    expect((await rows("acct_lu3")).map((r) => [r.request_id, r.last_used_ms])).toEqual([["req-lu3-2", T0 + 5000]]);
  });

  it("the upsert itself never moves a key back, whatever the consumer sends it", async () => {
    const upsert = (ms: number, request: string) =>
      env.AUDIT_DB.prepare(UPSERT_LAST_USED_SQL)
        .bind(JSON.stringify([["acct_lu4", "key_a", new Date(ms).toISOString(), ms, "203.0.113.1", request]]))
        .run();
    await upsert(T0 + 2000, "req-new");
    await upsert(T0 + 1000, "req-old");
    await upsert(T0 + 2000, "req-same-ms");
    expect((await rows("acct_lu4")).map((r) => r.request_id)).toEqual(["req-new"]);
    await upsert(T0 + 2001, "req-newer");
    expect((await rows("acct_lu4")).map((r) => r.request_id)).toEqual(["req-newer"]);
  });

  it("refused requests, admin events and events without a key do not count", async () => {
    const refused = (id: string, offset: number, reason: string, status: number, extra: Partial<AuditEvent> = {}) =>
      use("acct_lu5", "key_a", id, offset, "198.51.100.66", { outcome: "denied", reason, status, ...extra });
    const admin = buildAdminAuditEvent({
      eventId: "lu5-admin",
      timeMs: T0 + 9000,
      requestId: "req-lu5-admin",
      rayId: null,
      action: "key.get",
      outcome: "allowed",
      reason: "ok",
      status: 200,
      actorSub: "ops@spot-thought.test",
      actorEmail: null,
      accountId: "acct_lu5",
      keyId: "key_a",
      newKeyId: null,
      method: "GET",
      path: "/__spot/admin/v1/accounts/acct_lu5/keys/key_a",
      connectingIp: "198.51.100.99",
      userAgent: "spot-keys/0.1",
      durationMs: 3,
    });
    const result = await run([
      message([
        use("acct_lu5", "key_a", "lu5-ok", 1000, "203.0.113.1"),
        refused("lu5-401", 8000, "invalid_credentials", 401, { account_verified: false, key_id: null }),
        refused("lu5-403", 8001, "ip_not_allowed", 403),
        refused("lu5-429", 8002, "rate_limited", 429),
        use("acct_lu5", "key_a", "lu5-503", 8003, "198.51.100.66", { outcome: "error", reason: "authorizer_unavailable", status: 503 }),
        use("acct_lu5", "key_b", "lu5-nokey", 8004, "198.51.100.66", { key_id: null }),
        admin,
      ]),
    ]);
    expect(result.explicitAcks).toHaveLength(1);
    expect((await rows("acct_lu5")).map((r) => [r.key_id, r.request_id])).toEqual([["key_a", "req-lu5-ok"]]);
  });

  it("a request forwarded to an origin that failed counts", async () => {
    await run([
      message([
        use("acct_lu6", "key_a", "lu6-ok", 1000, "203.0.113.1"),
        use("acct_lu6", "key_a", "lu6-502", 2000, "203.0.113.2", { outcome: "error", reason: "upstream_unavailable", status: 502 }),
      ]),
    ]);
    expect((await rows("acct_lu6")).map((r) => r.request_id)).toEqual(["req-lu6-502"]);
  });

  it("D1 failing: nothing is acked, the batch is retried, and the retry writes the last use", async () => {
    const real = env.AUDIT_DB;
    const failingEnv = {
      ...env,
      AUDIT_DB: {
        prepare: (sql: string) => real.prepare(sql),
        batch: async () => {
          throw new Error("D1_ERROR: database unavailable");
        },
      } as unknown as D1Database,
    };
    const msg = message([use("acct_lu7", "key_a", "lu7-1", 1000, "203.0.113.1")]);
    const failed = await run([msg], failingEnv);
    expect(failed.explicitAcks).toEqual([]);
    expect(failed.retryMessages.map((r) => r.msgId)).toEqual([msg.id]);
    expect(await rows("acct_lu7")).toEqual([]);

    const retried = await run([{ ...msg, attempts: 2 }]);
    expect(retried.explicitAcks).toEqual([msg.id]);
    expect((await rows("acct_lu7")).map((r) => r.request_id)).toEqual(["req-lu7-1"]);
  });

  it("costs no extra D1 round trip: the upsert rides in the events' batch", async () => {
    const batchSpy = vi.spyOn(env.AUDIT_DB, "batch");
    const prepareSpy = vi.spyOn(env.AUDIT_DB, "prepare");
    await run([message([use("acct_lu8", "key_a", "lu8-1", 1000, "203.0.113.1"), use("acct_lu8", "key_b", "lu8-2", 1000, "203.0.113.1")])]);
    expect(batchSpy).toHaveBeenCalledTimes(1);
    // One message of one hour: its INSERT, then the one upsert of both keys.
    expect(batchSpy.mock.calls[0]?.[0]).toHaveLength(2);
    expect(prepareSpy.mock.calls.filter(([sql]) => sql === UPSERT_LAST_USED_SQL)).toHaveLength(1);
    expect((await rows("acct_lu8")).map((r) => r.key_id)).toEqual(["key_a", "key_b"]);
  });

  it("a batch without uses writes no upsert", async () => {
    const prepareSpy = vi.spyOn(env.AUDIT_DB, "prepare");
    await run([message([use("acct_lu9", "key_a", "lu9-1", 0, "203.0.113.1", { outcome: "denied", reason: "rate_limited", status: 429 })])]);
    expect(prepareSpy.mock.calls.filter(([sql]) => sql === UPSERT_LAST_USED_SQL)).toHaveLength(0);
    expect(await rows("acct_lu9")).toEqual([]);
  });
});

describe("lastUseOf", () => {
  it("reads every key of one account, and only of that account", async () => {
    await run([
      message([
        use("acct_lu10", "key_a", "lu10-a", 1000, "203.0.113.1"),
        use("acct_lu10", "key_b", "lu10-b", 2000, "2001:db8::1"),
        use("acct_lu11", "key_a", "lu11-a", 3000, "203.0.113.9"),
      ]),
    ]);
    const uses = await lastUseOf(env.AUDIT_DB, "acct_lu10");
    expect(Object.fromEntries(uses)).toEqual({
      key_a: { last_used_at: "2026-12-06T10:00:01.000Z", last_used_ip: "203.0.113.1", request_id: "req-lu10-a" },
      key_b: { last_used_at: "2026-12-06T10:00:02.000Z", last_used_ip: "2001:db8::1", request_id: "req-lu10-b" },
    });
    expect((await lastUseOf(env.AUDIT_DB, "acct_none")).size).toBe(0);
  });

  it("searches the primary key, never scans the table", async () => {
    const { results } = await env.AUDIT_DB.prepare(`EXPLAIN QUERY PLAN ${SELECT_LAST_USE_SQL}`).bind("acct_lu10").all<{ detail: string }>();
    expect(results.map((r) => r.detail)).toEqual(["SEARCH key_last_used USING PRIMARY KEY (account_id=?)"]);
  });

  it("rejects when D1 does", async () => {
    const db = {
      prepare: () => {
        throw new Error("D1_ERROR: database unavailable");
      },
    } as unknown as D1Database;
    await expect(lastUseOf(db, "acct_lu10")).rejects.toThrow("database unavailable");
  });
});
