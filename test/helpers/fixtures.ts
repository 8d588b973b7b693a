/**
 * Shared fixture of shared/cases/request-path.md: account acct_123 with a live secret S,
 * CF-Connecting-IP 198.51.100.23, versions from vitest.config.mts.
 */
import { env } from "cloudflare:workers";
import { hashSecret, importHashKey, secretKvKey } from "../../src/keys/hash";
import type { KeyRecord, KeyRecordPolicy } from "../../src/keys/record";

export const ACCOUNT = "acct_123";
export const SECRET = "sk_live_Xq7bT2mK9pL4sW8vZ1nR5cY3hJ6dF0gA";
export const TEST_SECRET = "sk_test_Ub3nQ8rT1yW6eP4oI9uM2lK7jH5gF0dS";
export const KEY_ID = "key_live123";
export const CONNECTING_IP = "198.51.100.23";
export const API = "https://api.spot-thought.com";

/** A record of the fixture key; with a `policy` override it is a v2 record (docs/storage.md). */
export function keyRecord(overrides: Partial<KeyRecord> & { policy?: KeyRecordPolicy } = {}): KeyRecord {
  return {
    v: 1,
    key_id: KEY_ID,
    account_id: ACCOUNT,
    mode: "live",
    status: "active",
    label: "fixture",
    created_at: "2026-01-01T00:00:00.000Z",
    expires_at: null,
    hash_key_id: "hk-test",
    ...overrides,
    ...(overrides.policy ? { v: 2 } : {}),
  } as KeyRecord;
}

/** Stores `record` in the test KV under the hash of `secret`, as the admin path will. */
export async function putKey(secret: string, record: KeyRecord | string = keyRecord()): Promise<string> {
  const hash = await hashSecret(await importHashKey(env.SECRET_HASH_KEY), secret);
  await env.KEYS.put(secretKvKey(hash), typeof record === "string" ? record : JSON.stringify(record));
  return hash;
}

/** Headers of a valid request from the fixture account. */
export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { "X-Spot-Api-Key": ACCOUNT, "X-Spot-Api-Secret": SECRET, "CF-Connecting-IP": CONNECTING_IP, ...extra };
}
