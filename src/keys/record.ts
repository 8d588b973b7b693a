/**
 * The key record stored in KV (docs/storage.md) and the pure check of a record against the
 * credentials presented with a request.
 */
import * as z from "zod";
import { API_KEY_PATTERN, type KeyMode } from "./format";
import { type KeyPolicy, MAX_ALLOWLIST_ENTRIES, normalizeCidr } from "./policy";

/** Schema version of a record without a policy; a change is a migration (docs/storage.md). */
export const KEY_RECORD_VERSION = 1;
/**
 * Schema version of a record that carries a {@link KeyRecordPolicySchema policy}. A record gets v2
 * only when it has a policy, so a reader that knows only v1 refuses it (503, fail closed) rather
 * than silently ignoring an allowlist; records without a policy stay v1 and readable by both.
 */
export const KEY_RECORD_POLICY_VERSION = 2;
/**
 * Schema version of the record of a key whose account is suspended: the v2 fields with `policy`
 * optional, plus `account_suspended_at`. Written for every key of the account while it is suspended,
 * so a reader that knows only v1/v2 refuses it (503, fail closed) rather than accepting the key;
 * resuming the account writes the records back as v1/v2.
 */
export const KEY_RECORD_SUSPENDED_VERSION = 3;

const recordFields = {
  key_id: z.string().regex(/^key_[A-Za-z0-9]{1,64}$/),
  account_id: z.string().regex(API_KEY_PATTERN),
  mode: z.enum(["live", "test"]),
  status: z.enum(["active", "revoked"]),
  label: z.string().max(200).optional(),
  /** ISO 8601 UTC instant. */
  created_at: z.iso.datetime(),
  /** ISO 8601 UTC instant after which the key stops working; null or absent: no expiry. */
  expires_at: z.iso.datetime().nullable().optional(),
  /** Id of the HMAC key that made the hash (SECRET_HASH_KEY_ID when it was stored). */
  hash_key_id: z.string().min(1).max(64),
};

/** A CIDR range in the normal form of {@link normalizeCidr} (anything else is refused on read). */
const StoredCidr = z.string().refine((value) => {
  const result = normalizeCidr(value);
  return result.ok && result.cidr === value;
}, "must be a normalised CIDR range");

/** The policy part of a v2 record; at least one field is present. */
export const KeyRecordPolicySchema = z
  .object({
    /** Normalised CIDR ranges; the connecting IP must lie in one of them. */
    ip_allowlist: z.array(StoredCidr).min(1).max(MAX_ALLOWLIST_ENTRIES).optional(),
    /**
     * Requests per minute (per Cloudflare location) for this key instead of the default; written as
     * one of the tiers, enforced with the largest tier not above it (src/keys/policy.ts `enforcedTier`).
     */
    rate_limit_per_minute: z.number().int().positive().optional(),
  })
  .refine((policy) => policy.ip_allowlist !== undefined || policy.rate_limit_per_minute !== undefined, "must set at least one field");

/** v1: a key without a policy (docs/storage.md). */
export const KeyRecordV1Schema = z.object({ v: z.literal(KEY_RECORD_VERSION), ...recordFields });
/** v2: v1 plus a policy. */
export const KeyRecordV2Schema = z.object({ v: z.literal(KEY_RECORD_POLICY_VERSION), ...recordFields, policy: KeyRecordPolicySchema });

/** v3: a key of a suspended account: the v2 fields with `policy` optional, plus when the account was suspended. */
export const KeyRecordV3Schema = z.object({
  v: z.literal(KEY_RECORD_SUSPENDED_VERSION),
  ...recordFields,
  policy: KeyRecordPolicySchema.optional(),
  /** ISO 8601 UTC instant the account was suspended; every key of it is refused while this record stands. */
  account_suspended_at: z.iso.datetime(),
});

/** A key record as stored under `secret:<hash>`, v1, v2 or v3; validated on every KV read. */
export const KeyRecordSchema = z.discriminatedUnion("v", [KeyRecordV1Schema, KeyRecordV2Schema, KeyRecordV3Schema]);

export type KeyRecord = z.infer<typeof KeyRecordSchema>;
export type KeyRecordPolicy = z.infer<typeof KeyRecordPolicySchema>;

const NO_POLICY: KeyPolicy = Object.freeze({ ipAllowlist: null, rateLimitPerMinute: null });
const policies = new WeakMap<KeyRecord, KeyPolicy>();

/** The policy of a record (a v1 record, and a v3 one without `policy`, has none: no allowlist, the default rate limit). */
export function policyOf(record: KeyRecord): KeyPolicy {
  if (record.v === KEY_RECORD_VERSION || record.policy === undefined) return NO_POLICY;
  const hit = policies.get(record);
  if (hit) return hit;
  const policy: KeyPolicy = {
    ipAllowlist: record.policy.ip_allowlist ?? null,
    rateLimitPerMinute: record.policy.rate_limit_per_minute ?? null,
  };
  policies.set(record, policy);
  return policy;
}

/** Why a found record does not authorize the request; all of them answer the same 401. */
export type RecordRejection = "account_mismatch" | "mode_mismatch" | "revoked" | "expired" | "suspended";

/**
 * Checks a record against the presented account id and the mode of the secret's prefix, then its
 * status, expiry and account suspension (a v3 record: `account_suspended_at`), in that order.
 * @param nowMs current time, Unix epoch milliseconds
 * @returns null when the record authorizes the request, else the reason (kept internal: the
 *          caller answers 401 `invalid_credentials` for every reason, so accounts cannot be enumerated)
 */
export function checkKeyRecord(record: KeyRecord, accountId: string, mode: KeyMode, nowMs: number): RecordRejection | null {
  if (record.account_id !== accountId) return "account_mismatch";
  if (record.mode !== mode) return "mode_mismatch";
  if (record.status !== "active") return "revoked";
  if (record.expires_at && Date.parse(record.expires_at) <= nowMs) return "expired";
  if (record.v === KEY_RECORD_SUSPENDED_VERSION) return "suspended";
  return null;
}
