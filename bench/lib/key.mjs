// One live API key made outside the Worker, for Workers started by the bench and by test/runtime/: a
// random hash key, a random secret, and the v1 KV record the request path reads (docs/storage.md).

import { createHmac, randomBytes } from "node:crypto";

const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** `n` random Base62 characters (rejection sampling, no modulo bias). */
function base62(n) {
  let out = "";
  while (out.length < n) for (const byte of randomBytes(n * 2)) if (byte < 248 && out.length < n) out += BASE62[byte % 62];
  return out;
}

/**
 * @param {{ accountId: string, keyId: string, hashKeyId: string, label?: string }} options
 * @returns {{ hashKeyBase64: string, secret: string, kvKey: string, record: string }} the hash key
 *          (base64, for SECRET_HASH_KEY), the secret (`sk_live_` + 33 Base62 characters: a legacy-format
 *          secret, no checksum), the KV key `secret:<hash>` and the record as JSON
 */
export function liveKey({ accountId, keyId, hashKeyId, label }) {
  const hashKey = randomBytes(32);
  const secret = `sk_live_${base62(33)}`;
  // Same hash as src/keys/hash.ts: lowercase hex HMAC-SHA-256 of the UTF-8 secret.
  const hash = createHmac("sha256", hashKey).update(secret, "utf8").digest("hex");
  const record = {
    v: 1,
    key_id: keyId,
    account_id: accountId,
    mode: "live",
    status: "active",
    ...(label === undefined ? {} : { label }),
    created_at: "2026-01-01T00:00:00.000Z",
    expires_at: null,
    hash_key_id: hashKeyId,
  };
  return { hashKeyBase64: hashKey.toString("base64"), secret, kvKey: `secret:${hash}`, record: JSON.stringify(record) };
}
