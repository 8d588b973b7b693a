/**
 * The KV adapter for key records: one KV read per secret hash, behind the isolate cache.
 * Fails closed: a KV error or a record that does not validate is a {@link KeyStoreUnavailableError},
 * which the request path answers with 503 `authorizer_unavailable`, never by letting the request through.
 */
// biome-ignore lint/correctness/noUnusedImports: bound by the __SPOT_DEBUG_COUNTERS__ define in bench/test builds (src/debug/counters.ts)
import { spotDebugCounters } from "../debug/counters";
import { TtlCache } from "./cache";
import { secretKvKey } from "./hash";
import { laggedKvValue } from "./kv-lag";
import { type KeyRecord, KeyRecordSchema } from "./record";

/** Entries the isolate cache keeps at most (hits and misses together). */
export const KEY_CACHE_MAX_ENTRIES = 10_000;

/** KV could not be read, or held a record that does not match {@link KeyRecordSchema}. */
export class KeyStoreUnavailableError extends Error {
  override name = "KeyStoreUnavailableError";
}

export interface KeyStoreOptions {
  /** Milliseconds a found record is served from the isolate cache. */
  cacheTtlMs: number;
  /** Milliseconds a miss (no record) is served from the isolate cache. */
  negativeCacheTtlMs: number;
  /** Milliseconds the KV read may take before it counts as failed; absent: no limit of our own. */
  readTimeoutMs?: number;
}

/** One per isolate; shared by every request the isolate serves. */
const recordCache = new TtlCache<KeyRecord | null>(KEY_CACHE_MAX_ENTRIES);

/** Drops one secret hash from the isolate cache (the revocation feed changed its key: src/revocation/follower.ts). */
export function evictCachedKey(secretHash: string): void {
  recordCache.delete(secretHash);
}

/**
 * The isolate cache's answer for a secret hash, without waiting: `{ value }` (the record, or null for a
 * remembered miss) while fresh, undefined when {@link findKeyBySecretHash} must be asked.
 * @param nowMs now, milliseconds since the epoch
 */
export function cachedKeyRecord(secretHash: string, nowMs: number): { value: KeyRecord | null } | undefined {
  return recordCache.get(secretHash, nowMs);
}

/** Empties the isolate cache (tests, and after an admin write in this isolate). */
export function clearKeyCache(): void {
  recordCache.clear();
}

/**
 * Finds the key record for a secret hash.
 * @param kv         the KEYS namespace
 * @param secretHash 64 lowercase hex characters from `hashSecret`
 * @param nowMs      current time, epoch milliseconds
 * @returns the record, or null when KV has none
 * @throws KeyStoreUnavailableError when KV fails, takes longer than `options.readTimeoutMs`, or the
 *   stored value is not a valid record (v1 or v2, docs/storage.md)
 */
export async function findKeyBySecretHash(
  kv: KVNamespace,
  secretHash: string,
  options: KeyStoreOptions,
  nowMs: number,
): Promise<KeyRecord | null> {
  const hit = recordCache.get(secretHash, nowMs);
  if (hit) return hit.value;

  let stored: string | null;
  try {
    if (typeof __SPOT_DEBUG_COUNTERS__ !== "undefined") __SPOT_DEBUG_COUNTERS__.kvRead();
    stored = await withTimeout(kv.get(secretKvKey(secretHash), "text"), options.readTimeoutMs);
    // Drill builds only (`npm start -- --simulate-kv-lag`): KV answers as a location it has not reached yet.
    if (typeof __SPOT_KV_LAG_MS__ !== "undefined") stored = laggedKvValue(secretHash, stored, __SPOT_KV_LAG_MS__, nowMs);
  } catch (err) {
    throw new KeyStoreUnavailableError(`KV read failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (stored === null) {
    recordCache.set(secretHash, null, options.negativeCacheTtlMs, nowMs);
    return null;
  }
  let record: KeyRecord;
  try {
    record = KeyRecordSchema.parse(JSON.parse(stored));
  } catch {
    throw new KeyStoreUnavailableError("KV holds a key record that does not match the schema");
  }
  recordCache.set(secretHash, record, options.cacheTtlMs, nowMs);
  return record;
}

/** `promise`, or a rejection after `timeoutMs` milliseconds (undefined: no timeout). */
async function withTimeout<T>(promise: Promise<T>, timeoutMs: number | undefined): Promise<T> {
  if (timeoutMs === undefined) return promise;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
