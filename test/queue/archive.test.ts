/**
 * The consumer's R2 archive (docs/audit.md "Archive") against the real D1 and R2 of workerd: objects
 * and their partitions, the columns against the D1 rows, and the faults (R2 failing, D1 failing,
 * redeliveries in the same or other batches, a replayed message). "Exactly once" is counted over the
 * whole bucket: every object is listed and read, and every event must be in exactly one, the one its
 * D1 row names.
 *
 * All tests of this file share one D1 and one bucket: each uses its own id prefix and its own UTC day.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type AdminAuditEvent, buildAdminAuditEvent } from "../../src/audit/admin-event";
import { type ArchiveKind, hourPrefix, keyFromArchiveObject, parseObjectKey } from "../../src/audit/archive/layout";
import {
  ADMIN_ARCHIVE_COLUMNS,
  ARCHIVE_SCHEMA_VERSION,
  contentIdOf,
  PARQUET_CONTENT_TYPE,
  REQUEST_ARCHIVE_COLUMNS,
  readArchivedRows,
} from "../../src/audit/archive/parquet";
import { ADMIN_EVENT_COLUMNS, AUDIT_EVENT_COLUMNS } from "../../src/audit/columns";
import { AUDIT_QUEUE_NAME, consumeAuditBatch, DLQ_REASON, SELECT_LEDGER_SQL } from "../../src/audit/consumer";
import { type AuditEvent, buildAuditEvent } from "../../src/audit/event";
import type { AnyAuditEvent } from "../../src/audit/producer";
import { sampleAuditInput } from "../helpers/audit";

/** A request event of `id` at `timeMs`. */
function event(id: string, timeMs: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return { ...buildAuditEvent(sampleAuditInput({ eventId: id, requestId: `req-${id}`, timeMs })), ...overrides };
}

function adminEvent(id: string, timeMs: number): AdminAuditEvent {
  return buildAdminAuditEvent({
    eventId: id,
    timeMs,
    requestId: `req-${id}`,
    rayId: null,
    action: "key.update",
    outcome: "allowed",
    reason: "ok",
    status: 200,
    actorSub: "ops@spot-thought.test",
    actorEmail: null,
    accountId: "acct_42",
    keyId: "key_1",
    newKeyId: null,
    method: "PATCH",
    path: "/__spot/admin/v1/accounts/acct_42/keys/key_1",
    connectingIp: "198.51.100.23",
    userAgent: "spot-keys/0.1",
    durationMs: 7,
    changes: ["label"],
  });
}

interface TestMessage {
  id: string;
  timestamp: Date;
  attempts: number;
  body: unknown;
}

function message(id: string, events: AnyAuditEvent[], attempts = 1): TestMessage {
  return { id, timestamp: new Date(), attempts, body: { v: 1, events } };
}

/** The same messages delivered again, `attempts` as Queues counts it then. */
function again(messages: TestMessage[], attempts = 2): TestMessage[] {
  return messages.map((m) => ({ ...m, attempts }));
}

async function run(messages: TestMessage[], target: Env = env) {
  const batch = createMessageBatch<unknown>(AUDIT_QUEUE_NAME, messages);
  const retries = batch.messages.map((m) => vi.spyOn(m, "retry"));
  const ctx = createExecutionContext();
  await consumeAuditBatch(batch, target);
  const result = await getQueueResult(batch, ctx);
  return { acked: [...result.explicitAcks].sort(), retried: result.retryMessages.map((r) => r.msgId).sort(), retries };
}

/** The bucket's binding, with puts and heads counted and failing as asked. */
function wrappedBucket(options: { failPuts?: number | ((key: string) => boolean); failHeads?: boolean } = {}) {
  const real = env.AUDIT_ARCHIVE;
  const puts: string[] = [];
  let putFailuresLeft = typeof options.failPuts === "number" ? options.failPuts : 0;
  const bucket = {
    head: async (key: string) => {
      if (options.failHeads) throw new Error("R2 head: service unavailable");
      return await real.head(key);
    },
    get: (key: string) => real.get(key),
    list: (o?: R2ListOptions) => real.list(o),
    put: async (key: string, value: Uint8Array, o?: R2PutOptions) => {
      puts.push(key);
      const failPuts = options.failPuts;
      if (typeof failPuts === "function" ? failPuts(key) : putFailuresLeft-- > 0) throw new Error("R2 put: internal error (simulated)");
      return await real.put(key, value, o);
    },
  } as unknown as R2Bucket;
  return { env: { ...env, AUDIT_ARCHIVE: bucket } as Env, puts };
}

/** An AUDIT_DB whose batch fails (D1 unavailable for writes); reads still work. */
function failingDbEnv(base: Env = env): Env {
  const real = env.AUDIT_DB;
  const db = {
    prepare: (sql: string) => real.prepare(sql),
    batch: async () => {
      throw new Error("D1_ERROR: database unavailable");
    },
  } as unknown as D1Database;
  return { ...base, AUDIT_DB: db };
}

interface Occurrence {
  key: string;
  row: Record<string, unknown>;
}

/**
 * Every object of the bucket, read whole and checked: its key parses, its partition and time bounds are
 * those of its rows, its content id is that of its event ids, its metadata says what it holds.
 * @returns kind → event id → the objects (and rows) holding it
 */
async function readBucket(): Promise<Record<ArchiveKind, Map<string, Occurrence[]>>> {
  const found: Record<ArchiveKind, Map<string, Occurrence[]>> = { request: new Map(), admin: new Map() };
  let cursor: string | undefined;
  do {
    const page = await env.AUDIT_ARCHIVE.list({ cursor, include: ["httpMetadata", "customMetadata"] });
    for (const listed of page.objects) {
      const name = parseObjectKey(listed.key);
      expect(name, listed.key).not.toBeNull();
      if (name === null) continue;
      const object = await env.AUDIT_ARCHIVE.get(listed.key);
      const rows = await readArchivedRows(await (object as R2ObjectBody).arrayBuffer());
      const times = rows.map((r) => Number(r.time_ms));
      expect(listed.key.startsWith(hourPrefix(name.kind, name.firstMs)), listed.key).toBe(true);
      expect([name.firstMs, name.lastMs]).toEqual([Math.min(...times), Math.max(...times)]);
      expect(name.contentId).toBe(await contentIdOf(rows.map((r) => String(r.event_id))));
      expect(listed.httpMetadata?.contentType).toBe(PARQUET_CONTENT_TYPE);
      expect(listed.customMetadata).toEqual({
        kind: name.kind,
        events: String(rows.length),
        schema_version: String(ARCHIVE_SCHEMA_VERSION),
      });
      for (const row of rows) {
        const id = String(row.event_id);
        const list = found[name.kind].get(id) ?? [];
        list.push({ key: listed.key, row });
        found[name.kind].set(id, list);
      }
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  return found;
}

const TABLE: Record<ArchiveKind, string> = { request: "audit_events", admin: "admin_audit_events" };

async function d1Rows(kind: ArchiveKind, prefix: string): Promise<Record<string, unknown>[]> {
  const { results } = await env.AUDIT_DB.prepare(`SELECT * FROM ${TABLE[kind]} WHERE event_id LIKE ? ORDER BY event_id`)
    .bind(`${prefix}%`)
    .all<Record<string, unknown>>();
  return results;
}

/** A Parquet value in the form D1 stores it (booleans 0/1, JSON as its text, INT64 as a number, time as ISO text). */
function asStored(kind: ArchiveKind, column: string, value: unknown): unknown {
  const spec = (kind === "request" ? REQUEST_ARCHIVE_COLUMNS : ADMIN_ARCHIVE_COLUMNS)[column as never] as { type: string };
  if (value === null) return null;
  switch (spec.type) {
    case "BOOLEAN":
      return value ? 1 : 0;
    case "INT64":
      return Number(value);
    case "TIMESTAMP":
      return (value as Date).toISOString();
    case "JSON":
      return JSON.stringify(value);
    default:
      return value;
  }
}

/**
 * Every event of the prefix (both kinds) is in exactly one object, the one its D1 row names, with
 * every column equal to the row's; no object holds an event of the prefix that D1 lacks.
 * @returns the keys holding the prefix's events, by kind
 */
async function expectArchivedOnce(prefix: string, expectedIds: { request?: string[]; admin?: string[] }) {
  const bucket = await readBucket();
  const keys: Record<ArchiveKind, Set<string>> = { request: new Set(), admin: new Set() };
  for (const kind of ["request", "admin"] as const) {
    const rows = await d1Rows(kind, prefix);
    expect(rows.map((r) => r.event_id)).toEqual([...(expectedIds[kind] ?? [])].sort());
    const archivedIds = [...bucket[kind].keys()].filter((id) => id.startsWith(prefix)).sort();
    expect(archivedIds, `${kind} events archived`).toEqual(rows.map((r) => r.event_id));
    for (const row of rows) {
      const id = String(row.event_id);
      const occurrences = bucket[kind].get(id) ?? [];
      expect(
        occurrences.map((o) => o.key),
        `${id}: one object`,
      ).toHaveLength(1);
      const [only] = occurrences as [Occurrence];
      expect(keyFromArchiveObject(kind, row.archive_object as string), `${id}: the ledger names its object`).toBe(only.key);
      for (const column of kind === "request" ? AUDIT_EVENT_COLUMNS : ADMIN_EVENT_COLUMNS) {
        expect(asStored(kind, column, only.row[column]), `${id} ${column}`).toStrictEqual(row[column]);
      }
      keys[kind].add(only.key);
    }
  }
  return { request: [...keys.request].sort(), admin: [...keys.admin].sort() };
}

/** Keys of the bucket under a prefix. */
async function keysUnder(prefix: string): Promise<string[]> {
  return (await env.AUDIT_ARCHIVE.list({ prefix })).objects.map((o) => o.key).sort();
}

/** The consumer's info lines (audit_archive_redelivery), kept out of the test output. */
let infoLines: { mock: { calls: unknown[][] } };

beforeEach(() => {
  infoLines = vi.spyOn(console, "log").mockImplementation(() => {});
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the archive of a batch", () => {
  it("one object per kind and hour, under its partition, named by its time bounds; columns equal to the D1 rows", async () => {
    const t = Date.UTC(2026, 0, 5, 10, 15, 2, 123);
    const messages = [
      message("happy-m1", [event("happy-1", t + 30_000), event("happy-2", t)]),
      message("happy-m2", [event("happy-3", t + 56_881, { user_agent: 'q"uo\\te Büro € 😀', folded_count: 4 })]),
      message("happy-m3", [event("happy-4", t + 1000, { duration_ms: Number.MAX_SAFE_INTEGER, account_id: null })]),
    ];
    const { acked, retried } = await run(messages);
    expect(acked).toEqual(["happy-m1", "happy-m2", "happy-m3"]);
    expect(retried).toEqual([]);

    const keys = await expectArchivedOnce("happy-", { request: ["happy-1", "happy-2", "happy-3", "happy-4"] });
    expect(keys.request).toHaveLength(1);
    const key = keys.request[0] as string;
    expect(key).toMatch(
      /^audit\/v1\/kind=request\/dt=2026-01-05\/hour=10\/20260105T101502\.123Z_20260105T101559\.004Z_[0-9a-f]{16}\.parquet$/,
    );
    // Rows in time order, then event id.
    const object = await env.AUDIT_ARCHIVE.get(key);
    const rows = await readArchivedRows(await (object as R2ObjectBody).arrayBuffer());
    expect(rows.map((r) => r.event_id)).toEqual(["happy-2", "happy-4", "happy-1", "happy-3"]);
    expect(await d1Rows("request", "happy-")).toEqual(
      expect.arrayContaining([expect.objectContaining({ archive_object: key.slice(key.lastIndexOf("/") + 1, -".parquet".length) })]),
    );
  });

  it("events of two hours make two objects, one in each hour's partition", async () => {
    const t = Date.UTC(2026, 0, 6, 10, 59, 59, 900);
    const { acked } = await run([
      message("hours-m1", [event("hours-1", t), event("hours-2", t + 200)]),
      message("hours-m2", [event("hours-3", t + 50)]),
    ]);
    expect(acked).toEqual(["hours-m1", "hours-m2"]);
    const keys = await expectArchivedOnce("hours-", { request: ["hours-1", "hours-2", "hours-3"] });
    expect(keys.request).toEqual([
      expect.stringMatching(/^audit\/v1\/kind=request\/dt=2026-01-06\/hour=10\/20260106T105959\.900Z_20260106T105959\.950Z_/),
      expect.stringMatching(/^audit\/v1\/kind=request\/dt=2026-01-06\/hour=11\/20260106T110000\.100Z_20260106T110000\.100Z_/),
    ]);
  });

  it("admin events go to kind=admin objects, request events of the same message to kind=request", async () => {
    const t = Date.UTC(2026, 0, 7, 9, 0, 0, 0);
    const { acked } = await run([
      message("admin-m1", [adminEvent("admin-a1", t), event("admin-r1", t + 5)]),
      message("admin-m2", [adminEvent("admin-a2", t + 9)]),
    ]);
    expect(acked).toEqual(["admin-m1", "admin-m2"]);
    const keys = await expectArchivedOnce("admin-", { request: ["admin-r1"], admin: ["admin-a1", "admin-a2"] });
    expect(keys.admin).toEqual([
      expect.stringMatching(/^audit\/v1\/kind=admin\/dt=2026-01-07\/hour=09\/20260107T090000\.000Z_20260107T090000\.009Z_/),
    ]);
    expect(keys.request).toEqual([expect.stringMatching(/^audit\/v1\/kind=request\/dt=2026-01-07\/hour=09\//)]);
  });

  it("any event the schema accepts is archived: years 0000 and 9999, counts of 2^53 − 1, odd text", async () => {
    const big = Number.MAX_SAFE_INTEGER;
    const odd = 'q"uo\\te \n\t Büro € 😀 \u2028 </script>';
    const extremes = [
      // buildAuditEvent never makes a time before 1970; another producer may, and the schema takes it.
      event("extreme-1", 0, { time: "0000-01-01T00:00:00.000Z" }),
      event("extreme-2", Date.parse("9999-12-31T23:59:59.999Z"), {
        path_length: big,
        duration_ms: big,
        forwarded_for_length: big,
        forwarded_count: big,
        user_agent_length: big,
        forged_headers_count: big,
        folded_count: big,
        user_agent: odd,
        path: "",
        forwarded_for: null,
        forwarded_chain: [],
        ray_id: null,
      }),
    ];
    expect((await run([message("extreme-m1", extremes)])).acked).toEqual(["extreme-m1"]);
    const keys = await expectArchivedOnce("extreme-", { request: ["extreme-1", "extreme-2"] });
    expect(keys.request).toEqual([
      expect.stringContaining("/kind=request/dt=0000-01-01/hour=00/00000101T000000.000Z_00000101T000000.000Z_"),
      expect.stringContaining("/kind=request/dt=9999-12-31/hour=23/99991231T235959.999Z_99991231T235959.999Z_"),
    ]);
  });

  it("a poison message is not archived and still dead-lettered; the others are archived", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const t = Date.UTC(2026, 0, 8, 12, 0, 0, 0);
    const poison = {
      id: "poison-bad",
      timestamp: new Date(),
      attempts: 1,
      body: { v: 1, events: [{ ...event("poison-x", t), secret: "no" }] },
    };
    const { acked } = await run([message("poison-good", [event("poison-ok", t)]), poison]);
    expect(acked).toEqual(["poison-bad", "poison-good"]);
    await expectArchivedOnce("poison-", { request: ["poison-ok"] });
    const { results } = await env.AUDIT_DB.prepare(
      "SELECT message_id, reason FROM audit_dead_letters WHERE message_id = 'poison-bad'",
    ).all();
    expect(results).toEqual([{ message_id: "poison-bad", reason: expect.stringMatching(/^poison: /) }]);
    expect((await readBucket()).request.has("poison-x")).toBe(false);
  });

  it("the dead-letter queue is recorded, not archived", async () => {
    const t = Date.UTC(2026, 0, 9, 12, 0, 0, 0);
    const batch = createMessageBatch<unknown>("spot-audit-events-dlq", [message("dlq-arch-m1", [event("dlq-arch-1", t)])]);
    await consumeAuditBatch(batch, env);
    const { results } = await env.AUDIT_DB.prepare("SELECT reason FROM audit_dead_letters WHERE message_id = 'dlq-arch-m1'").all();
    expect(results).toEqual([{ reason: DLQ_REASON }]);
    expect(await keysUnder("audit/v1/kind=request/dt=2026-01-09/")).toEqual([]);
  });
});

describe("faults", () => {
  it("R2 failing for the first two deliveries: retried, then archived once under the same key", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const t = Date.UTC(2026, 0, 10, 8, 0, 0, 0);
    const messages = [
      message("r2fail-m1", [event("r2fail-1", t), event("r2fail-2", t + 1)]),
      message("r2fail-m2", [event("r2fail-3", t + 2)]),
    ];
    const flaky = wrappedBucket({ failPuts: 2 });

    const first = await run(messages, flaky.env);
    expect(first.acked).toEqual([]);
    expect(first.retried).toEqual(["r2fail-m1", "r2fail-m2"]);
    expect(first.retries.map((r) => r.mock.calls[0]?.[0])).toEqual([{ delaySeconds: 5 }, { delaySeconds: 5 }]);
    const line = JSON.parse(String(errors.mock.calls.at(-1)?.[0]));
    expect(line).toMatchObject({
      level: "error",
      msg: "audit_archive_write_failed",
      queue: AUDIT_QUEUE_NAME,
      message_ids: ["r2fail-m1", "r2fail-m2"],
      events: 3,
      keys: [flaky.puts[0]],
      objects: 1,
      error: "R2 put: internal error (simulated)",
    });
    // D1 has the rows already; they name the object that was not written.
    expect((await d1Rows("request", "r2fail-")).map((r) => keyFromArchiveObject("request", r.archive_object as string))).toEqual([
      flaky.puts[0],
      flaky.puts[0],
      flaky.puts[0],
    ]);
    expect(await keysUnder("audit/v1/kind=request/dt=2026-01-10/")).toEqual([]);

    const second = await run(again(messages, 2), flaky.env);
    expect(second.retried).toEqual(["r2fail-m1", "r2fail-m2"]);
    expect(second.retries.map((r) => r.mock.calls[0]?.[0])).toEqual([{ delaySeconds: 10 }, { delaySeconds: 10 }]);
    const third = await run(again(messages, 3), flaky.env);
    expect(third.acked).toEqual(["r2fail-m1", "r2fail-m2"]);
    expect(new Set(flaky.puts).size).toBe(1); // the same composition, the same key every time
    const keys = await expectArchivedOnce("r2fail-", { request: ["r2fail-1", "r2fail-2", "r2fail-3"] });
    expect(keys.request).toEqual([flaky.puts[0]]);
  });

  it("one of two objects failing: the redelivery writes only the missing one", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const t = Date.UTC(2026, 0, 11, 10, 59, 59, 0);
    const messages = [message("half-m1", [event("half-1", t), event("half-2", t + 2000)]), message("half-m2", [event("half-3", t + 500)])];
    const flaky = wrappedBucket({ failPuts: (key) => key.includes("/hour=11/") });
    expect((await run(messages, flaky.env)).retried).toEqual(["half-m1", "half-m2"]);
    expect(await keysUnder("audit/v1/kind=request/dt=2026-01-11/")).toEqual([expect.stringContaining("/hour=10/")]);

    const fixed = wrappedBucket();
    expect((await run(again(messages), fixed.env)).acked).toEqual(["half-m1", "half-m2"]);
    expect(fixed.puts).toEqual([expect.stringContaining("/hour=11/")]);
    const keys = await expectArchivedOnce("half-", { request: ["half-1", "half-2", "half-3"] });
    expect(keys.request).toHaveLength(2);
  });

  it("D1 failing while R2 works: nothing written to R2 on that delivery, then archived once", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const t = Date.UTC(2026, 0, 12, 14, 0, 0, 0);
    const messages = [
      message("d1fail-m1", [event("d1fail-1", t)]),
      message("d1fail-m2", [adminEvent("d1fail-a1", t + 1), event("d1fail-2", t + 2)]),
    ];
    const watched = wrappedBucket();
    const first = await run(messages, failingDbEnv(watched.env));
    expect(first.retried).toEqual(["d1fail-m1", "d1fail-m2"]);
    expect(watched.puts).toEqual([]);
    expect(JSON.parse(String(errors.mock.calls.at(-1)?.[0]))).toMatchObject({ msg: "audit_d1_write_failed", events: 3 });
    expect(await keysUnder("audit/v1/kind=request/dt=2026-01-12/")).toEqual([]);
    expect(await d1Rows("request", "d1fail-")).toEqual([]);

    const second = await run(again(messages), watched.env);
    expect(second.acked).toEqual(["d1fail-m1", "d1fail-m2"]);
    expect(watched.puts).toHaveLength(2);
    await expectArchivedOnce("d1fail-", { request: ["d1fail-1", "d1fail-2"], admin: ["d1fail-a1"] });
  });

  it("the redelivery's check failing (R2 head): retried, nothing written; archived once later", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const t = Date.UTC(2026, 0, 13, 7, 0, 0, 0);
    const messages = [message("headfail-m1", [event("headfail-1", t)])];
    expect((await run(messages, wrappedBucket({ failPuts: 1 }).env)).retried).toEqual(["headfail-m1"]);
    const broken = wrappedBucket({ failHeads: true });
    expect((await run(again(messages), broken.env)).retried).toEqual(["headfail-m1"]);
    expect(broken.puts).toEqual([]);
    expect(JSON.parse(String(errors.mock.calls.at(-1)?.[0]))).toMatchObject({
      msg: "audit_archive_ledger_failed",
      message_ids: ["headfail-m1"],
      keys: [expect.stringContaining("/dt=2026-01-13/hour=07/")],
      error: "R2 head: service unavailable",
    });
    expect((await run(again(messages, 3))).acked).toEqual(["headfail-m1"]);
    await expectArchivedOnce("headfail-", { request: ["headfail-1"] });
  });
});

describe("redeliveries", () => {
  it("the same batch again after its objects were written (ack lost): the same keys, no write, acked", async () => {
    const t = Date.UTC(2026, 0, 14, 16, 0, 0, 0);
    const messages = [message("same-m1", [event("same-1", t), adminEvent("same-a1", t)]), message("same-m2", [event("same-2", t + 1)])];
    const first = wrappedBucket();
    await run(messages, first.env);
    const second = wrappedBucket();
    const { acked } = await run(again(messages), second.env);
    expect(acked).toEqual(["same-m1", "same-m2"]);
    expect(second.puts).toEqual([]);
    const keys = await expectArchivedOnce("same-", { request: ["same-1", "same-2"], admin: ["same-a1"] });
    expect([...keys.admin, ...keys.request].sort()).toEqual([...first.puts].sort());
  });

  it("recomposed into two batches after objects that were written: no second copy", async () => {
    const t = Date.UTC(2026, 0, 15, 16, 0, 0, 0);
    const [a, b, c, d] = ["a", "b", "c", "d"].map((n, i) =>
      message(`recomp-m${n}`, [event(`recomp-${n}1`, t + i), event(`recomp-${n}2`, t + 10 + i)]),
    );
    const messages = [a, b, c, d] as TestMessage[];
    await run(messages);
    const [original] = await keysUnder("audit/v1/kind=request/dt=2026-01-15/");

    const watched = wrappedBucket();
    const fresh = message("recomp-me", [event("recomp-e1", t + 100)]);
    expect((await run([...again([a, b] as TestMessage[]), fresh], watched.env)).acked).toEqual(["recomp-ma", "recomp-mb", "recomp-me"]);
    expect((await run(again([c, d] as TestMessage[], 3), watched.env)).acked).toEqual(["recomp-mc", "recomp-md"]);
    // Only the fresh message's event made an object.
    expect(watched.puts).toHaveLength(1);
    expect(infoLines.mock.calls.map((c) => JSON.parse(String(c[0])))).toEqual([
      {
        level: "info",
        msg: "audit_archive_redelivery",
        queue: AUDIT_QUEUE_NAME,
        message_ids: ["recomp-ma", "recomp-mb"],
        events_in_d1: 4,
        archived_already: 4,
        to_archive_again: 0,
        objects_checked: 1,
      },
      expect.objectContaining({ message_ids: ["recomp-mc", "recomp-md"], archived_already: 4 }),
    ]);
    const keys = await expectArchivedOnce("recomp-", {
      request: ["recomp-a1", "recomp-a2", "recomp-b1", "recomp-b2", "recomp-c1", "recomp-c2", "recomp-d1", "recomp-d2", "recomp-e1"],
    });
    expect(keys.request).toEqual([original, watched.puts[0]].sort());
  });

  it("recomposed into two batches after a first delivery whose object was not written: archived once, the ledger moved", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const t = Date.UTC(2026, 0, 16, 16, 0, 0, 0);
    const [a, b, c, d] = ["a", "b", "c", "d"].map((n, i) => message(`lost-m${n}`, [event(`lost-${n}1`, t + i)]));
    const failing = wrappedBucket({ failPuts: () => true });
    expect((await run([a, b, c, d] as TestMessage[], failing.env)).retried).toHaveLength(4);
    const lostKey = failing.puts[0] as string;

    const updates = vi.spyOn(env.AUDIT_DB, "prepare");
    expect((await run(again([a, b] as TestMessage[]))).acked).toEqual(["lost-ma", "lost-mb"]);
    expect(updates.mock.calls.filter(([sql]) => String(sql).startsWith("UPDATE audit_events SET archive_object"))).toHaveLength(1);
    expect((await run(again([c, d] as TestMessage[]))).acked).toEqual(["lost-mc", "lost-md"]);
    const keys = await expectArchivedOnce("lost-", { request: ["lost-a1", "lost-b1", "lost-c1", "lost-d1"] });
    expect(keys.request).toHaveLength(2);
    expect(keys.request).not.toContain(lostKey);
    expect(await env.AUDIT_ARCHIVE.head(lostKey)).toBeNull();
  });

  it("a message sent again as new (a replayed dead letter, attempts 1) whose events are archived: retried once, no second copy", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const warnings = vi.spyOn(console, "warn").mockImplementation(() => {});
    const t = Date.UTC(2026, 0, 17, 16, 0, 0, 0);
    const events = [event("replay-1", t), event("replay-2", t + 1)];
    await run([message("replay-m1", events)]);
    const watched = wrappedBucket();
    const replay = message("replay-m2", [...events, event("replay-3", t + 2)]);
    const first = await run([replay], watched.env);
    expect(first.retried).toEqual(["replay-m2"]);
    expect(watched.puts).toEqual([]);
    expect(JSON.parse(String(warnings.mock.calls.at(-1)?.[0]))).toMatchObject({
      level: "warn",
      msg: "audit_archive_ledger_conflict",
      message_ids: ["replay-m2"],
      stored_before: 2,
    });
    expect((await run(again([replay]), watched.env)).acked).toEqual(["replay-m2"]);
    expect(watched.puts).toHaveLength(1);
    await expectArchivedOnce("replay-", { request: ["replay-1", "replay-2", "replay-3"] });
  });

  it("an event a fresh message shares with a redelivered one of the same batch is looked up too: acked at once", async () => {
    const t = Date.UTC(2026, 0, 19, 16, 0, 0, 0);
    const shared = event("share-x", t);
    const m1 = message("share-m1", [shared]);
    await run([m1]);
    const watched = wrappedBucket();
    const fresh = message("share-m2", [shared, event("share-y", t + 1)]);
    expect(await run([fresh, ...again([m1])], watched.env)).toMatchObject({ acked: ["share-m1", "share-m2"], retried: [] });
    expect(watched.puts).toHaveLength(1);
    await expectArchivedOnce("share-", { request: ["share-x", "share-y"] });
  });

  it("an event stored before the archive existed (archive_object NULL) is archived when it is redelivered", async () => {
    const t = Date.UTC(2026, 0, 18, 16, 0, 0, 0);
    const messages = [message("old-m1", [event("old-1", t)])];
    await run(messages);
    for (const key of await keysUnder("audit/v1/kind=request/dt=2026-01-18/")) await env.AUDIT_ARCHIVE.delete(key);
    await env.AUDIT_DB.prepare("UPDATE audit_events SET archive_object = NULL WHERE event_id = 'old-1'").run();
    expect((await run(again(messages))).acked).toEqual(["old-m1"]);
    await expectArchivedOnce("old-", { request: ["old-1"] });
  });
});

describe("the ledger query", () => {
  it.each(["request", "admin"] as const)("reads %s rows by primary key, never by scanning the table", async (kind) => {
    const { results } = await env.AUDIT_DB.prepare(`EXPLAIN QUERY PLAN ${SELECT_LEDGER_SQL[kind]}`)
      .bind(JSON.stringify(["x", "y"]))
      .all<{ detail: string }>();
    const plan = results.map((r) => r.detail).join("\n");
    expect(plan).toMatch(new RegExp(`SEARCH ${TABLE[kind]} USING INDEX sqlite_autoindex_${TABLE[kind]}_1 \\(event_id=\\?\\)`));
    expect(plan).not.toMatch(new RegExp(`SCAN ${TABLE[kind]}\\b`));
  });
});
