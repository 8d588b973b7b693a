/**
 * The archive lookup's decisions (src/audit/archive/lookup.ts): which hour prefixes, which objects and
 * in which order, when the archive is not searched at all, rows back to events; and its R2 calls
 * against a stand-in bucket: pagination by cursor, and each limit.
 */
import { v7 } from "uuid";
import { describe, expect, it } from "vitest";
import { hourPrefix, objectKey, parseObjectKey } from "../../../../src/audit/archive/layout";
import {
  ARCHIVE_LOOKUP_LIMITS,
  type ArchiveLookupLimits,
  archivedRowToAuditEvent,
  archivePlan,
  type Candidate,
  findArchivedAuditEvent,
  lookupPrefixes,
  lookupWindow,
  objectMayHold,
  pastWindow,
  readOrder,
} from "../../../../src/audit/archive/lookup";
import { contentIdOf, encodeRequestEvents, readArchivedRows } from "../../../../src/audit/archive/parquet";
import { type AuditEvent, buildAuditEvent } from "../../../../src/audit/event";
import { sampleAuditInput } from "../../../helpers/audit";

const MIN = 60_000;
const HOUR = 3_600_000;
/** 2026-03-14T09:30:00.000Z, mid-hour. */
const T = Date.UTC(2026, 2, 14, 9, 30, 0, 0);

function name(firstMs: number, lastMs: number, id = "0123456789abcdef") {
  return parseObjectKey(objectKey("request", firstMs, lastMs, id)) as NonNullable<ReturnType<typeof parseObjectKey>>;
}

function candidate(firstMs: number, lastMs: number, id = "0123456789abcdef", size = 1000): Candidate {
  const key = objectKey("request", firstMs, lastMs, id);
  return { key, name: name(firstMs, lastMs, id), size };
}

describe("which hours are listed", () => {
  it.each([
    ["mid-hour: its hour only", T, [T]],
    ["more than a minute after the hour: its hour only", Date.UTC(2026, 2, 14, 9, 1, 0, 1), [T]],
    ["within a minute after the hour: the hour before too", Date.UTC(2026, 2, 14, 9, 0, 30, 0), [T - HOUR, T]],
    ["within a minute before the hour: the hour after too", Date.UTC(2026, 2, 14, 9, 59, 59, 990), [T, T + HOUR]],
    ["across midnight and the year", Date.UTC(2026, 11, 31, 23, 59, 30, 0), [Date.UTC(2026, 11, 31, 23), Date.UTC(2027, 0, 1, 0)]],
  ])("%s", (_name, idTime, hours) => {
    expect(lookupPrefixes(lookupWindow(idTime, ARCHIVE_LOOKUP_LIMITS.toleranceMs))).toEqual(hours.map((h) => hourPrefix("request", h)));
  });

  it("the tolerance is ±60 s", () => {
    expect(lookupWindow(T, ARCHIVE_LOOKUP_LIMITS.toleranceMs)).toEqual({ fromMs: T - MIN, toMs: T + MIN });
  });
});

describe("which objects may hold the event", () => {
  const window = lookupWindow(T, MIN);
  it.each([
    ["bounds that cover the id's time", T - 5_000, T + 5_000, true],
    ["one event, at the id's time", T, T, true],
    ["ending within the tolerance before it", T - 3 * MIN, T - MIN, true],
    ["starting within the tolerance after it", T + MIN, T + 2 * MIN, true],
    ["ending more than the tolerance before it", T - 3 * MIN, T - MIN - 1, false],
    ["starting more than the tolerance after it", T + MIN + 1, T + 2 * MIN, false],
  ])("%s → %s", (_name, first, last, may) => {
    expect(objectMayHold(name(first, last), window)).toBe(may);
  });

  it("admin objects never", () => {
    const admin = parseObjectKey(objectKey("admin", T, T, "0123456789abcdef"));
    expect(admin && objectMayHold(admin, window)).toBe(false);
  });

  it("the listing of an hour stops at the first object starting after the window", () => {
    expect(pastWindow(name(T + MIN, T + 2 * MIN), window)).toBe(false);
    expect(pastWindow(name(T + MIN + 1, T + 2 * MIN), window)).toBe(true);
  });
});

describe("readOrder", () => {
  it("covering objects first, narrowest first; then by distance; ties by key", () => {
    const wide = candidate(T - 50_000, T + 50_000, "000000000000000a");
    const narrow = candidate(T - 1_000, T + 1_000, "000000000000000b");
    const before = candidate(T - 40_000, T - 2_000, "000000000000000c");
    const after = candidate(T + 500, T + 9_000, "000000000000000d");
    const twinA = candidate(T + 500, T + 9_000, "000000000000000e");
    expect(readOrder([before, twinA, wide, after, narrow], T).map((c) => c.key)).toEqual([
      narrow.key,
      wide.key,
      after.key,
      twinA.key,
      before.key,
    ]);
  });
});

describe("archivePlan: does a D1 miss go on to the archive?", () => {
  const now = Date.UTC(2026, 11, 6, 12, 0, 0, 0);
  it.each([
    ["a UUIDv4 (older ids): no, it has no time", "5f0c1c9e-3f5e-4a54-9b1e-0b8a3f7d2c11", { search: false, why: "no_time" }],
    ["any other id: no", "req-e05", { search: false, why: "no_time" }],
    ["a UUIDv7 of a minute ago: no, D1 is where it will be", v7({ msecs: now - MIN }), { search: false, why: "too_recent" }],
    ["a UUIDv7 from the future: no", v7({ msecs: now + HOUR }), { search: false, why: "too_recent" }],
    ["a UUIDv7 of exactly 5 minutes ago: yes", v7({ msecs: now - 5 * MIN }), { search: true, idTimeMs: now - 5 * MIN }],
    [
      "a UUIDv7 of 100 days ago: yes, at its time",
      v7({ msecs: now - 100 * 86_400_000 }),
      { search: true, idTimeMs: now - 100 * 86_400_000 },
    ],
  ])("%s", (_name, id, plan) => {
    expect(archivePlan(id, now)).toEqual(plan);
  });
});

function event(overrides: Parameters<typeof sampleAuditInput>[0] = {}): AuditEvent {
  return buildAuditEvent(sampleAuditInput({ timeMs: T, ...overrides }));
}

describe("archivedRowToAuditEvent", () => {
  it("an archived row is the event that was archived, exactly (time as ISO text, booleans, parsed JSON, folded_count only on a fold)", async () => {
    const plain = event();
    const bare = event({
      eventId: "evt_2",
      requestId: "req_2",
      accountId: null,
      keyId: null,
      mode: null,
      userAgent: null,
      rayId: null,
      sourceIp: null,
      sourceIpFrom: "none",
      forwarded: { raw: null, rawLength: 0, entries: [], count: 0 },
      forgedHeaders: ["x-spot-account-id", "x-spot-assertion"],
      outcome: "denied",
      reason: "invalid_credentials",
      accountVerified: false,
      status: 401,
    });
    const folded: AuditEvent = { ...event({ eventId: "evt_3", requestId: "req_3" }), folded_count: 12 };
    const rows = await readArchivedRows(encodeRequestEvents([plain, bare, folded]).slice().buffer);
    expect(rows.map(archivedRowToAuditEvent)).toStrictEqual([plain, bare, folded]);
  });
});

// ---------------------------------------------------------------------------------------------
// The R2 calls, against a stand-in bucket.

interface FakeObject {
  key: string;
  size?: number;
  bytes?: Uint8Array;
}

/** A bucket that lists `objects` (sorted by key) `pageSize` at a time with a cursor, and records its calls. */
function fakeBucket(objects: FakeObject[], pageSize = 1000) {
  const sorted = [...objects].sort((a, b) => (a.key < b.key ? -1 : 1));
  const calls = { lists: [] as R2ListOptions[], gets: [] as string[] };
  const bucket = {
    async list(options: R2ListOptions) {
      calls.lists.push(options);
      const all = sorted.filter((o) => o.key.startsWith(options.prefix ?? ""));
      const start = options.cursor === undefined ? 0 : Number(options.cursor);
      const count = Math.min(pageSize, options.limit ?? 1000);
      const page = all.slice(start, start + count);
      const truncated = start + count < all.length;
      return {
        objects: page.map((o) => ({ key: o.key, size: o.size ?? o.bytes?.length ?? 0 })),
        delimitedPrefixes: [],
        truncated,
        ...(truncated ? { cursor: String(start + count) } : {}),
      };
    },
    async get(key: string) {
      calls.gets.push(key);
      const found = sorted.find((o) => o.key === key);
      if (!found?.bytes) return null;
      const bytes = found.bytes;
      return { arrayBuffer: async () => bytes.slice().buffer };
    },
  } as unknown as R2Bucket;
  return { bucket, calls };
}

async function archived(events: AuditEvent[]): Promise<FakeObject> {
  const times = events.map((e) => Date.parse(e.time));
  const key = objectKey("request", Math.min(...times), Math.max(...times), await contentIdOf(events.map((e) => e.event_id)));
  return { key, bytes: encodeRequestEvents(events) };
}

/** `n` objects of one event each, every one covering T, none holding `req_x`. */
async function coveringObjects(n: number): Promise<FakeObject[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      archived([
        event({ eventId: `f${i}`, requestId: `other_${i}`, timeMs: T - i }),
        event({ eventId: `g${i}`, requestId: `o_${i}`, timeMs: T + i }),
      ]),
    ),
  );
}

const limits = (patch: Partial<ArchiveLookupLimits>): ArchiveLookupLimits => ({ ...ARCHIVE_LOOKUP_LIMITS, ...patch });

describe("findArchivedAuditEvent", () => {
  it("follows the listing's cursor across pages, and stops listing past the window", async () => {
    const target = event({ eventId: "hit", requestId: "req_x" });
    const early = await Promise.all(
      [0, 1, 2, 3, 4].map((i) => archived([event({ eventId: `e${i}`, requestId: `e${i}`, timeMs: T - 20 * MIN + i })])),
    );
    const late = await Promise.all(
      [0, 1, 2, 3, 4].map((i) => archived([event({ eventId: `l${i}`, requestId: `l${i}`, timeMs: T + 20 * MIN + i })])),
    );
    const hit = await archived([target]);
    const { bucket, calls } = fakeBucket([...early, hit, ...late], 2);
    const result = await findArchivedAuditEvent(bucket, "req_x", T);
    expect(result).toMatchObject({ outcome: "found", event: target, objectKey: hit.key, objectsRead: 1 });
    // 5 early keys + the hit + the first late key: 7 keys, pages of 2 → 4 calls; the last 4 late keys are never listed.
    expect(calls.lists.map((o) => o.cursor)).toEqual([undefined, "2", "4", "6"]);
    expect(calls.lists.every((o) => o.prefix === hourPrefix("request", T))).toBe(true);
    expect(calls.gets).toEqual([hit.key]);
  });

  it("every candidate read and none holds it → not_found", async () => {
    const { bucket, calls } = fakeBucket(await coveringObjects(3));
    expect(await findArchivedAuditEvent(bucket, "req_x", T)).toMatchObject({ outcome: "not_found", objectsRead: 3, listCalls: 1 });
    expect(calls.gets).toHaveLength(3);
  });

  it("more candidates than maxObjects → bounded after reading maxObjects", async () => {
    const { bucket, calls } = fakeBucket(await coveringObjects(5));
    const result = await findArchivedAuditEvent(bucket, "req_x", T, limits({ maxObjects: 3 }));
    expect(result).toMatchObject({ outcome: "bounded", why: "objects", candidates: 5, objectsRead: 3 });
    expect(calls.gets).toHaveLength(3);
  });

  it("a listing longer than maxListCalls pages → bounded, nothing of the rest listed", async () => {
    const { bucket, calls } = fakeBucket(await coveringObjects(5), 1);
    const result = await findArchivedAuditEvent(bucket, "req_x", T, limits({ maxListCalls: 2 }));
    expect(result).toMatchObject({ outcome: "bounded", why: "listing", candidates: 2, listCalls: 2, objectsRead: 2 });
    expect(calls.lists).toHaveLength(2);
  });

  it("an object over maxObjectBytes is not read → bounded (the others are)", async () => {
    const [big, small] = await coveringObjects(2);
    const { bucket, calls } = fakeBucket([{ ...(big as FakeObject), size: 10_000_000 }, small as FakeObject]);
    const result = await findArchivedAuditEvent(bucket, "req_x", T, limits({ maxObjectBytes: 1_000_000 }));
    expect(result).toMatchObject({ outcome: "bounded", why: "object_size", objectsRead: 1 });
    expect(calls.gets).toEqual([small?.key]);
  });

  it("an object that is not Parquet is passed over and named; one gone since the listing too", async () => {
    const target = event({ eventId: "hit", requestId: "req_x", timeMs: T + 10 });
    const hit = await archived([target]);
    const junk = { key: objectKey("request", T - 1, T + 1, "00000000000000aa"), bytes: new TextEncoder().encode("not parquet") };
    const gone = { key: objectKey("request", T, T, "00000000000000bb"), size: 10 };
    const { bucket, calls } = fakeBucket([junk, gone, hit]);
    const result = await findArchivedAuditEvent(bucket, "req_x", T);
    expect(result).toMatchObject({ outcome: "found", event: target, unreadable: [junk.key], objectsRead: 3 });
    expect(calls.gets).toEqual([gone.key, junk.key, hit.key]);
  });

  it("keys that are not archive objects are skipped", async () => {
    const hit = await archived([event({ eventId: "hit", requestId: "req_x" })]);
    const { bucket, calls } = fakeBucket([{ key: `${hourPrefix("request", T)}README.txt`, size: 5 }, hit]);
    expect(await findArchivedAuditEvent(bucket, "req_x", T)).toMatchObject({ outcome: "found" });
    expect(calls.gets).toEqual([hit.key]);
  });

  it("an R2 error is thrown to the caller", async () => {
    const bucket = {
      list: async () => {
        throw new Error("R2 unavailable");
      },
    } as unknown as R2Bucket;
    await expect(findArchivedAuditEvent(bucket, "req_x", T)).rejects.toThrow("R2 unavailable");
  });
});
