/**
 * The KV key record's v3 (a key of a suspended account, issue 13): what validates, what a reader that
 * knows only v1/v2 does with it, its policy, and `checkKeyRecord`'s "suspended".
 */
import { describe, expect, it } from "vitest";
import * as z from "zod";
import {
  checkKeyRecord,
  KEY_RECORD_SUSPENDED_VERSION,
  type KeyRecord,
  KeyRecordSchema,
  KeyRecordV1Schema,
  KeyRecordV2Schema,
  KeyRecordV3Schema,
  policyOf,
} from "../../../src/keys/record";

const NOW = Date.parse("2026-06-01T00:00:00Z");
const SUSPENDED_AT = "2026-05-31T12:00:00.000Z";

function v3(overrides: Record<string, unknown> = {}): KeyRecord {
  return KeyRecordSchema.parse({
    v: 3,
    key_id: "key_abc",
    account_id: "acct_1",
    mode: "live",
    status: "active",
    created_at: "2026-01-01T00:00:00.000Z",
    expires_at: null,
    hash_key_id: "hk1",
    account_suspended_at: SUSPENDED_AT,
    ...overrides,
  });
}

describe("KeyRecordV3Schema", () => {
  it("is version 3, takes a record with or without a policy, and needs account_suspended_at as an ISO instant", () => {
    expect(KEY_RECORD_SUSPENDED_VERSION).toBe(3);
    expect(v3()).toMatchObject({ v: 3, account_suspended_at: SUSPENDED_AT });
    expect(v3({ policy: { rate_limit_per_minute: 600 } })).toMatchObject({ policy: { rate_limit_per_minute: 600 } });
    const { account_suspended_at: _, ...without } = v3() as Extract<KeyRecord, { v: 3 }>;
    expect(KeyRecordV3Schema.safeParse(without).success).toBe(false);
    expect(KeyRecordSchema.safeParse({ ...without, account_suspended_at: "yesterday" }).success).toBe(false);
    expect(KeyRecordSchema.safeParse({ ...without, account_suspended_at: SUSPENDED_AT, policy: {} }).success).toBe(false);
  });

  it("a reader that knows only v1 and v2 refuses a v3 record (the request path answers 503: fail closed)", () => {
    const previousReader = z.discriminatedUnion("v", [KeyRecordV1Schema, KeyRecordV2Schema]);
    expect(previousReader.safeParse(v3()).success).toBe(false);
    expect(previousReader.safeParse(v3({ policy: { ip_allowlist: ["203.0.113.0/24"] } })).success).toBe(false);
  });

  it("policyOf: none without a policy, the policy with one", () => {
    expect(policyOf(v3())).toEqual({ ipAllowlist: null, rateLimitPerMinute: null });
    expect(policyOf(v3({ policy: { ip_allowlist: ["203.0.113.0/24"], rate_limit_per_minute: 600 } }))).toEqual({
      ipAllowlist: ["203.0.113.0/24"],
      rateLimitPerMinute: 600,
    });
  });
});

describe("checkKeyRecord on a v3 record", () => {
  it.each([
    ["an active key of a suspended account", v3(), "acct_1", "live", "suspended"],
    ["with a policy", v3({ policy: { rate_limit_per_minute: 600 } }), "acct_1", "live", "suspended"],
    ["another account first", v3(), "acct_2", "live", "account_mismatch"],
    ["the mode first", v3(), "acct_1", "test", "mode_mismatch"],
    ["revoked first", v3({ status: "revoked" }), "acct_1", "live", "revoked"],
    ["expired first", v3({ expires_at: "2026-06-01T00:00:00.000Z" }), "acct_1", "live", "expired"],
  ] as const)("%s", (_name, record, account, mode, expected) => {
    expect(checkKeyRecord(record, account, mode, NOW)).toBe(expected);
  });

  it("the same record as v1 (the account resumed) authorizes", () => {
    const { account_suspended_at: _, ...fields } = v3() as Extract<KeyRecord, { v: 3 }>;
    expect(checkKeyRecord(KeyRecordSchema.parse({ ...fields, v: 1 }), "acct_1", "live", NOW)).toBeNull();
  });
});
