import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type AdminAuditEvent, type AdminAuditInput, buildAdminAuditEvent } from "../../src/audit/admin-event";
import { AUDIT_EVENT_COLUMNS } from "../../src/audit/columns";
import {
  AUDIT_DLQ_NAME,
  AUDIT_QUEUE_NAME,
  consumeAuditBatch,
  DEAD_LETTER_BODY_MAX_BYTES,
  DLQ_REASON,
  parseAuditMessage,
  retryDelaySeconds,
} from "../../src/audit/consumer";
import { type AuditEvent, buildAuditEvent } from "../../src/audit/event";
import { type AuditMessage, AuditMessageSchema, auditMessageText } from "../../src/audit/producer";

// All tests of this file share one D1: every test uses its own id prefix.

function event(id: string, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    ...buildAuditEvent({
      eventId: id,
      timeMs: Date.UTC(2025, 5, 1, 12, 0, 0, 250),
      requestId: `req-${id}`,
      rayId: "8f1e2d3c4b5a6978-FRA",
      outcome: "allowed",
      reason: "ok",
      accountId: "acct_123",
      accountVerified: true,
      keyId: "key_1",
      mode: "live",
      requestedVersion: "2024-06-01",
      resolvedVersion: "2024-06-01",
      origin: "https://v2024-06-01.origin.test",
      method: "GET",
      host: "api.spot-thought.com",
      path: "/v1/charges",
      status: 200,
      durationMs: 15,
      connectingIp: "198.51.100.23",
      sourceIp: "203.0.113.9",
      sourceIpFrom: "x-forwarded-for",
      forwarded: {
        raw: "203.0.113.9:51234",
        rawLength: 17,
        entries: [{ raw: "203.0.113.9:51234", ip: "203.0.113.9", port: 51234, valid: true }],
        count: 1,
      },
      userAgent: "Büro-Sync/2.1 \u00ff",
      country: "DE",
      colo: "FRA",
      forgedHeaders: ["x-spot-account-id"],
    }),
    ...overrides,
  };
}

function message(id: string, body: unknown, attempts = 1) {
  return { id, timestamp: new Date(Date.UTC(2025, 5, 1, 12, 0, 1)), attempts, body };
}

function eventMessage(id: string, attempts = 1) {
  return message(`msg-${id}`, { v: 1, events: [event(id)] } satisfies AuditMessage, attempts);
}

async function run(queue: string, messages: ReturnType<typeof message>[], target: Env = env) {
  const batch = createMessageBatch<unknown>(queue, messages);
  const ctx = createExecutionContext();
  await consumeAuditBatch(batch, target);
  return { batch, result: await getQueueResult(batch, ctx) };
}

async function eventRows(prefix: string) {
  const { results } = await env.AUDIT_DB.prepare("SELECT * FROM audit_events WHERE event_id LIKE ? ORDER BY event_id")
    .bind(`${prefix}%`)
    .all<Record<string, unknown>>();
  return results;
}

async function deadLetters(prefix: string) {
  const { results } = await env.AUDIT_DB.prepare("SELECT * FROM audit_dead_letters WHERE message_id LIKE ? ORDER BY message_id")
    .bind(`${prefix}%`)
    .all<Record<string, unknown>>();
  return results;
}

/** An AUDIT_DB whose batch always fails, as D1 does when it is unavailable. */
function failingEnv(): Env {
  const real = env.AUDIT_DB;
  const failingDb = {
    prepare: (sql: string) => real.prepare(sql),
    batch: async () => {
      throw new Error("D1_ERROR: database unavailable");
    },
  } as unknown as D1Database;
  return { ...env, AUDIT_DB: failingDb };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("spot-audit-events", () => {
  it("stores every event of a valid batch and acks every message", async () => {
    const { result } = await run(AUDIT_QUEUE_NAME, [eventMessage("ok-1"), eventMessage("ok-2"), eventMessage("ok-3")]);
    expect([...result.explicitAcks].sort()).toEqual(["msg-ok-1", "msg-ok-2", "msg-ok-3"]);
    expect(result.retryMessages).toEqual([]);
    expect(result.ackAll).toBe(false);

    const rows = await eventRows("ok-");
    expect(rows.map((r) => r.event_id)).toEqual(["ok-1", "ok-2", "ok-3"]);
    const row = rows[0] ?? {};
    expect(row).toMatchObject({
      v: 1,
      time: "2025-06-01T12:00:00.250Z",
      time_ms: Date.UTC(2025, 5, 1, 12, 0, 0, 250),
      request_id: "req-ok-1",
      outcome: "allowed",
      account_id: "acct_123",
      account_verified: 1,
      source_ip: "203.0.113.9",
      source_ip_asserted: 1,
      connecting_ip: "198.51.100.23",
      user_agent: "Büro-Sync/2.1 \u00ff",
      user_agent_length: 15,
      forwarded_count: 1,
      forged_headers_count: 1,
      truncated: 0,
    });
    expect(JSON.parse(String(row.forged_headers))).toEqual(["x-spot-account-id"]);
    expect(JSON.parse(String(row.forwarded_chain))).toEqual([{ raw: "203.0.113.9:51234", ip: "203.0.113.9", port: 51234, valid: true }]);
    expect(typeof row.stored_at).toBe("string");
  });

  it("stores each event once when the same batch is delivered twice", async () => {
    const messages = [eventMessage("dup-1"), eventMessage("dup-2")];
    await run(AUDIT_QUEUE_NAME, messages);
    const { result } = await run(
      AUDIT_QUEUE_NAME,
      messages.map((m) => ({ ...m, attempts: 2 })),
    );
    expect([...result.explicitAcks].sort()).toEqual(["msg-dup-1", "msg-dup-2"]);
    const rows = await eventRows("dup-");
    expect(rows.map((r) => r.event_id)).toEqual(["dup-1", "dup-2"]);
  });

  it("stores every event of a message that carries several", async () => {
    const body: AuditMessage = { v: 1, events: [event("multi-1"), event("multi-2"), event("multi-1")] };
    const { result } = await run(AUDIT_QUEUE_NAME, [message("msg-multi", body)]);
    expect(result.explicitAcks).toEqual(["msg-multi"]);
    expect((await eventRows("multi-")).map((r) => r.event_id)).toEqual(["multi-1", "multi-2"]);
  });

  it("stores a message sent as the producer sends it (its JSON text) like the same message as an object", async () => {
    const text = auditMessageText([JSON.stringify(event("text-1")), event("text-2")]);
    const { result } = await run(AUDIT_QUEUE_NAME, [message("msg-text-a", text), eventMessage("text-3")]);
    expect([...result.explicitAcks].sort()).toEqual(["msg-text-3", "msg-text-a"]);
    expect(result.retryMessages).toEqual([]);
    expect((await eventRows("text-")).map((r) => r.event_id)).toEqual(["text-1", "text-2", "text-3"]);
    expect(parseAuditMessage(text)).toEqual(parseAuditMessage(JSON.parse(text)));
  });

  it("a text body that is not JSON, or JSON that is not a message, is poison", () => {
    expect(parseAuditMessage('{"v":1,"events":[')).toEqual({ ok: false, reason: "poison: the message body is text but not JSON" });
    const notMessage = parseAuditMessage(JSON.stringify({ v: 1, events: [] }));
    expect(notMessage.ok).toBe(false);
    expect(notMessage.ok ? "" : notMessage.reason).toMatch(/^poison: events: /);
  });

  it("dead-letters a poison message at once, acks it, and still stores the others", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const bad = { v: 1, events: [{ ...event("poison-x"), secret: "nope" }] };
    const { result } = await run(AUDIT_QUEUE_NAME, [
      eventMessage("poison-ok-1"),
      message("poison-msg-a", bad, 1),
      message("poison-msg-b", "not json at all", 3),
      message("poison-msg-c", { v: 2, events: [] }),
      eventMessage("poison-ok-2"),
    ]);
    expect([...result.explicitAcks].sort()).toEqual(["msg-poison-ok-1", "msg-poison-ok-2", "poison-msg-a", "poison-msg-b", "poison-msg-c"]);
    expect(result.retryMessages).toEqual([]);
    expect((await eventRows("poison-")).map((r) => r.event_id)).toEqual(["poison-ok-1", "poison-ok-2"]);

    const letters = await deadLetters("poison-msg-");
    expect(letters.map((l) => l.message_id)).toEqual(["poison-msg-a", "poison-msg-b", "poison-msg-c"]);
    for (const l of letters) {
      expect(l.queue).toBe(AUDIT_QUEUE_NAME);
      expect(String(l.reason)).toMatch(/^poison: /);
    }
    expect(String(letters[0]?.reason)).toContain("events.0");
    expect(JSON.parse(String(letters[0]?.body))).toEqual(bad);
    expect(letters[1]).toMatchObject({ body: "not json at all", attempts: 3, body_length: 15, enqueued_at: "2025-06-01T12:00:01.000Z" });
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('"msg":"audit_poison_message"'));
  });

  it("stores a redelivered poison message once", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    await run(AUDIT_QUEUE_NAME, [message("poison2-msg", { v: 1 })]);
    const { result } = await run(AUDIT_QUEUE_NAME, [message("poison2-msg", { v: 1 }, 2)]);
    expect(result.explicitAcks).toEqual(["poison2-msg"]);
    expect(await deadLetters("poison2-msg")).toHaveLength(1);
  });

  it("caps a huge poison body at 64 KB and records its full size", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const huge = "é".repeat(100_000); // 200,000 UTF-8 bytes
    await run(AUDIT_QUEUE_NAME, [message("poison3-msg", huge)]);
    const [letter] = await deadLetters("poison3-msg");
    expect(letter?.body_length).toBe(200_000);
    const stored = String(letter?.body);
    expect(new TextEncoder().encode(stored).byteLength).toBeLessThanOrEqual(DEAD_LETTER_BODY_MAX_BYTES);
    expect(stored).toBe("é".repeat(DEAD_LETTER_BODY_MAX_BYTES / 2));
  });

  it("retries every valid message with growing backoff and acks nothing when D1 fails", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const batch = createMessageBatch<unknown>(AUDIT_QUEUE_NAME, [
      eventMessage("fail-1", 1),
      eventMessage("fail-2", 2),
      eventMessage("fail-3", 4),
      eventMessage("fail-4", 10),
    ]);
    const retries = batch.messages.map((m) => vi.spyOn(m, "retry"));
    const ctx = createExecutionContext();
    await consumeAuditBatch(batch, failingEnv());
    const result = await getQueueResult(batch, ctx);

    expect(result.explicitAcks).toEqual([]);
    expect(result.ackAll).toBe(false);
    expect(result.retryMessages.map((r) => r.msgId)).toEqual(["msg-fail-1", "msg-fail-2", "msg-fail-3", "msg-fail-4"]);
    expect(retries.map((r) => r.mock.calls[0]?.[0])).toEqual([
      { delaySeconds: 5 },
      { delaySeconds: 10 },
      { delaySeconds: 40 },
      { delaySeconds: 300 },
    ]);
    expect(await eventRows("fail-")).toEqual([]);

    expect(errors).toHaveBeenCalledTimes(1);
    const line = JSON.parse(String(errors.mock.calls[0]?.[0]));
    expect(line).toMatchObject({
      level: "error",
      msg: "audit_d1_write_failed",
      queue: AUDIT_QUEUE_NAME,
      events: 4,
      error: "D1_ERROR: database unavailable",
    });
    expect(line.message_ids).toEqual(["msg-fail-1", "msg-fail-2", "msg-fail-3", "msg-fail-4"]);
  });

  it("retries a poison message when its dead letter cannot be written", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const batch = createMessageBatch<unknown>(AUDIT_QUEUE_NAME, [message("poison4-msg", 42, 3)]);
    const retry = vi.spyOn(batch.messages[0] as Message<unknown>, "retry");
    const ctx = createExecutionContext();
    await consumeAuditBatch(batch, failingEnv());
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual([]);
    expect(retry).toHaveBeenCalledWith({ delaySeconds: 20 });
    expect(await deadLetters("poison4-msg")).toEqual([]);
  });
});

describe("spot-audit-events-dlq", () => {
  it("stores every message in audit_dead_letters and acks it", async () => {
    const body = { v: 1, events: [event("dlq-e1")] };
    const { result } = await run(AUDIT_DLQ_NAME, [message("dlq-msg-1", body, 1), message("dlq-msg-2", "whatever", 1)]);
    expect([...result.explicitAcks].sort()).toEqual(["dlq-msg-1", "dlq-msg-2"]);
    const letters = await deadLetters("dlq-msg-");
    expect(letters).toHaveLength(2);
    expect(letters[0]).toMatchObject({ queue: AUDIT_DLQ_NAME, message_id: "dlq-msg-1", reason: DLQ_REASON, attempts: 1 });
    expect(JSON.parse(String(letters[0]?.body))).toEqual(body);
    expect(String(letters[0]?.received_at)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(letters[1]).toMatchObject({ body: "whatever", reason: DLQ_REASON });
    // The DLQ only records: the event itself is not written to audit_events.
    expect(await eventRows("dlq-e1")).toEqual([]);
  });

  it("retries with backoff when the dead letter cannot be written, logging the body on the last attempts", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const batch = createMessageBatch<unknown>(AUDIT_DLQ_NAME, [message("dlq2-msg-1", { a: 1 }, 2), message("dlq2-msg-2", { b: 2 }, 10)]);
    const retries = batch.messages.map((m) => vi.spyOn(m, "retry"));
    const ctx = createExecutionContext();
    await consumeAuditBatch(batch, failingEnv());
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual([]);
    expect(retries.map((r) => r.mock.calls[0]?.[0])).toEqual([{ delaySeconds: 10 }, { delaySeconds: 300 }]);
    const lines = errors.mock.calls.map((c) => JSON.parse(String(c[0])));
    expect(lines.map((l) => l.msg)).toEqual(["audit_dead_letter_write_failed", "audit_dead_letter_final_attempt_failed"]);
    expect(lines[1]).toMatchObject({ message_id: "dlq2-msg-2", body: '{"b":2}' });
    expect(await deadLetters("dlq2-")).toEqual([]);
  });
});

describe("the queues of a deployed environment (wrangler.audit.toml)", () => {
  it("spot-audit-events-production is an events queue: its events are stored", async () => {
    const { result } = await run("spot-audit-events-production", [eventMessage("prodq-1")]);
    expect(result.explicitAcks).toEqual(["msg-prodq-1"]);
    expect((await eventRows("prodq-")).map((r) => r.event_id)).toEqual(["prodq-1"]);
  });

  it("spot-audit-events-staging-dlq is a dead-letter queue: its messages are stored as dead letters, and logged on the last attempts", async () => {
    const { result } = await run("spot-audit-events-staging-dlq", [message("stgdlq-msg-1", { v: 1, events: [event("stgdlq-e1")] }, 1)]);
    expect(result.explicitAcks).toEqual(["stgdlq-msg-1"]);
    expect(await deadLetters("stgdlq-msg-")).toMatchObject([{ queue: "spot-audit-events-staging-dlq", reason: DLQ_REASON }]);
    expect(await eventRows("stgdlq-e1")).toEqual([]);

    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const batch = createMessageBatch<unknown>("spot-audit-events-staging-dlq", [message("stgdlq2-msg-1", { c: 3 }, 10)]);
    await consumeAuditBatch(batch, failingEnv());
    const lines = errors.mock.calls.map((c) => JSON.parse(String(c[0])));
    expect(lines.map((l) => l.msg)).toEqual(["audit_dead_letter_write_failed", "audit_dead_letter_final_attempt_failed"]);
  });
});

describe("other queues", () => {
  it("logs and acks without storing anything", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const { result } = await run("some-other-queue", [eventMessage("other-1")]);
    expect(result.explicitAcks).toEqual(["msg-other-1"]);
    expect(result.retryMessages).toEqual([]);
    expect(await eventRows("other-")).toEqual([]);
    expect(await deadLetters("msg-other-")).toEqual([]);
    expect(errors).toHaveBeenCalledTimes(1);
    expect(JSON.parse(String(errors.mock.calls[0]?.[0]))).toMatchObject({ msg: "audit_unknown_queue", queue: "some-other-queue" });
  });
});

describe("retryDelaySeconds", () => {
  it.each([
    [1, 5],
    [2, 10],
    [3, 20],
    [4, 40],
    [6, 160],
    [7, 300],
    [10, 300],
    [1000, 300],
    [0, 5],
    [Number.NaN, 5],
  ])("attempt %d waits %d s", (attempts, seconds) => {
    expect(retryDelaySeconds(attempts)).toBe(seconds);
  });
});

describe("folded events", () => {
  it("stores folded_count, and 0 for an event without it (messages from before the field)", async () => {
    const folded = event("fold-1", { outcome: "denied", reason: "invalid_credentials", status: 401, folded_count: 7 });
    const plain = event("fold-2");
    await run(AUDIT_QUEUE_NAME, [message("msg-fold", { v: 1, events: [folded, plain] } satisfies AuditMessage)]);
    const rows = await eventRows("fold-");
    expect(rows.map((r) => [r.event_id, r.folded_count])).toEqual([
      ["fold-1", 7],
      ["fold-2", 0],
    ]);
  });
});

describe("one statement per message", () => {
  it("stores a coalesced message of 100 events with one D1 statement", async () => {
    const events = Array.from({ length: 100 }, (_, i) => event(`many-${String(i).padStart(3, "0")}`));
    const prepares = vi.spyOn(env.AUDIT_DB, "prepare");
    await run(AUDIT_QUEUE_NAME, [message("msg-many", { v: 1, events } satisfies AuditMessage)]);
    expect(prepares.mock.calls.filter(([sql]) => String(sql).includes("INSERT OR IGNORE INTO audit_events "))).toHaveLength(1);
    const rows = await eventRows("many-");
    expect(rows).toHaveLength(100);
    expect(rows[0]).toMatchObject({ user_agent: "Büro-Sync/2.1 \u00ff", account_verified: 1, forwarded_count: 1 });
    expect(JSON.parse(String(rows[0]?.forwarded_chain))).toEqual([
      { raw: "203.0.113.9:51234", ip: "203.0.113.9", port: 51234, valid: true },
    ]);
  });
});

describe("admin events (kind: admin)", () => {
  function adminEvent(id: string): AdminAuditEvent {
    return buildAdminAuditEvent(adminInput(id));
  }

  function adminInput(id: string): AdminAuditInput {
    return {
      eventId: id,
      timeMs: Date.UTC(2026, 5, 1, 12, 0, 0, 500),
      requestId: `req-${id}`,
      rayId: null,
      action: "key.rotate",
      outcome: "allowed",
      reason: "ok",
      status: 200,
      actorSub: "ops@spot-thought.test",
      actorEmail: "ops@spot-thought.test",
      accountId: "acct_42",
      keyId: "key_old",
      newKeyId: "key_new",
      method: "POST",
      path: "/__spot/admin/v1/accounts/acct_42/keys/key_old/rotate?x=1",
      connectingIp: "198.51.100.23",
      userAgent: "spot-keys/0.1",
      durationMs: 12,
    };
  }

  it("go to admin_audit_events, next to request events of the same batch, idempotently", async () => {
    const mixed = message("admin-msg-1", { v: 1, events: [adminEvent("admin-ev-1"), event("admin-req-1")] });
    await run(AUDIT_QUEUE_NAME, [mixed]);
    const { result } = await run(AUDIT_QUEUE_NAME, [{ ...mixed, attempts: 2 }]);
    expect(result.explicitAcks).toEqual(["admin-msg-1"]);
    const { results } = await env.AUDIT_DB.prepare("SELECT * FROM admin_audit_events WHERE event_id LIKE 'admin-ev-%'").all<
      Record<string, unknown>
    >();
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({
      v: 1,
      action: "key.rotate",
      outcome: "allowed",
      actor_sub: "ops@spot-thought.test",
      account_id: "acct_42",
      key_id: "key_old",
      new_key_id: "key_new",
      path: "/__spot/admin/v1/accounts/acct_42/keys/key_old/rotate",
      status: 200,
      truncated: 0,
      time_ms: Date.UTC(2026, 5, 1, 12, 0, 0, 500),
    });
    expect((await eventRows("admin-req-")).map((r) => r.event_id)).toEqual(["admin-req-1"]);
  });

  it("keep the search parameters of an audit query in `query`; an event from before the field exists stores NULL", async () => {
    const search = buildAdminAuditEvent({
      ...adminInput("admin-q-1"),
      action: "audit.search",
      path: "/__spot/admin/v1/audit/events?account_id=acct_42",
      query: "account_id=acct_42&limit=50",
    });
    const { query: _dropped, ...older } = adminEvent("admin-q-2");
    await run(AUDIT_QUEUE_NAME, [message("admin-q-msg", { v: 1, events: [search, older] })]);
    const { results } = await env.AUDIT_DB.prepare(
      "SELECT event_id, action, path, query FROM admin_audit_events WHERE event_id LIKE 'admin-q-%' ORDER BY event_id",
    ).all();
    expect(results).toEqual([
      { event_id: "admin-q-1", action: "audit.search", path: "/__spot/admin/v1/audit/events", query: "account_id=acct_42&limit=50" },
      { event_id: "admin-q-2", action: "key.rotate", path: "/__spot/admin/v1/accounts/acct_42/keys/key_old/rotate", query: null },
    ]);
  });

  it("an admin event with an unknown field or action is poison, like any bad event", async () => {
    const bad = { ...adminEvent("admin-ev-2"), secret: "sk_live_abcd" };
    const badAction = { ...adminEvent("admin-ev-3"), action: "key.delete" };
    await run(AUDIT_QUEUE_NAME, [
      message("admin-poison-1", { v: 1, events: [bad] }),
      message("admin-poison-2", { v: 1, events: [badAction] }),
    ]);
    expect((await deadLetters("admin-poison-")).map((l) => l.message_id)).toEqual(["admin-poison-1", "admin-poison-2"]);
  });
});

describe("validation: the cheap check and the schema", () => {
  it("stores complete events without asking the schema, and events of an older producer through it", async () => {
    const safeParse = vi.spyOn(AuditMessageSchema, "safeParse");
    await run(AUDIT_QUEUE_NAME, [
      eventMessage("check-1"),
      message("msg-check-2", JSON.parse(JSON.stringify({ v: 1, events: [event("check-2")] }))),
    ]);
    expect(safeParse).not.toHaveBeenCalled();
    const { forged_headers: _a, forged_headers_count: _b, ...older } = event("check-3");
    await run(AUDIT_QUEUE_NAME, [message("msg-check-3", { v: 1, events: [event("check-4"), older] })]);
    expect(safeParse).toHaveBeenCalledTimes(1);
    const rows = await eventRows("check-");
    expect(rows.map((r) => [r.event_id, r.forged_headers, r.forged_headers_count])).toEqual([
      ["check-1", '["x-spot-account-id"]', 1],
      ["check-2", '["x-spot-account-id"]', 1],
      ["check-3", "[]", 0],
      ["check-4", '["x-spot-account-id"]', 1],
    ]);
  });

  it("dead-letters a whole message when any one of its events is bad, and stores none of its events", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const bad: [string, Record<string, unknown>][] = [
      ["status", { status: 1000 }],
      ["time", { time: "2025-02-29T12:00:00.000Z" }],
      ["folded", { folded_count: -1 }],
      ["port", { forwarded_chain: [{ raw: "a", ip: null, port: 65_536, valid: true }] }],
      ["unknown", { secret: "sk_live_x" }],
      ["outcome", { outcome: "blocked" }],
      ["long", { reason: "r".repeat(65) }],
      ["id", { event_id: "" }],
    ];
    const messages = bad.map(([name, change]) =>
      message(`half-msg-${name}`, { v: 1, events: [event(`half-${name}-ok`), { ...event(`half-${name}-bad`), ...change }] }),
    );
    messages.push(message("half-msg-extra", { v: 1, events: [event("half-extra-ok")], note: "x" }));
    messages.push(message("half-msg-many", { v: 1, events: Array.from({ length: 101 }, (_, i) => event(`half-many-${i}`)) }));
    const { result } = await run(AUDIT_QUEUE_NAME, [...messages, eventMessage("half-good")]);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(messages.length + 1);
    expect((await eventRows("half-")).map((r) => r.event_id)).toEqual(["half-good"]);
    const letters = await deadLetters("half-msg-");
    expect(letters.map((l) => l.message_id).sort()).toEqual(messages.map((m) => m.id).sort());
    const reasons = Object.fromEntries(letters.map((l) => [l.message_id, String(l.reason)]));
    expect(reasons["half-msg-status"]).toMatch(/^poison: events\.1\.status: /);
    expect(reasons["half-msg-unknown"]).toMatch(/^poison: events\.1: .*secret/);
  });
});

describe("rows", () => {
  /** What each column must hold for an event, written out independently of the consumer. */
  function expectedRow(e: AuditEvent): Record<string, unknown> {
    const bool = (b: boolean) => (b ? 1 : 0);
    return {
      ...e,
      time_ms: Date.parse(e.time),
      account_verified: bool(e.account_verified),
      source_ip_asserted: bool(e.source_ip_asserted),
      truncated: bool(e.truncated),
      forwarded_chain: JSON.stringify(e.forwarded_chain),
      forged_headers: JSON.stringify(e.forged_headers),
      folded_count: e.folded_count ?? 0,
    };
  }

  it("store every field exactly, whatever the text: quotes, backslashes, controls, non-ASCII, emoji", async () => {
    const odd = 'q"uo\\te \n\t\u0001 Büro \u00ff € 😀 \u2028 </script>';
    const events: AuditEvent[] = [
      event("rows-1"),
      event("rows-2", {
        user_agent: odd,
        path: `/v1/${odd}`,
        host: 'h"o\\st',
        ray_id: null,
        account_id: null,
        key_id: null,
        mode: null,
        account_verified: false,
        truncated: true,
        forwarded_for: odd,
        forwarded_chain: [
          { raw: odd.slice(0, 60), ip: null, port: null, valid: false },
          { raw: "[2001:db8::1]:443", ip: "2001:db8::1", port: 443, valid: true },
        ],
        forged_headers: ['x-spot-"quoted"', "x-spot-ü"],
        forged_headers_count: 2,
        folded_count: 3,
        duration_ms: Number.MAX_SAFE_INTEGER,
      }),
      event("rows-3", { forwarded_chain: [], forged_headers: [], forged_headers_count: 0, user_agent: "", origin: null }),
    ];
    await run(AUDIT_QUEUE_NAME, [message("msg-rows", { v: 1, events } satisfies AuditMessage)]);
    const rows = await eventRows("rows-");
    expect(rows).toHaveLength(3);
    for (const [i, row] of rows.entries()) {
      const expected = expectedRow(events[i] as AuditEvent);
      for (const column of AUDIT_EVENT_COLUMNS) expect(row[column], `${row.event_id} ${column}`).toStrictEqual(expected[column]);
    }
  });
});
