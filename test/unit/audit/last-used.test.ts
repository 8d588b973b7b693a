import { describe, expect, it } from "vitest";
import { buildAdminAuditEvent } from "../../../src/audit/admin-event";
import { type AuditEvent, buildAuditEvent } from "../../../src/audit/event";
import { countsAsUse, KEY_LAST_USED_COLUMNS, lastUsedRowsJson, latestUseByKey, UPSERT_LAST_USED_SQL } from "../../../src/audit/last-used";
import { sampleAuditInput } from "../../helpers/audit";

const T0 = Date.UTC(2026, 11, 6, 10, 0, 0, 0);

/** An allowed request of `key` of acct_1 at T0 + `offsetMs`. */
function use(id: string, offsetMs: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    ...buildAuditEvent(
      sampleAuditInput({ eventId: id, requestId: `req-${id}`, timeMs: T0 + offsetMs, accountId: "acct_1", keyId: "key_a" }),
    ),
    ...overrides,
  };
}

function adminEvent() {
  return buildAdminAuditEvent({
    eventId: "adm",
    timeMs: T0 + 60_000,
    requestId: "req-adm",
    rayId: null,
    action: "key.get",
    outcome: "allowed",
    reason: "ok",
    status: 200,
    actorSub: "ops@spot-thought.test",
    actorEmail: null,
    accountId: "acct_1",
    keyId: "key_a",
    newKeyId: null,
    method: "GET",
    path: "/__spot/admin/v1/accounts/acct_1/keys/key_a",
    connectingIp: "198.51.100.99",
    userAgent: "spot-keys/0.1",
    durationMs: 3,
  });
}

describe("countsAsUse", () => {
  it.each([
    ["allowed, ok", {}, true],
    ["allowed, client disconnected", { reason: "client_disconnected" }, true],
    ["error: origin unreachable", { outcome: "error", reason: "upstream_unavailable", status: 502 }, true],
    ["error: origin timeout", { outcome: "error", reason: "upstream_timeout", status: 504 }, true],
    ["error: origin body broke off", { outcome: "error", reason: "upstream_body_incomplete" }, true],
    ["error: authorizer unavailable (not forwarded)", { outcome: "error", reason: "authorizer_unavailable", status: 503 }, false],
    ["error: internal error (not forwarded)", { outcome: "error", reason: "internal_error", status: 503 }, false],
    ["denied 401", { outcome: "denied", reason: "invalid_credentials", status: 401, account_verified: false, key_id: null }, false],
    ["denied 403 with a verified key", { outcome: "denied", reason: "ip_not_allowed", status: 403 }, false],
    ["denied 429 with a verified key", { outcome: "denied", reason: "rate_limited", status: 429 }, false],
    ["denied 400 upload broke off", { outcome: "denied", reason: "request_body_incomplete", status: 400 }, false],
    ["allowed without key_id", { key_id: null }, false],
    ["allowed without account_id", { account_id: null }, false],
    ["allowed, not verified", { account_verified: false }, false],
  ] as [string, Partial<AuditEvent>, boolean][])("%s → %s", (_, overrides, expected) => {
    expect(countsAsUse(use("e", 0, overrides))).toBe(expected);
  });

  it("an admin event is never a use, whatever it names", () => {
    expect(countsAsUse(adminEvent())).toBe(false);
  });
});

describe("latestUseByKey", () => {
  it("keeps one use per key: the latest time, whatever the order", () => {
    const uses = latestUseByKey([
      use("a1", 2000, { connecting_ip: "203.0.113.2" }),
      use("a2", 5000, { connecting_ip: "203.0.113.5" }),
      use("a3", 1000, { connecting_ip: "203.0.113.1" }),
    ]);
    expect(uses).toEqual([
      {
        account_id: "acct_1",
        key_id: "key_a",
        last_used_at: "2026-12-06T10:00:05.000Z",
        last_used_ms: T0 + 5000,
        last_used_ip: "203.0.113.5",
        request_id: "req-a2",
      },
    ]);
  });

  it("of uses at the same millisecond keeps the later one in batch order", () => {
    const uses = latestUseByKey([use("t1", 0, { connecting_ip: "203.0.113.1" }), use("t2", 0, { connecting_ip: "203.0.113.2" })]);
    expect(uses.map((u) => [u.request_id, u.last_used_ip])).toEqual([["req-t2", "203.0.113.2"]]);
  });

  it("tells keys apart by account and key, in the order of their first use", () => {
    const uses = latestUseByKey([
      use("b1", 1, { key_id: "key_b" }),
      use("a1", 2),
      use("c1", 3, { account_id: "acct_2" }),
      use("b2", 4, { key_id: "key_b" }),
    ]);
    expect(uses.map((u) => [u.account_id, u.key_id, u.request_id])).toEqual([
      ["acct_1", "key_b", "req-b2"],
      ["acct_1", "key_a", "req-a1"],
      ["acct_2", "key_a", "req-c1"],
    ]);
  });

  it("leaves out what is not a use, even when it is later", () => {
    const uses = latestUseByKey([
      use("ok", 1000),
      use("denied", 9000, { outcome: "denied", reason: "rate_limited", status: 429 }),
      use("nokey", 9000, { key_id: null, account_verified: false }),
      adminEvent(),
    ]);
    expect(uses.map((u) => u.request_id)).toEqual(["req-ok"]);
  });

  it("keeps a null connecting IP as null", () => {
    expect(latestUseByKey([use("n", 0, { connecting_ip: null })])[0]?.last_used_ip).toBeNull();
  });

  it("is empty for no uses", () => {
    expect(latestUseByKey([])).toEqual([]);
    expect(latestUseByKey([use("d", 0, { outcome: "denied", reason: "ip_not_allowed" })])).toEqual([]);
  });
});

describe("the upsert", () => {
  it("sends each use as an array in column order", () => {
    const [u] = latestUseByKey([use("j", 7)]);
    expect(JSON.parse(lastUsedRowsJson(u ? [u] : []))).toEqual([
      ["acct_1", "key_a", "2026-12-06T10:00:00.007Z", T0 + 7, "198.51.100.23", "req-j"],
    ]);
    expect(KEY_LAST_USED_COLUMNS.length).toBe(6);
  });

  it("only moves a key's last use forward", () => {
    expect(UPSERT_LAST_USED_SQL).toContain("ON CONFLICT (account_id, key_id) DO UPDATE SET");
    expect(UPSERT_LAST_USED_SQL).toMatch(/WHERE excluded\.last_used_ms > key_last_used\.last_used_ms$/);
  });
});
