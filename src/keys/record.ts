/**
 * The key record stored in KV (docs/storage.md) and the pure check of a record against the
 * credentials presented with a request.
 */
import * as z from "zod";
import { API_KEY_PATTERN, type KeyMode } from "./format";

/** Schema version of {@link KeyRecord}; a change is a migration (docs/storage.md). */
export const KEY_RECORD_VERSION = 1;

/** A key record as stored under `secret:<hash>`; validated on every KV read. */
export const KeyRecordSchema = z.object({
  v: z.literal(KEY_RECORD_VERSION),
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
});

export type KeyRecord = z.infer<typeof KeyRecordSchema>;

/** Why a found record does not authorize the request; all of them answer the same 401. */
export type RecordRejection = "account_mismatch" | "mode_mismatch" | "revoked" | "expired";

/**
 * Checks a record against the presented account id and the mode of the secret's prefix.
 * @param nowMs current time, Unix epoch milliseconds
 * @returns null when the record authorizes the request, else the reason (kept internal: the
 *          caller answers 401 `invalid_credentials` for every reason, so accounts cannot be enumerated)
 */
export function checkKeyRecord(record: KeyRecord, accountId: string, mode: KeyMode, nowMs: number): RecordRejection | null {
  if (record.account_id !== accountId) return "account_mismatch";
  if (record.mode !== mode) return "mode_mismatch";
  if (record.status !== "active") return "revoked";
  if (record.expires_at && Date.parse(record.expires_at) <= nowMs) return "expired";
  return null;
}
