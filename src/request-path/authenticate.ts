/**
 * Verifies the presented secret (DESIGN §7): checksum of a checksummed secret (src/keys/secret.ts;
 * a wrong one answers 401 with no hashing and no KV read) → HMAC-SHA-256 of the secret → one KV read
 * (isolate cache first) → the record must match the account, the secret's mode, be active and unexpired,
 * and the revocation feed (src/revocation/follower.ts) must not have ended the key or suspended its account.
 * Every mismatch answers the same 401 `invalid_credentials`; KV or hash key trouble (a KV read slower
 * than `KV_READ_TIMEOUT_MS` included) answers 503 `authorizer_unavailable` (fail closed). Sets
 * `call.caller` with the key's policy, which src/request-path/key-policy.ts enforces next.
 */
import { UNAVAILABLE_MESSAGE } from "../env";
import { ApiError } from "../errors";
import type { PresentedCredentials } from "../keys/credentials";
import { hashSecret, importedHashKey, importHashKey } from "../keys/hash";
import { checkKeyRecord, policyOf } from "../keys/record";
import { hasValidChecksum } from "../keys/secret";
import { cachedKeyRecord, findKeyBySecretHash } from "../keys/store";
import { errorMessage, log } from "../log";
import { accountResumedInFeed, currentKeyCacheTtlMs, followRevocationFeed, revocationFeedRefusal } from "../revocation/follower";
import type { ApiCall } from "./call";

/** The one sentence of every 401 `invalid_credentials`, whatever the reason. */
export const INVALID_CREDENTIALS_MESSAGE = "The API key and secret do not match an active key.";

/**
 * @param presented what src/request-path/credentials.ts read; passed along, so the secret never sits in `c.var`
 * @throws ApiError `invalid_credentials` (401), `authorizer_unavailable` (503, fail closed)
 */
export async function authenticateKey(call: ApiCall, presented: PresentedCredentials): Promise<void> {
  const caller = { accountId: presented.accountId, mode: presented.secret.mode };
  const secret = presented.secret.secret;
  // A typo or a truncated copy of a generated secret is refused here, before any hashing or KV read.
  if (!hasValidChecksum(secret)) throw new ApiError("invalid_credentials", INVALID_CREDENTIALS_MESSAGE);
  const config = call.config();
  const env = call.env;

  let record: Awaited<ReturnType<typeof findKeyBySecretHash>>;
  let hash: string;
  const nowMs = Date.now();
  // Usually null: the feed is followed in the background. A new or idle isolate waits for its read
  // (at most FEED_WAIT_MS), which runs while the secret is hashed and KV is read.
  const feedRead = followRevocationFeed(env, call.executionCtx, call.request.url, nowMs);
  try {
    // The imported key and a cached record are used without an await (the usual case: a warm isolate).
    hash = await hashSecret(importedHashKey(env.SECRET_HASH_KEY) ?? (await importHashKey(env.SECRET_HASH_KEY)), secret);
    // First: while the feed is unreachable this shortens the TTL and, once, empties the key cache.
    const cacheTtlMs = currentKeyCacheTtlMs(config.keyCacheTtlMs, nowMs);
    const cachedRecord = cachedKeyRecord(hash, nowMs);
    record =
      cachedRecord !== undefined
        ? cachedRecord.value
        : await findKeyBySecretHash(
            env.KEYS,
            hash,
            {
              cacheTtlMs,
              negativeCacheTtlMs: config.keyNegativeCacheTtlMs,
              readTimeoutMs: config.kvReadTimeoutMs,
            },
            nowMs,
          );
  } catch (err) {
    log("error", "key_lookup_failed", { request_id: call.requestId, error: errorMessage(err) });
    throw new ApiError("authorizer_unavailable", UNAVAILABLE_MESSAGE, { "Retry-After": "5" });
  }
  if (!record) throw new ApiError("invalid_credentials", INVALID_CREDENTIALS_MESSAGE);
  if (feedRead !== null) await feedRead;

  const checkedAtMs = Date.now();
  const rejection = checkKeyRecord(record, caller.accountId, caller.mode, checkedAtMs);
  // A suspended record still propagating through KV after the account was resumed does not refuse.
  const accepted = rejection === null || (rejection === "suspended" && accountResumedInFeed(record.account_id));
  if (!accepted || revocationFeedRefusal(hash, record.account_id, checkedAtMs) !== null) {
    throw new ApiError("invalid_credentials", INVALID_CREDENTIALS_MESSAGE);
  }
  call.caller = { ...caller, keyId: record.key_id, verified: true, policy: policyOf(record) };
}
