/**
 * The key model (docs/storage.md "Key model"): the full record an account's Durable Object keeps
 * (the source of truth), the public view the admin API returns, and the projection written to KV
 * for the request path (the v1/v2/v3 {@link KeyRecord}). Pure.
 */
import * as z from "zod";
import { API_KEY_PATTERN, type KeyMode } from "../keys/format";
import { isRateLimitTier, MAX_ALLOWLIST_ENTRIES, normalizeCidr } from "../keys/policy";
import {
  KEY_RECORD_POLICY_VERSION,
  KEY_RECORD_SUSPENDED_VERSION,
  KEY_RECORD_VERSION,
  type KeyRecord,
  type KeyRecordPolicy,
} from "../keys/record";

export const KEY_ID_PATTERN = /^key_[A-Za-z0-9]{1,64}$/;
/** Random Base62 characters of a generated key id (`key_` + 16 ≈ 95 bits: unique, not secret). */
export const KEY_ID_RANDOM_CHARS = 16;
export const LABEL_MAX_CHARS = 200;
/** Schema version of {@link StoredKey} inside the Durable Object; a change is a migration (docs/storage.md). */
export const STORED_KEY_VERSION = 1;
/** After a key is revoked or expires, its KV record is kept this long (seconds), then KV deletes it. */
export const KV_RETENTION_AFTER_END_SECONDS = 86_400;
/**
 * Largest KV `expiration` the Workers KV binding takes (epoch seconds): 2^31 − 1, 2038-01-19T03:14:07Z.
 * The binding reads it as a signed 32-bit integer and throws a TypeError ("Value out of range") above it.
 */
export const KV_MAX_EXPIRATION_SECONDS = 2_147_483_647;
/** Latest `expires_at` the admin API accepts, in days after the request: 3,650 (about 10 years). */
export const MAX_EXPIRES_AHEAD_DAYS = 3_650;

const isoInstant = z.iso.datetime();

/**
 * A key's policy (docs/storage.md "Key policy"): an IP allowlist (normalised CIDR ranges, matched
 * against the connecting IP) and a rate limit override (requests per minute), both enforced by the
 * request path from the KV record. `scopes` stays reserved: always null, not accepted, not enforced.
 * A policy with neither field set is stored as `policy: null`.
 */
export const KeyPolicySchema = z.strictObject({
  scopes: z.null(),
  ip_allowlist: z
    .array(
      z.string().refine((value) => {
        const result = normalizeCidr(value);
        return result.ok && result.cidr === value;
      }, "must be a normalised CIDR range"),
    )
    .min(1)
    .max(MAX_ALLOWLIST_ENTRIES)
    .nullable(),
  rate_limit_per_minute: z
    .number()
    .refine((n: number): boolean => isRateLimitTier(n), "must be one of the rate limit tiers")
    .nullable(),
});

export type StoredKeyPolicy = z.infer<typeof KeyPolicySchema>;

/** What an admin request asks to change in a policy: absent = unchanged, null = removed (back to the default). */
export interface PolicyChange {
  /** Normalised, de-duplicated CIDR ranges, or null to remove the allowlist. */
  ip_allowlist?: string[] | null;
  rate_limit_per_minute?: number | null;
}

/**
 * Applies a change to a stored policy (null: none).
 * @returns the new policy (null when neither field is set any more) and the names of the fields whose
 *   value changed (`policy.ip_allowlist`, `policy.rate_limit_per_minute`)
 */
export function applyPolicyChange(
  current: StoredKeyPolicy | null,
  change: PolicyChange,
): { policy: StoredKeyPolicy | null; changed: string[] } {
  const before = current ?? { scopes: null, ip_allowlist: null, rate_limit_per_minute: null };
  const after: StoredKeyPolicy = {
    scopes: null,
    ip_allowlist: change.ip_allowlist === undefined ? before.ip_allowlist : change.ip_allowlist,
    rate_limit_per_minute: change.rate_limit_per_minute === undefined ? before.rate_limit_per_minute : change.rate_limit_per_minute,
  };
  const changed: string[] = [];
  if (JSON.stringify(after.ip_allowlist) !== JSON.stringify(before.ip_allowlist)) changed.push("policy.ip_allowlist");
  if (after.rate_limit_per_minute !== before.rate_limit_per_minute) changed.push("policy.rate_limit_per_minute");
  const empty = after.ip_allowlist === null && after.rate_limit_per_minute === null;
  return { policy: empty ? null : after, changed };
}

/** A key as the account's Durable Object stores it; validated with zod on every read from storage. */
export const StoredKeySchema = z.strictObject({
  v: z.literal(STORED_KEY_VERSION),
  key_id: z.string().regex(KEY_ID_PATTERN),
  account_id: z.string().regex(API_KEY_PATTERN),
  mode: z.enum(["live", "test"]),
  /**
   * Deliberately only bounded in length: the character rule of new labels (src/admin/label.ts) is
   * enforced where labels come in (src/admin/schemas.ts), so a label stored before that rule still
   * reads (output escapes such characters, docs/cli.md).
   */
  label: z.string().max(LABEL_MAX_CHARS).nullable(),
  /** Stored status; "expired" is derived from `expires_at` (see {@link keyStatus}). */
  status: z.enum(["active", "revoked"]),
  created_at: isoInstant,
  /** From this instant on the key answers 401; set by rotation to end the overlap; null: no expiry. */
  expires_at: isoInstant.nullable(),
  revoked_at: isoInstant.nullable(),
  /** Lowercase hex HMAC-SHA-256 of the secret (never the secret); names the KV record `secret:<hash>`. */
  secret_hash: z.string().regex(/^[0-9a-f]{64}$/),
  /** Id of the HMAC key that made `secret_hash` (SECRET_HASH_KEY_ID at the time). */
  hash_key_id: z.string().min(1).max(64),
  /** Last 4 characters of the secret, or null when the secret is too short to show any of it. */
  secret_hint: z.string().max(4).nullable(),
  secret_format: z.enum(["checksum", "legacy"]),
  source: z.enum(["generated", "imported"]),
  /** Rotation: the key this one replaced, and on the old key the one that replaced it and when. */
  replaces_key_id: z.string().regex(KEY_ID_PATTERN).nullable(),
  replaced_by_key_id: z.string().regex(KEY_ID_PATTERN).nullable(),
  rotated_at: isoInstant.nullable(),
  /** `sub` of the admin token that created the key. */
  created_by: z.string().max(256),
  policy: KeyPolicySchema.nullable(),
});

export type StoredKey = z.infer<typeof StoredKeySchema>;

/**
 * Where the key's KV lookup record stands (docs/storage.md "Consistency"): `synced` written, `pending`
 * still being retried by the outbox, `failed` refused by KV for good (never retried until the key
 * changes again; its older record was deleted, so the key does not authenticate).
 */
export type KvSync = "synced" | "pending" | "failed";

/**
 * The status a person sees: "expired" once `expires_at` has passed (the request path's own rule);
 * "sync_failed" for a key that is neither revoked nor expired but whose KV record could not be
 * written (KV refused it for good): it does not authenticate.
 */
export type KeyStatus = "active" | "expired" | "revoked" | "sync_failed";

/**
 * @param nowMs current time, epoch milliseconds
 * @param kvSync where the key's KV record stands (default `synced`: only revoked/expired are decided)
 */
export function keyStatus(key: StoredKey, nowMs: number, kvSync: KvSync = "synced"): KeyStatus {
  if (key.status === "revoked") return "revoked";
  if (key.expires_at !== null && Date.parse(key.expires_at) <= nowMs) return "expired";
  if (kvSync === "failed") return "sync_failed";
  return "active";
}

/** What the admin API returns for a key: metadata only, never the secret or its hash. */
export interface KeyView {
  key_id: string;
  account_id: string;
  mode: KeyMode;
  label: string | null;
  status: KeyStatus;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  secret_hint: string | null;
  secret_format: "checksum" | "legacy";
  source: "generated" | "imported";
  hash_key_id: string;
  replaces_key_id: string | null;
  replaced_by_key_id: string | null;
  rotated_at: string | null;
  created_by: string;
  policy: StoredKeyPolicy | null;
  /** Where its KV lookup record stands (kept by the outbox, not in the stored record). */
  kv_sync: KvSync;
}

/**
 * The public view of a stored key at `nowMs`: every field but `secret_hash` and `v`, with the derived
 * status and the state of its KV record (`kvSync`, from the account's outbox).
 */
export function keyView(key: StoredKey, nowMs: number, kvSync: KvSync): KeyView {
  return {
    key_id: key.key_id,
    account_id: key.account_id,
    mode: key.mode,
    label: key.label,
    status: keyStatus(key, nowMs, kvSync),
    created_at: key.created_at,
    expires_at: key.expires_at,
    revoked_at: key.revoked_at,
    secret_hint: key.secret_hint,
    secret_format: key.secret_format,
    source: key.source,
    hash_key_id: key.hash_key_id,
    replaces_key_id: key.replaces_key_id,
    replaced_by_key_id: key.replaced_by_key_id,
    rotated_at: key.rotated_at,
    created_by: key.created_by,
    policy: key.policy,
    kv_sync: kvSync,
  };
}

/**
 * The KV record the request path reads under `secret:<secret_hash>` (docs/storage.md): v1 for a key
 * without a policy, v2 with its `policy` (allowlist and/or rate limit) otherwise, so a reader that
 * knows only v1 refuses it instead of ignoring an allowlist; v3 (policy optional, plus
 * `account_suspended_at`) while the key's account is suspended, so every reader refuses the key.
 * @param accountSuspendedAt ISO 8601 UTC instant the account was suspended, or null when it is not
 */
export function kvRecordOf(key: StoredKey, accountSuspendedAt: string | null = null): KeyRecord {
  const base = {
    key_id: key.key_id,
    account_id: key.account_id,
    mode: key.mode,
    status: key.status,
    created_at: key.created_at,
    expires_at: key.expires_at,
    hash_key_id: key.hash_key_id,
    ...(key.label !== null ? { label: key.label } : {}),
  };
  const policy: KeyRecordPolicy = {};
  if (key.policy?.ip_allowlist) policy.ip_allowlist = key.policy.ip_allowlist;
  if (key.policy?.rate_limit_per_minute) policy.rate_limit_per_minute = key.policy.rate_limit_per_minute;
  const hasPolicy = policy.ip_allowlist !== undefined || policy.rate_limit_per_minute !== undefined;
  if (accountSuspendedAt !== null) {
    return {
      v: KEY_RECORD_SUSPENDED_VERSION,
      ...base,
      ...(hasPolicy ? { policy } : {}),
      account_suspended_at: accountSuspendedAt,
    };
  }
  if (!hasPolicy) return { v: KEY_RECORD_VERSION, ...base };
  return { v: KEY_RECORD_POLICY_VERSION, ...base, policy };
}

/**
 * When the key stops authenticating (epoch milliseconds): the earlier of its revocation and its
 * `expires_at`; null while it has neither. What a key entry of the revocation feed carries
 * (`not_after_ms`, src/revocation/feed.ts).
 */
export function keyEndMs(key: StoredKey): number | null {
  const revokedMs = key.status === "revoked" && key.revoked_at !== null ? Date.parse(key.revoked_at) : null;
  const expiresMs = key.expires_at === null ? null : Date.parse(key.expires_at);
  if (revokedMs === null) return expiresMs;
  return expiresMs === null ? revokedMs : Math.min(revokedMs, expiresMs);
}

/**
 * When KV may drop the record (KV `expiration`, epoch seconds): {@link KV_RETENTION_AFTER_END_SECONDS}
 * after the key was revoked or expires, never sooner than that from `nowMs`. Null (no KV expiration)
 * while the key has no end, and when that instant lies past {@link KV_MAX_EXPIRATION_SECONDS}, which
 * the KV binding refuses: never capped, since a capped expiration would delete the record of a key
 * still valid. The request path refuses the key from its end on either way; this only cleans up.
 * @param nowMs current time, epoch milliseconds
 */
export function kvExpirationOf(key: StoredKey, nowMs: number): number | null {
  const endMs =
    key.status === "revoked"
      ? Date.parse(key.revoked_at ?? new Date(nowMs).toISOString())
      : key.expires_at
        ? Date.parse(key.expires_at)
        : null;
  if (endMs === null) return null;
  const expiration = Math.floor(Math.max(endMs, nowMs) / 1000) + KV_RETENTION_AFTER_END_SECONDS;
  return expiration <= KV_MAX_EXPIRATION_SECONDS ? expiration : null;
}

/** A requested `expires_at` checked: the instant to store (null: no expiry), or why it is refused. */
export type ExpiresAtCheck = { ok: true; expiresAt: string | null } | { ok: false; message: string };

/**
 * The admin API's rule for a requested `expires_at` (create, import, the new key of a rotation, PATCH):
 * after `nowMs` and at most {@link MAX_EXPIRES_AHEAD_DAYS} days after it (inclusive).
 * @param value an ISO 8601 UTC instant (already checked by the body schema), or null/undefined for no expiry
 * @param nowMs current time, epoch milliseconds
 * @param param the field, for the message (`body.expires_at`)
 * @returns the instant as `Date#toISOString()`, or a message naming the field and the bound
 */
export function checkExpiresAt(value: string | null | undefined, nowMs: number, param: string): ExpiresAtCheck {
  if (value === undefined || value === null) return { ok: true, expiresAt: null };
  const ms = Date.parse(value);
  if (!(ms > nowMs)) return { ok: false, message: `${param} must be in the future.` };
  const latestMs = nowMs + MAX_EXPIRES_AHEAD_DAYS * 86_400_000;
  if (ms > latestMs) {
    return {
      ok: false,
      message:
        `${param} must be at most ${MAX_EXPIRES_AHEAD_DAYS} days (about 10 years) from now, so no later than ` +
        `${new Date(latestMs).toISOString()}; send null or leave it out for a key that does not expire.`,
    };
  }
  return { ok: true, expiresAt: new Date(ms).toISOString() };
}

/** Largest rotation overlap accepted (seconds): 30 days. */
export const MAX_OVERLAP_SECONDS = 30 * 86_400;
/** Overlap used when a rotation names none (seconds): 24 hours. */
export const DEFAULT_OVERLAP_SECONDS = 86_400;

/**
 * When the old key stops working after a rotation: `nowMs + overlapSeconds`, never later than the
 * old key's own `expires_at`. An overlap of 0 ends it now (subject to the revocation bound).
 * @returns ISO 8601 UTC instant
 */
export function overlapEnd(oldKey: StoredKey, overlapSeconds: number, nowMs: number): string {
  const end = nowMs + overlapSeconds * 1000;
  const own = oldKey.expires_at === null ? Number.POSITIVE_INFINITY : Date.parse(oldKey.expires_at);
  return new Date(Math.min(end, own)).toISOString();
}
