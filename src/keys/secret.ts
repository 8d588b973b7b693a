/**
 * The secret format (docs/storage.md "Secret format"), in the style of GitHub's token format:
 *
 *   sk_live_ | 33 random Base62 characters | 6 Base62 characters of CRC32(random part)
 *   prefix     ≈ 196.5 bits of entropy        checksum, zero-padded to a fixed width
 *
 * - Random part: each character drawn uniformly from {@link BASE62} with `crypto.getRandomValues`;
 *   bytes ≥ 248 are rejected, so `byte % 62` has no modulo bias (248 = 4 × 62).
 * - Checksum: CRC-32 (ISO-HDLC / IEEE 802.3, the zlib one: reflected polynomial 0xEDB88320, initial
 *   and final XOR 0xFFFFFFFF) of the ASCII bytes of the 33 random characters only (not the prefix),
 *   written in Base62 with the alphabet 0-9A-Za-z, most significant digit first, left-padded with
 *   "0" to 6 characters (62^6 > 2^32).
 * - The rule that tells formats apart: a secret whose part after `sk_live_`/`sk_test_` is exactly
 *   {@link SECRET_BODY_CHARS} (39) characters long is a checksummed secret and must carry a valid
 *   checksum, else it is refused without a KV read. Any other length (4..128, DESIGN §2) is a legacy
 *   secret: no checksum is expected; such secrets exist only when an operator imported them.
 *
 * Pure except for {@link generateSecret} (randomness).
 */
import type { KeyMode } from "./format";

/** Digits, then upper case, then lower case: the alphabet of GitHub's token checksum. */
export const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** Random characters of a generated secret: 33 × log2(62) ≈ 196.5 bits (≥ 192, DESIGN §7). */
export const SECRET_RANDOM_CHARS = 33;
/** Base62 characters of the CRC32 checksum (fixed width, zero-padded). */
export const SECRET_CHECKSUM_CHARS = 6;
/** Characters after the `sk_live_`/`sk_test_` prefix of a checksummed secret; any other length is legacy. */
export const SECRET_BODY_CHARS = SECRET_RANDOM_CHARS + SECRET_CHECKSUM_CHARS;
/** Shortest random body for which the last 4 characters may be shown as a hint (legacy secrets can be 4 long). */
export const HINT_MIN_BODY_CHARS = 20;
/** Largest byte value kept by the rejection sampling: 248 = 4 × 62, so `byte % 62` is uniform. */
const REJECT_FROM = 248;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32/ISO-HDLC of the bytes (the zlib `crc32`); check value of "123456789" is 0xCBF43926. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** `value` (a non-negative integer < 62^width) in {@link BASE62}, left-padded with "0" to `width` characters. */
export function base62Fixed(value: number, width: number): string {
  let out = "";
  let n = value;
  while (n > 0) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out.padStart(width, "0");
}

/** The 6-character checksum of a random part (see the module comment for what it covers). */
export function checksumOf(randomPart: string): string {
  const bytes = new Uint8Array(randomPart.length);
  for (let i = 0; i < randomPart.length; i++) bytes[i] = randomPart.charCodeAt(i) & 0xff;
  return base62Fixed(crc32(bytes), SECRET_CHECKSUM_CHARS);
}

/** `length` characters drawn uniformly from {@link BASE62} with crypto.getRandomValues (rejection sampling). */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    // getRandomValues fills at most 65,536 bytes per call.
    for (const byte of crypto.getRandomValues(new Uint8Array(Math.min(65_536, Math.max(16, (length - out.length) * 2))))) {
      if (byte < REJECT_FROM && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

/** Mode prefix of a secret: `sk_live_` or `sk_test_`. */
export function secretPrefix(mode: KeyMode): string {
  return `sk_${mode}_`;
}

/** A new checksummed secret for `mode`: prefix + 33 random + 6 checksum characters (47 in all). */
export function generateSecret(mode: KeyMode): string {
  const random = randomBase62(SECRET_RANDOM_CHARS);
  return `${secretPrefix(mode)}${random}${checksumOf(random)}`;
}

/** The part after `sk_live_`/`sk_test_` (both prefixes are 8 characters). */
function bodyOf(secret: string): string {
  return secret.slice("sk_live_".length);
}

/** Which format a well-formed secret (API_SECRET_PATTERN) has, by the length rule in the module comment. */
export function secretFormat(secret: string): "checksum" | "legacy" {
  return bodyOf(secret).length === SECRET_BODY_CHARS ? "checksum" : "legacy";
}

/**
 * Checks the checksum of a well-formed secret (one that matched API_SECRET_PATTERN).
 * @returns true for a legacy secret (no checksum expected) or a checksummed secret whose last 6
 *          characters equal the checksum of its random part; false otherwise
 */
export function hasValidChecksum(secret: string): boolean {
  const body = bodyOf(secret);
  if (body.length !== SECRET_BODY_CHARS) return true;
  return checksumOf(body.slice(0, SECRET_RANDOM_CHARS)) === body.slice(SECRET_RANDOM_CHARS);
}

/**
 * A short, non-secret hint for people: the last 4 characters of the secret, only when its part
 * after the prefix has at least {@link HINT_MIN_BODY_CHARS} characters (for a short legacy secret
 * the last 4 could be most of it), else null. For a checksummed secret these are checksum characters.
 */
export function secretHint(secret: string): string | null {
  const body = bodyOf(secret);
  return body.length >= HINT_MIN_BODY_CHARS ? body.slice(-4) : null;
}
