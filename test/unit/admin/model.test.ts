import { describe, expect, it } from "vitest";
import { keyStatus, keyView, kvExpirationOf, kvRecordOf, overlapEnd, type StoredKey, StoredKeySchema } from "../../../src/admin/model";
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

  it("the view never holds the secret hash", () => {
    expect(JSON.stringify(keyView(stored(), NOW))).not.toContain("a".repeat(64));
    expect(keyView(stored(), NOW)).not.toHaveProperty("secret_hash");
  });

  it.each([
    ["no end: no KV expiration", {}, null],
    ["revoked: a day after", { status: "revoked" as const, revoked_at: "2026-06-01T00:00:00.000Z" }, NOW / 1000 + 86_400],
    ["expiring: a day after its expiry", { expires_at: "2026-07-01T00:00:00.000Z" }, Date.parse("2026-07-01T00:00:00Z") / 1000 + 86_400],
    ["already expired: a day from now", { expires_at: "2026-01-01T00:00:00.000Z" }, NOW / 1000 + 86_400],
  ])("kvExpirationOf: %s", (_name, overrides, expected) => {
    expect(kvExpirationOf(stored(overrides), NOW)).toBe(expected);
  });
});
