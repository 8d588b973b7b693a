import { describe, expect, it } from "vitest";
import type { AdminAuditEvent } from "../../../../src/audit/admin-event";
import { contentIdOf, encodeAdminEvents, encodeRequestEvents, readArchivedRows } from "../../../../src/audit/archive/parquet";
import { ADMIN_EVENT_COLUMNS, AUDIT_EVENT_COLUMNS } from "../../../../src/audit/columns";
import { buildAuditEvent } from "../../../../src/audit/event";
import { sampleAuditInput } from "../../../helpers/audit";

const PARQUET_MAGIC = [0x50, 0x41, 0x52, 0x31]; // "PAR1"

describe("request events as Parquet", () => {
  const events = [
    buildAuditEvent(sampleAuditInput()),
    buildAuditEvent(
      sampleAuditInput({
        eventId: "evt_2",
        requestId: "req_2",
        accountId: null,
        keyId: null,
        userAgent: null,
        forgedHeaders: ["x-spot-key-id"],
      }),
    ),
  ];

  it("writes a Parquet file (PAR1 … PAR1) with one column per D1 column, read back value for value", async () => {
    const bytes = encodeRequestEvents(events);
    expect([...bytes.subarray(0, 4)]).toEqual(PARQUET_MAGIC);
    expect([...bytes.subarray(bytes.length - 4)]).toEqual(PARQUET_MAGIC);
    const rows = await readArchivedRows(bytes.slice().buffer);
    expect(rows).toHaveLength(2);
    expect(Object.keys(rows[0] as object)).toEqual([...AUDIT_EVENT_COLUMNS]);
    const [first, second] = rows as Record<string, unknown>[];
    const e = events[0];
    expect(first).toMatchObject({
      event_id: e?.event_id,
      v: 1,
      request_id: "req_1",
      account_verified: true,
      status: 200,
      source_ip_asserted: true,
      folded_count: 0n,
      forwarded_count: 2n,
    });
    expect(first?.time).toEqual(new Date(e?.time as string));
    expect(first?.time_ms).toBe(BigInt(Date.parse(e?.time as string)));
    expect(first?.forwarded_chain).toEqual(e?.forwarded_chain);
    expect(second).toMatchObject({ account_id: null, key_id: null, user_agent: null, forged_headers: ["x-spot-key-id"] });
  });

  it("keeps counts the event schema allows beyond 32 bits (INT64, read back as bigint)", async () => {
    const big = { ...buildAuditEvent(sampleAuditInput()), duration_ms: Number.MAX_SAFE_INTEGER, folded_count: 2 ** 31 };
    const [row] = await readArchivedRows(encodeRequestEvents([big]).slice().buffer);
    expect(row).toMatchObject({ duration_ms: BigInt(Number.MAX_SAFE_INTEGER), folded_count: 2n ** 31n, status: 200, v: 1 });
  });

  it("filters by request id when asked", async () => {
    const rows = await readArchivedRows(encodeRequestEvents(events).slice().buffer, "req_2");
    expect(rows.map((r) => r.event_id)).toEqual(["evt_2"]);
  });
});

describe("admin events as Parquet", () => {
  it("one column per admin_audit_events column", async () => {
    const admin: AdminAuditEvent = {
      kind: "admin",
      v: 1,
      event_id: "adm_1",
      request_id: "req_a",
      ray_id: null,
      time: "2026-12-06T10:00:00.000Z",
      action: "key.update",
      outcome: "allowed",
      reason: "ok",
      status: 200,
      actor_sub: "alice",
      actor_email: null,
      account_id: "acct_1",
      key_id: "key_1",
      new_key_id: null,
      method: "PATCH",
      path: "/__spot/admin/v1/accounts/acct_1/keys/key_1",
      query: null,
      connecting_ip: "198.51.100.1",
      user_agent: "spot-keys",
      duration_ms: 4,
      changes: ["label"],
      truncated: false,
    };
    const rows = await readArchivedRows(encodeAdminEvents([admin]).slice().buffer);
    expect(Object.keys(rows[0] as object)).toEqual([...ADMIN_EVENT_COLUMNS]);
    expect(rows[0]).toMatchObject({ action: "key.update", changes: ["label"], actor_email: null, truncated: false });
  });
});

describe("contentIdOf", () => {
  it("16 hex characters, the same for the same ids in any order, different for other ids", async () => {
    const a = await contentIdOf(["e1", "e2", "e3"]);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(await contentIdOf(["e3", "e1", "e2"])).toBe(a);
    expect(await contentIdOf(["e1", "e2"])).not.toBe(a);
  });
});
