import { describe, expect, it } from "vitest";
import { type AdminAuditEvent, buildAdminAuditEvent } from "../../../../src/audit/admin-event";
import { archiveObjectOf, keyFromArchiveObject, objectKey } from "../../../../src/audit/archive/layout";
import { contentIdOf } from "../../../../src/audit/archive/parquet";
import {
  archiveKindOf,
  keysToCheck,
  type LedgerEntry,
  planArchiveObjects,
  relinkPlan,
  splitLedger,
} from "../../../../src/audit/archive/plan";
import { type AuditEvent, buildAuditEvent } from "../../../../src/audit/event";
import { sampleAuditInput } from "../../../helpers/audit";

const T = Date.UTC(2026, 11, 6, 10, 59, 58, 0);

function request(id: string, timeMs: number): AuditEvent {
  return buildAuditEvent(sampleAuditInput({ eventId: id, requestId: `req-${id}`, timeMs }));
}

function admin(id: string, timeMs: number): AdminAuditEvent {
  return buildAdminAuditEvent({
    eventId: id,
    timeMs,
    requestId: `req-${id}`,
    rayId: null,
    action: "key.list",
    outcome: "allowed",
    reason: "ok",
    status: 200,
    actorSub: "ops",
    actorEmail: null,
    accountId: "acct_1",
    keyId: null,
    newKeyId: null,
    method: "GET",
    path: "/__spot/admin/v1/accounts/acct_1/keys",
    connectingIp: null,
    userAgent: null,
    durationMs: 1,
  });
}

describe("planArchiveObjects", () => {
  it("no events, no objects", async () => {
    expect(await planArchiveObjects([])).toEqual([]);
  });

  it("one object per kind and UTC hour, rows by time then event id, in key order", async () => {
    const events = [request("r3", T + 3000), admin("a1", T), request("r2", T), request("r1", T), request("r4", T + 1500)];
    const groups = await planArchiveObjects(events);
    expect(groups.map((g) => [g.kind, g.events.map((e) => e.event_id)])).toEqual([
      ["admin", ["a1"]],
      ["request", ["r1", "r2", "r4"]],
      ["request", ["r3"]],
    ]);
    const [, hour10, hour11] = groups;
    expect(hour10).toMatchObject({ firstMs: T, lastMs: T + 1500 });
    expect(hour10?.key).toBe(objectKey("request", T, T + 1500, await contentIdOf(["r1", "r2", "r4"])));
    expect(hour10?.archiveObject).toBe(archiveObjectOf(hour10?.key as string));
    expect(hour11?.key).toContain("/dt=2026-12-06/hour=11/");
  });

  it("the same events make the same keys and rows whatever their order", async () => {
    const events = Array.from({ length: 30 }, (_, i) => request(`e${i}`, T + (i % 7) * 500));
    const a = await planArchiveObjects(events);
    const b = await planArchiveObjects([...events].reverse());
    expect(b).toEqual(a);
    expect((await planArchiveObjects(events.slice(1))).map((g) => g.key)).not.toEqual(a.map((g) => g.key));
  });

  it("an event id seen twice within a kind is archived once (the first); across kinds both are kept", async () => {
    const first = request("dup", T);
    const second = { ...request("dup", T), path: "/v1/other" };
    const groups = await planArchiveObjects([first, second, admin("dup", T)]);
    expect(groups.map((g) => [g.kind, g.events.length])).toEqual([
      ["admin", 1],
      ["request", 1],
    ]);
    expect(groups[1]?.events[0]).toBe(first);
  });

  it("archiveKindOf tells admin events from request events", () => {
    expect(archiveKindOf(admin("a", T))).toBe("admin");
    expect(archiveKindOf(request("r", T))).toBe("request");
  });
});

describe("the ledger of a redelivery", () => {
  const k1 = objectKey("request", T, T + 5, "0123456789abcdef");
  const k2 = objectKey("request", T + 10, T + 20, "fedcba9876543210");
  const ka = objectKey("admin", T, T, "0123456789abcdef");
  const entries: LedgerEntry[] = [
    { kind: "request", eventId: "r1", archiveObject: archiveObjectOf(k1) },
    { kind: "request", eventId: "r2", archiveObject: archiveObjectOf(k1) },
    { kind: "request", eventId: "r3", archiveObject: archiveObjectOf(k2) },
    { kind: "request", eventId: "r4", archiveObject: null },
    { kind: "request", eventId: "r5", archiveObject: "damaged" },
    { kind: "admin", eventId: "a1", archiveObject: archiveObjectOf(ka) },
  ];

  it("keysToCheck: each named object once, the kind's partition, in key order; NULL and damaged names none", () => {
    expect(keysToCheck(entries)).toEqual([ka, k1, k2].sort());
    expect(keyFromArchiveObject("admin", entries[5]?.archiveObject ?? null)).toBe(ka);
  });

  it("splitLedger: events in an existing object are archived; the others are pending", () => {
    const { archived, pending } = splitLedger(entries, new Set([k1, ka]));
    expect([...archived.request]).toEqual(["r1", "r2"]);
    expect([...archived.admin]).toEqual(["a1"]);
    expect(pending.map((e) => e.eventId)).toEqual(["r3", "r4", "r5"]);
    expect(splitLedger(entries, new Set()).pending).toHaveLength(entries.length);
  });

  it("relinkPlan: pending events move to the object now holding them, unless their row names it already", async () => {
    const groups = await planArchiveObjects([request("r3", T + 10), request("r4", T + 20), request("new", T + 30)]);
    const [group] = groups;
    const pending: LedgerEntry[] = [
      { kind: "request", eventId: "r3", archiveObject: archiveObjectOf(k2) },
      { kind: "request", eventId: "r4", archiveObject: group?.archiveObject ?? null },
      { kind: "request", eventId: "gone", archiveObject: null },
      { kind: "admin", eventId: "new", archiveObject: null },
    ];
    expect(relinkPlan(groups, pending)).toEqual([{ kind: "request", archiveObject: group?.archiveObject, eventIds: ["r3"] }]);
    expect(relinkPlan(groups, [])).toEqual([]);
  });
});
