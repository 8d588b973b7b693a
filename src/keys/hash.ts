/**
 * Secret hashing with WebCrypto (DESIGN §7). KV never holds a secret, only
 * `HMAC-SHA-256(hash key, secret)` as lowercase hex; the hash key is the Worker secret
 * `SECRET_HASH_KEY`, so a copy of KV alone does not let anyone test guesses offline.
 * HMAC: RFC 2104; SHA-256: FIPS 180-4.
 */

/** Fewest bytes the hash key may have once base64-decoded (256 bits, the HMAC-SHA-256 block output). */
export const MIN_HASH_KEY_BYTES = 32;

/** Thrown when `SECRET_HASH_KEY` is missing, not base64, or shorter than {@link MIN_HASH_KEY_BYTES}. */
export class HashKeyError extends Error {
  override name = "HashKeyError";
}

let cached: { source: string; key: Promise<CryptoKey>; ready: CryptoKey | undefined } | null = null;

/**
 * The HMAC key {@link importHashKey} already imported from this text, without waiting; undefined
 * before the import has finished (or for another text).
 */
export function importedHashKey(base64Key: string | undefined): CryptoKey | undefined {
  return cached !== null && cached.source === base64Key ? cached.ready : undefined;
}

/**
 * Imports the HMAC key once per isolate (cached by its base64 text).
 * @param base64Key standard base64 of at least 32 random bytes
 * @throws HashKeyError when the key is absent or unusable; the request path answers 503 (fail closed)
 */
export function importHashKey(base64Key: string | undefined): Promise<CryptoKey> {
  if (cached && cached.source === base64Key) return cached.key;
  let raw: Uint8Array;
  try {
    if (!base64Key) throw new Error("absent");
    raw = Uint8Array.from(atob(base64Key.trim()), (ch) => ch.charCodeAt(0));
  } catch {
    throw new HashKeyError("SECRET_HASH_KEY is not set or is not base64");
  }
  if (raw.byteLength < MIN_HASH_KEY_BYTES) throw new HashKeyError(`SECRET_HASH_KEY must decode to at least ${MIN_HASH_KEY_BYTES} bytes`);
  const key = crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const entry: NonNullable<typeof cached> = { source: base64Key as string, key, ready: undefined };
  cached = entry;
  key.then(
    (imported) => {
      entry.ready = imported;
    },
    () => {},
  );
  return key;
}

const utf8 = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * @returns HMAC-SHA-256 of the UTF-8 bytes of `secret`, as 64 lowercase hex characters
 */
export async function hashSecret(key: CryptoKey, secret: string): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8.encode(secret)));
  let hex = "";
  for (const byte of mac) hex += HEX[byte];
  return hex;
}

/** The KV key under which the record for a secret hash lives (docs/storage.md). */
export function secretKvKey(secretHash: string): string {
  return `secret:${secretHash}`;
}
