import { describe, expect, it } from "vitest";
import {
  checkExpiresAt,
  KV_MAX_EXPIRATION_SECONDS,
  keyEndMs,
  keyStatus,
  keyView,
  kvExpirationOf,
  kvRecordOf,
  MAX_EXPIRES_AHEAD_DAYS,
  overlapEnd,
  type StoredKey,
  StoredKeySchema,
} from "../../../src/admin/model";
import { KeyRecordSchema } from "../../../src/keys/record";

const NOW = Date.parse("2026-06-01T00:00:00Z");

function stored(overrides: Partial<StoredKey> = {}): StoredKey {
  return StoredKeySchema.parse({
    v: 1,
    key_id: "key_abc",
    account_id: "acct_1",
    mode: "live",
    label: null,
    status: "active",
    created_at: "2026-01-01T00:00:00.000Z",
    expires_at: null,
    revoked_at: null,
    secret_hash: "a".repeat(64),
    hash_key_id: "hk1",
    secret_hint: "WXYZ",
    secret_format: "checksum",
    source: "generated",
    replaces_key_id: null,
    replaced_by_key_id: null,
    rotated_at: null,
    created_by: "ops",
    policy: null,
    ...overrides,
  });
}

describe("overlapEnd", () => {
  it.each([
    ["24 h by default", null, 86_400, "2026-06-02T00:00:00.000Z"],
    ["0 = now", null, 0, "2026-06-01T00:00:00.000Z"],
    ["never beyond the key's own expiry", "2026-06-01T06:00:00.000Z", 86_400, "2026-06-01T06:00:00.000Z"],
    ["a later own expiry does not lengthen it", "2027-01-01T00:00:00.000Z", 3_600, "2026-06-01T01:00:00.000Z"],
  ])("%s", (_name, ownExpiry, overlap, end) => {
    expect(overlapEnd(stored({ expires_at: ownExpiry }), overlap, NOW)).toBe(end);
  });
});

describe("keyStatus", () => {
  it.each([
    [{}, "active"],
    [{ expires_at: "2026-06-01T00:00:00.000Z" }, "expired"],
    [{ expires_at: "2026-06-01T00:00:00.001Z" }, "active"],
    [{ status: "revoked" as const, revoked_at: "2026-05-01T00:00:00.000Z" }, "revoked"],
  ])("%j → %s", (overrides, status) => {
    expect(keyStatus(stored(overrides), NOW)).toBe(status);
  });

  it.each([
    [{}, "synced", "active"],
    [{}, "pending", "active"],
    [{}, "failed", "sync_failed"],
    [{ expires_at: "2026-06-01T00:00:00.000Z" }, "failed", "expired"],
    [{ status: "revoked" as const, revoked_at: "2026-05-01T00:00:00.000Z" }, "failed", "revoked"],
  ] as const)("%j with its KV record %s → %s (a key KV refused is never shown as active)", (overrides, kvSync, status) => {
    expect(keyStatus(stored(overrides), NOW, kvSync)).toBe(status);
    expect(keyView(stored(overrides), NOW, kvSync)).toMatchObject({ status, kv_sync: kvSync });
  });
});

describe("projections", () => {
  it("the KV record is a valid v1 record without the hash or any admin-only field", () => {
    const record = kvRecordOf(stored({ label: "x" }));
    expect(KeyRecordSchema.parse(record)).toEqual(record);
    expect(record).toEqual({
      v: 1,
      key_id: "key_abc",
      account_id: "acct_1",
      mode: "live",
      status: "active",
      label: "x",
      created_at: "2026-01-01T00:00:00.000Z",
      expires_at: null,
      hash_key_id: "hk1",
    });
    expect(kvRecordOf(stored())).not.toHaveProperty("label");
  });

  it("while the account is suspended the KV record is v3: the v1/v2 fields plus account_suspended_at", () => {
    const at = "2026-05-31T12:00:00.000Z";
    const plain = kvRecordOf(stored({ label: "x" }), at);
    expect(KeyRecordSchema.parse(plain)).toEqual(plain);
    expect(plain).toEqual({ ...kvRecordOf(stored({ label: "x" })), v: 3, account_suspended_at: at });
    expect(plain).not.toHaveProperty("policy");
    const policy = { scopes: null, ip_allowlist: ["203.0.113.0/24"], rate_limit_per_minute: null };
    const guarded = kvRecordOf(stored({ policy }), at);
    expect(guarded).toMatchObject({ v: 3, policy: { ip_allowlist: ["203.0.113.0/24"] }, account_suspended_at: at });
    expect(kvRecordOf(stored({ policy }), null)).toMatchObject({ v: 2 });
    expect(kvRecordOf(stored({ policy }), null)).not.toHaveProperty("account_suspended_at");
  });

  it.each([
    ["no end: null", {}, null],
    ["an expiry: it", { expires_at: "2026-07-01T00:00:00.000Z" }, Date.parse("2026-07-01T00:00:00Z")],
    ["revoked: the revocation", { status: "revoked" as const, revoked_at: "2026-06-01T00:00:00.000Z" }, NOW],
    [
      "revoked after it expired: the expiry",
      { status: "revoked" as const, revoked_at: "2026-06-01T00:00:00.000Z", expires_at: "2026-05-01T00:00:00.000Z" },
      Date.parse("2026-05-01T00:00:00Z"),
    ],
    [
      "revoked before its expiry: the revocation",
      { status: "revoked" as const, revoked_at: "2026-06-01T00:00:00.000Z", expires_at: "2026-07-01T00:00:00.000Z" },
      NOW,
    ],
  ])("keyEndMs (the feed's not_after_ms): %s", (_name, overrides, expected) => {
    expect(keyEndMs(stored(overrides))).toBe(expected);
  });

  it("the view never holds the secret hash", () => {
    expect(JSON.stringify(keyView(stored(), NOW, "synced"))).not.toContain("a".repeat(64));
    expect(keyView(stored(), NOW, "synced")).not.toHaveProperty("secret_hash");
  });

  it.each([
    ["no end: no KV expiration", {}, null],
    ["revoked: a day after", { status: "revoked" as const, revoked_at: "2026-06-01T00:00:00.000Z" }, NOW / 1000 + 86_400],
    ["expiring: a day after its expiry", { expires_at: "2026-07-01T00:00:00.000Z" }, Date.parse("2026-07-01T00:00:00Z") / 1000 + 86_400],
    ["already expired: a day from now", { expires_at: "2026-01-01T00:00:00.000Z" }, NOW / 1000 + 86_400],
  ])("kvExpirationOf: %s", (_name, overrides, expected) => {
    expect(kvExpirationOf(stored(overrides), NOW)).toBe(expected);
  });

  // The KV binding takes an `expiration` of at most 2^31 − 1 s (2038-01-19T03:14:07Z) and throws above it.
  const LAST_END = new Date((KV_MAX_EXPIRATION_SECONDS - 86_400) * 1000).toISOString();
  it.each([
    ["ending exactly a day before the binding's bound: that bound", LAST_END, KV_MAX_EXPIRATION_SECONDS],
    ["ending a second later: no KV expiration", new Date(Date.parse(LAST_END) + 1000).toISOString(), null],
    ["ending 2038-01-19 (issue 11): no KV expiration", "2038-01-19T00:00:00.000Z", null],
    ["ending 9999-12-31: no KV expiration", "9999-12-31T23:59:59.000Z", null],
  ])("kvExpirationOf never exceeds what KV takes: %s", (_name, expiresAt, expected) => {
    const expiration = kvExpirationOf(stored({ expires_at: expiresAt }), NOW);
    expect(expiration).toBe(expected);
    if (expiration !== null) expect(expiration).toBeLessThanOrEqual(KV_MAX_EXPIRATION_SECONDS);
  });

  it("a revoked key with a far expiry still gets its day of retention", () => {
    const key = stored({ expires_at: "9999-12-31T23:59:59.000Z", status: "revoked", revoked_at: "2026-06-01T00:00:00.000Z" });
    expect(kvExpirationOf(key, NOW)).toBe(NOW / 1000 + 86_400);
  });
});

describe("checkExpiresAt (create, import, rotate)", () => {
  const DAY = 86_400_000;
  const latest = new Date(NOW + MAX_EXPIRES_AHEAD_DAYS * DAY).toISOString();
  it.each([
    ["omitted: no expiry", undefined, null],
    ["null: no expiry", null, null],
    ["a second ahead", "2026-06-01T00:00:01Z", "2026-06-01T00:00:01.000Z"],
    ["exactly the bound", latest, latest],
  ])("%s → accepted", (_name, value, expiresAt) => {
    expect(checkExpiresAt(value, NOW, "body.expires_at")).toEqual({ ok: true, expiresAt });
  });

  it.each([
    ["now", "2026-06-01T00:00:00Z", "must be in the future"],
    ["the past", "2020-01-01T00:00:00Z", "must be in the future"],
    [
      "a millisecond past the bound",
      new Date(NOW + MAX_EXPIRES_AHEAD_DAYS * DAY + 1).toISOString(),
      `at most ${MAX_EXPIRES_AHEAD_DAYS} days`,
    ],
    ["2038-01-19 (past the KV bound)", "2038-01-19T00:00:00Z", `no later than ${latest}`],
    ["9999-12-31", "9999-12-31T23:59:59Z", `no later than ${latest}`],
  ])("%s → refused with a message naming the field and the bound", (_name, value, text) => {
    const checked = checkExpiresAt(value, NOW, "body.expires_at");
    expect(checked.ok).toBe(false);
    if (!checked.ok) {
      expect(checked.message).toContain("body.expires_at");
      expect(checked.message).toContain(text);
    }
  });

  it("the bound is 3650 days; an expiry at the bound (from 2026) still gets a KV expiration a day after it", () => {
    expect(MAX_EXPIRES_AHEAD_DAYS).toBe(3_650);
    const checked = checkExpiresAt(latest, NOW, "body.expires_at");
    expect(checked.ok && kvExpirationOf(stored({ expires_at: checked.expiresAt }), NOW)).toBe(Date.parse(latest) / 1000 + 86_400);
  });
});
