/**
 * GET /audit/requests/{request_id} past the D1 window (docs/audit.md "Past the D1 window"), through the
 * Worker's fetch handler in workerd: Parquet objects are put into this file's AUDIT_ARCHIVE (R2) as the
 * archive lays them out, and a counting wrapper around the binding shows which prefixes are listed and
 * which objects are read. Each test uses hours of its own, so objects of one test never meet another's.
 */
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { v7 } from "uuid";
import { afterEach, describe, expect, it, vi } from "vitest";
import { hourPrefix, objectKey } from "../../src/audit/archive/layout";
import { ARCHIVE_LOOKUP_LIMITS } from "../../src/audit/archive/lookup";
import { contentIdOf, encodeRequestEvents } from "../../src/audit/archive/parquet";
import { AUDIT_QUEUE_NAME, consumeAuditBatch } from "../../src/audit/consumer";
import { type AuditEvent, buildAuditEvent } from "../../src/audit/event";
import auditWorker from "../../src/audit-worker";
import { adminCall, errorOf } from "../helpers/admin";
import { sampleAuditInput } from "../helpers/audit";

const SECOND = 1000;
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

afterEach(() => vi.restoreAllMocks());

/** A request event at `timeMs` with this request id (an allowed request of acct_123 by default). */
function eventAt(timeMs: number, requestId: string, overrides: Parameters<typeof sampleAuditInput>[0] = {}): AuditEvent {
  return buildAuditEvent(sampleAuditInput({ eventId: crypto.randomUUID(), timeMs, requestId, ...overrides }));
}

/** Puts one archive object holding `events` (all in one UTC hour) where the archive puts it; returns its key. */
async function archive(events: AuditEvent[]): Promise<string> {
  const times = events.map((e) => Date.parse(e.time));
  const key = objectKey("request", Math.min(...times), Math.max(...times), await contentIdOf(events.map((e) => e.event_id)));
  await env.AUDIT_ARCHIVE.put(key, encodeRequestEvents(events));
  return key;
}

/** A few other requests' events around `timeMs`, so an object holds more than the one looked for. */
function neighbours(timeMs: number, n = 3): AuditEvent[] {
  return Array.from({ length: n }, (_, i) => eventAt(timeMs + (i - 1) * 700, v7({ msecs: timeMs + (i - 1) * 700 })));
}

/** AUDIT_ARCHIVE with every list and get recorded (or failing, for `fail`). */
function countingArchive(fail?: "list" | "get") {
  const calls = { lists: [] as R2ListOptions[], gets: [] as string[] };
  const bucket = {
    list: async (options: R2ListOptions) => {
      calls.lists.push(options);
      if (fail === "list") throw new Error("R2 list failed: 503 Service Unavailable");
      return env.AUDIT_ARCHIVE.list(options);
    },
    get: async (key: string) => {
      calls.gets.push(key);
      if (fail === "get") throw new Error("R2 get failed: network connection lost");
      return env.AUDIT_ARCHIVE.get(key);
    },
  } as unknown as R2Bucket;
  return { bucket, calls };
}

async function lookup(requestId: string, archiveBinding: R2Bucket) {
  return adminCall("GET", `/audit/requests/${requestId}`, { call: { bindings: { AUDIT_ARCHIVE: archiveBinding } } });
}

type Found = { event: AuditEvent; source: "d1" | "archive" };

describe("a request id older than the D1 window", () => {
  it("is still found: D1 answers while it holds the event, the archive once the retention has trimmed it", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    // A request of about 100 days ago (AUDIT_RETENTION_DAYS is 90), in the middle of its hour: the lookup's
    // ±1 min tolerance then lists that hour alone, whatever the time the test runs.
    const arrived = Math.floor((Date.now() - 100 * DAY) / HOUR) * HOUR + 30 * MIN;
    const requestId = v7({ msecs: arrived });
    const event = eventAt(arrived, requestId, { accountId: "acct_old", keyId: "key_old", connectingIp: "192.0.2.10" });
    const batch = createMessageBatch<unknown>(AUDIT_QUEUE_NAME, [
      { id: "m-old", timestamp: new Date(), attempts: 1, body: { v: 1, events: [event] } },
    ]);
    await consumeAuditBatch(batch, env);
    expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toEqual(["m-old"]);
    // The consumer archived it (src/audit/consumer.ts): its batch's object holds this one event. Other
    // objects of the hour, with other requests, are not read.
    const key = objectKey("request", arrived, arrived, await contentIdOf([event.event_id]));
    await archive(neighbours(arrived + 10 * MIN));

    const before = countingArchive();
    const fromD1 = await lookup(requestId, before.bucket);
    expect(fromD1.res.status).toBe(200);
    expect(fromD1.body).toStrictEqual({ event, source: "d1" });
    expect(before.calls).toEqual({ lists: [], gets: [] });

    // The audit Worker's cron trims D1 to the retention window.
    await auditWorker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "17 3 * * *" }), env);
    const row = await env.AUDIT_DB.prepare("SELECT count(*) AS n FROM audit_events WHERE request_id = ?")
      .bind(requestId)
      .first<{ n: number }>();
    expect(row?.n).toBe(0);

    const after = countingArchive();
    const fromArchive = await lookup(requestId, after.bucket);
    expect(fromArchive.res.status).toBe(200);
    expect(fromArchive.body).toStrictEqual({ event, source: "archive" });
    expect(after.calls.lists.map((o) => o.prefix)).toEqual([hourPrefix("request", arrived)]);
    expect(after.calls.gets).toEqual([key]);

    // The lookup is itself an admin event, naming whose event was read.
    expect(fromArchive.adminEvents).toHaveLength(1);
    expect(fromArchive.adminEvents[0]).toMatchObject({
      action: "audit.get",
      outcome: "allowed",
      status: 200,
      account_id: "acct_old",
      key_id: "key_old",
      query: `request_id=${requestId}`,
      path: `/__spot/admin/v1/audit/requests/${requestId}`,
    });
  });

  it("a UUID quoted in capitals is the same id", async () => {
    const arrived = Date.UTC(2026, 0, 5, 7, 20, 0, 0);
    const requestId = v7({ msecs: arrived });
    const event = eventAt(arrived, requestId);
    await archive([event]);
    const { res, body, adminEvents } = await lookup(requestId.toUpperCase(), countingArchive().bucket);
    expect(res.status).toBe(200);
    expect((body as Found).event).toStrictEqual(event);
    expect(adminEvents[0]?.query).toBe(`request_id=${requestId}`);
  });
});

describe("which objects are read", () => {
  it("only its hour is listed, and only the object whose bounds cover its time is read", async () => {
    const arrived = Date.UTC(2026, 1, 3, 9, 30, 0, 250);
    const requestId = v7({ msecs: arrived });
    const event = eventAt(arrived, requestId);
    const target = await archive([...neighbours(arrived), event]);
    // The same hour, bounds that cannot hold it (more than a minute off): before and after.
    await archive(neighbours(Date.UTC(2026, 1, 3, 9, 10, 0, 0)));
    await archive(neighbours(Date.UTC(2026, 1, 3, 9, 45, 0, 0)));
    // The hours before and after, even within seconds of its time's hour: other prefixes.
    await archive(neighbours(Date.UTC(2026, 1, 3, 8, 59, 58, 0)));
    await archive(neighbours(Date.UTC(2026, 1, 3, 10, 0, 1, 0)));

    const { bucket, calls } = countingArchive();
    const { res, body } = await lookup(requestId, bucket);
    expect(res.status).toBe(200);
    expect(body).toStrictEqual({ event, source: "archive" });
    expect(calls.lists.map((o) => o.prefix)).toEqual(["audit/v1/kind=request/dt=2026-02-03/hour=09/"]);
    expect(calls.gets).toEqual([target]);
  });

  it("objects that may hold it are read nearest first until one does (an event a few seconds off its id's time)", async () => {
    const idTime = Date.UTC(2026, 1, 4, 15, 0, 30, 0);
    const requestId = v7({ msecs: idTime });
    // Its `time` 20 s after the id's (within the ±60 s tolerance), in an object that does not cover the id's time.
    const event = eventAt(idTime + 20 * SECOND, requestId);
    const covering = await archive(neighbours(idTime));
    const later = await archive([event, ...neighbours(idTime + 21 * SECOND)]);
    const tooLate = await archive(neighbours(idTime + 2 * MIN));
    const { bucket, calls } = countingArchive();
    const { res, body } = await lookup(requestId, bucket);
    expect(res.status).toBe(200);
    expect((body as Found).event).toStrictEqual(event);
    expect(calls.gets).toEqual([covering, later]);
    expect(calls.gets).not.toContain(tooLate);
  });

  it.each([
    ["a second before the hour, the event just after it (in the next hour's partition)", Date.UTC(2026, 1, 5, 11, 59, 59, 990), 25],
    ["just after the hour, the event just before it (in the previous hour's partition)", Date.UTC(2026, 1, 5, 13, 0, 0, 10), -20],
  ])("at an hour boundary: %s", async (_name, idTime, offsetMs) => {
    const requestId = v7({ msecs: idTime });
    const event = eventAt(idTime + offsetMs, requestId);
    const key = await archive([event]);
    const { bucket, calls } = countingArchive();
    const { res, body } = await lookup(requestId, bucket);
    expect(res.status).toBe(200);
    expect(body).toStrictEqual({ event, source: "archive" });
    const hours = [hourPrefix("request", idTime - MIN), hourPrefix("request", idTime + MIN)];
    expect(calls.lists.map((o) => o.prefix)).toEqual(hours);
    expect(calls.gets).toEqual([key]);
  });
});

describe("not found", () => {
  it("a UUIDv4 (an id made before UUIDv7) missing from D1 → 404, R2 untouched", async () => {
    const { bucket, calls } = countingArchive();
    const { res, body, adminEvents } = await lookup("5f0c1c9e-3f5e-4a54-9b1e-0b8a3f7d2c11", bucket);
    expect(res.status).toBe(404);
    expect(errorOf(body)).toMatchObject({ code: "audit_event_not_found" });
    expect(errorOf(body).message).toContain("not a UUIDv7");
    expect(calls).toEqual({ lists: [], gets: [] });
    expect(adminEvents[0]).toMatchObject({ action: "audit.get", outcome: "denied", reason: "audit_event_not_found", status: 404 });
  });

  it("a UUIDv7 of the last minutes missing from D1 → 404 'retry shortly', R2 untouched (it is not stored yet)", async () => {
    const { bucket, calls } = countingArchive();
    const { res, body } = await lookup(v7(), bucket);
    expect(res.status).toBe(404);
    expect(errorOf(body).message).toContain("retry shortly");
    expect(calls).toEqual({ lists: [], gets: [] });
  });

  it("a UUIDv7 in neither D1 nor the objects of its time → 404 saying both were searched; objects of other times unread", async () => {
    const idTime = Date.UTC(2026, 1, 6, 10, 20, 0, 0);
    const other = await archive(neighbours(idTime));
    // Same hour, bounds more than the tolerance away on either side: never candidates.
    await archive(neighbours(idTime - ARCHIVE_LOOKUP_LIMITS.toleranceMs - 2 * SECOND));
    await archive(neighbours(idTime + ARCHIVE_LOOKUP_LIMITS.toleranceMs + 2 * SECOND));
    const { bucket, calls } = countingArchive();
    const { res, body } = await lookup(v7({ msecs: idTime }), bucket);
    expect(res.status).toBe(404);
    expect(errorOf(body)).toMatchObject({ code: "audit_event_not_found" });
    expect(errorOf(body).message).toContain("nor in the archive objects of its time");
    expect(calls.gets).toEqual([other]);
  });

  it(`more objects that may hold it than one lookup reads → at most ${ARCHIVE_LOOKUP_LIMITS.maxObjects} read, a 404 saying the lookup stopped short`, async () => {
    const warnings = vi.spyOn(console, "warn").mockImplementation(() => {});
    const idTime = Date.UTC(2026, 1, 7, 10, 20, 0, 0);
    const n = ARCHIVE_LOOKUP_LIMITS.maxObjects + 3;
    for (let i = 0; i < n; i++) await archive(neighbours(idTime + i * SECOND, 2));
    const { bucket, calls } = countingArchive();
    const { res, body } = await lookup(v7({ msecs: idTime }), bucket);
    expect(res.status).toBe(404);
    expect(errorOf(body)).toMatchObject({ code: "audit_event_not_found" });
    expect(errorOf(body).message).toContain(`${n} objects may hold it, more than one lookup reads (${ARCHIVE_LOOKUP_LIMITS.maxObjects})`);
    expect(errorOf(body).message).toContain("Analytics on the archive");
    expect(calls.gets).toHaveLength(ARCHIVE_LOOKUP_LIMITS.maxObjects);
    const logged = warnings.mock.calls.map((args) => JSON.parse(String(args[0])));
    expect(logged).toContainEqual(expect.objectContaining({ msg: "audit_archive_lookup_bounded", why: "objects", candidates: n }));
  });
});

describe("the archive unreadable", () => {
  it.each(["list", "get"] as const)(
    "R2 %s failing → 503 admin_unavailable with Retry-After, logged; never a 404 or a bare 500",
    async (fail) => {
      const errors = vi.spyOn(console, "error").mockImplementation(() => {});
      const idTime = Date.UTC(2026, 1, 8, 10, 20, 0, 0);
      const requestId = v7({ msecs: idTime });
      await archive([eventAt(idTime, requestId)]);
      const { bucket } = countingArchive(fail);
      const { res, body, adminEvents } = await lookup(requestId, bucket);
      expect(res.status).toBe(503);
      expect(errorOf(body)).toMatchObject({ code: "admin_unavailable", type: "api_error" });
      expect(errorOf(body).message).toContain("archive");
      expect(res.headers.get("retry-after")).toBe("5");
      expect(adminEvents[0]).toMatchObject({ action: "audit.get", outcome: "error", reason: "admin_unavailable", status: 503 });
      const logged = errors.mock.calls.map((args) => JSON.parse(String(args[0])));
      expect(logged).toContainEqual(expect.objectContaining({ msg: "audit_archive_read_failed" }));
    },
  );

  it("an object that is not Parquet is passed over and logged; the lookup goes on", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const idTime = Date.UTC(2026, 1, 9, 10, 20, 0, 0);
    const requestId = v7({ msecs: idTime });
    const event = eventAt(idTime + 5, requestId);
    const junk = objectKey("request", idTime, idTime, "00000000000000aa");
    await env.AUDIT_ARCHIVE.put(junk, "not a parquet file");
    await archive([event]);
    const { res, body } = await lookup(requestId, countingArchive().bucket);
    expect(res.status).toBe(200);
    expect((body as Found).event).toStrictEqual(event);
    const logged = errors.mock.calls.map((args) => JSON.parse(String(args[0])));
    expect(logged).toContainEqual(expect.objectContaining({ msg: "audit_archive_object_unreadable", keys: [junk] }));
  });
});
