// The local SECRET_HASH_KEY and the keys hashed with it, for `npm start` (scripts/start.mjs).
//
// Every key in the local state (KV `secret:<hash>` records, the AccountKeys Durable Objects) names its
// secret by HMAC-SHA-256(SECRET_HASH_KEY, secret). The key records carry SECRET_HASH_KEY_ID, which is
// "hk1" for every generated dev key, so they cannot tell which hash key made them. When .dev.vars is
// deleted (npm start then generates a new SECRET_HASH_KEY) or its SECRET_HASH_KEY edited, every existing
// local key answers 401 while the admin API still calls it active. npm start remembers a fingerprint
// of the hash key the local keys were made with (in .wrangler/, next to the local state, so deleting
// .dev.vars does not delete it) and compares it with the fingerprint of the key in .dev.vars at every
// start (docs/storage.md "Hash key fingerprint").
//
// Plain ESM, node: builtins only.

import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Fewest bytes SECRET_HASH_KEY may have once base64-decoded (src/keys/hash.ts MIN_HASH_KEY_BYTES). */
export const MIN_HASH_KEY_BYTES = 32;

/**
 * The message whose HMAC under the hash key is the fingerprint. It is not a well-formed API secret
 * (no `sk_live_`/`sk_test_` prefix), so the request path and the admin API never hash it and no KV
 * record can be named by it.
 */
export const FINGERPRINT_LABEL = "spot-thought/secret-hash-key-fingerprint/v1";

/** Bytes of the HMAC kept as the fingerprint (64 bits: two random keys collide with probability 2⁻⁶⁴). */
export const FINGERPRINT_BYTES = 8;

/** Where npm start remembers the fingerprint, relative to the wrangler state folder (`.wrangler/`). */
export const FINGERPRINT_FILE = "hash-key-fingerprint.json";

/** The kept demo key, relative to `.wrangler/` (scripts/start.mjs DEMO_KEY_FILE). */
const DEMO_KEY_FILE = "demo-key.json";

const FINGERPRINT_PATTERN = new RegExp(`^[0-9a-f]{${FINGERPRINT_BYTES * 2}}$`);

/**
 * Decodes SECRET_HASH_KEY the way the Worker does (src/keys/hash.ts importHashKey: trimmed standard
 * base64), but stricter about the alphabet, so a value the Worker might half-decode is refused.
 * @param {string | undefined | null} value the text of SECRET_HASH_KEY from .dev.vars
 * @returns {Uint8Array | null} the key bytes, or null when `value` is absent, not base64, or shorter than
 *   {@link MIN_HASH_KEY_BYTES} once decoded
 */
export function decodeHashKey(value) {
  if (!value || !/^[A-Za-z0-9+/]+={0,2}$/.test(value.trim())) return null;
  let raw;
  try {
    raw = Uint8Array.from(atob(value.trim()), (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
  return raw.byteLength >= MIN_HASH_KEY_BYTES ? raw : null;
}

/**
 * The fingerprint of a hash key: HMAC-SHA-256(key bytes, UTF-8 of {@link FINGERPRINT_LABEL}), first
 * {@link FINGERPRINT_BYTES} bytes as lowercase hex. It is the operation the Worker applies to a
 * secret (src/keys/hash.ts hashSecret: WebCrypto HMAC over the raw decoded key), applied to a fixed
 * label and truncated, so the Worker computes the same value with `hashSecret(key, FINGERPRINT_LABEL)`.
 *
 * Safe to store next to the state and to print: HMAC-SHA-256 is a pseudorandom function, so without
 * the key its output says nothing about the key; all it allows is testing a guessed key, and the key
 * is 32 random bytes (2²⁵⁶ guesses). Keyed rather than a plain SHA-256 of the key, so the value is
 * bound to this use and matches no other hash of the same bytes.
 * @param {Uint8Array} rawKey the decoded hash key ({@link decodeHashKey})
 * @returns {string} 16 lowercase hex characters
 */
export function hashKeyFingerprint(rawKey) {
  return createHmac("sha256", rawKey).update(FINGERPRINT_LABEL, "utf8").digest().subarray(0, FINGERPRINT_BYTES).toString("hex");
}

/**
 * The fingerprint file's text.
 * @param {string} fingerprint from {@link hashKeyFingerprint}
 * @param {Date} now when it is recorded
 * @returns {string} JSON, one object: `{ note, v: 1, fingerprint, recorded_at }`, with a final newline
 */
export function fingerprintRecordText(fingerprint, now) {
  const record = {
    note: "Fingerprint of the SECRET_HASH_KEY the local keys in .wrangler/state were hashed with (npm start; docs/storage.md). Not a secret. Deleted by `npm start -- --reset-keys`.",
    v: 1,
    fingerprint,
    recorded_at: now.toISOString(),
  };
  return `${JSON.stringify(record, null, 2)}\n`;
}

/**
 * Reads the fingerprint file's text.
 * @param {string | null} text the file's content, null when there is no file
 * @returns {{ fingerprint: string, recorded_at: string | null } | null} null when absent or unreadable
 */
export function parseFingerprintRecord(text) {
  if (text === null) return null;
  try {
    const record = JSON.parse(text);
    if (record?.v !== 1 || typeof record.fingerprint !== "string" || !FINGERPRINT_PATTERN.test(record.fingerprint)) return null;
    return { fingerprint: record.fingerprint, recorded_at: typeof record.recorded_at === "string" ? record.recorded_at : null };
  } catch {
    return null;
  }
}

/**
 * Where the local keys live in wrangler's state folder (Miniflare's layout, `state/v3/…`): the KV
 * store (the project's only KV namespace is KEYS), the two Durable Object classes of the key admin
 * (`<worker name>-AccountKeys`, `<worker name>-SecretClaims`), the kept demo key and the fingerprint file.
 * @param {string} stateDir the `.wrangler/` folder
 * @param {string} workerName `name` in wrangler.toml
 * @returns {{ kv: string, accountKeys: string, secretClaims: string, demoKey: string, fingerprint: string }} absolute paths
 */
export function localKeyPaths(stateDir, workerName) {
  const v3 = join(stateDir, "state", "v3");
  return {
    kv: join(v3, "kv"),
    accountKeys: join(v3, "do", `${workerName}-AccountKeys`),
    secretClaims: join(v3, "do", `${workerName}-SecretClaims`),
    demoKey: join(stateDir, DEMO_KEY_FILE),
    fingerprint: join(stateDir, FINGERPRINT_FILE),
  };
}

/** True when `dir` holds a file whose name matches `pattern`, looking `depth` folders down. */
function holdsFile(dir, pattern, depth) {
  if (!existsSync(dir)) return false;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && pattern.test(entry.name)) return true;
    if (entry.isDirectory() && depth > 0 && holdsFile(join(dir, entry.name), pattern, depth - 1)) return true;
  }
  return false;
}

/**
 * Whether the local state holds keys: an AccountKeys Durable Object exists (Miniflare keeps one
 * `<64 hex>.sqlite` per object; every account with a key has one) or KV holds a value (a blob under
 * `kv/<namespace id>/blobs/`, e.g. a record written by hand).
 * @param {string} stateDir the `.wrangler/` folder
 * @param {string} workerName `name` in wrangler.toml
 * @returns {boolean}
 */
export function hasLocalKeys(stateDir, workerName) {
  const paths = localKeyPaths(stateDir, workerName);
  return holdsFile(paths.accountKeys, /^[0-9a-f]{64}\.sqlite$/, 0) || holdsFile(paths.kv, /^[0-9a-f]{16,}$/, 2);
}

/**
 * Deletes the local keys (`npm start -- --reset-keys`): everything {@link localKeyPaths} names. The
 * local audit trail (D1), the dev admin key and .dev.vars stay. Run only while no wrangler dev uses
 * the state folder.
 * @returns {string[]} the paths that existed and were deleted, written as `.wrangler/…` (for messages)
 */
export function resetLocalKeys(stateDir, workerName) {
  const removed = [];
  for (const path of Object.values(localKeyPaths(stateDir, workerName))) {
    if (!existsSync(path)) continue;
    rmSync(path, { recursive: true, force: true });
    removed.push(join(".wrangler", path.slice(stateDir.length + 1)));
  }
  return removed;
}

/**
 * @typedef {object} HashKeyCheck
 * @property {"no-keys" | "unrecorded" | "same" | "changed"} status
 *   no-keys: the local state holds no keys (any recorded fingerprint is stale);
 *   unrecorded: keys, but no (readable) fingerprint file, e.g. state from before this check: nothing to compare;
 *   same: the keys were made with the hash key in .dev.vars;
 *   changed: the keys were made with another hash key: every one of them answers 401
 * @property {boolean} record whether to write `current` as the fingerprint file (never when changed, so
 *   the warning repeats until the old .dev.vars is back or the keys are reset)
 * @property {string | null} recorded the remembered fingerprint, if any
 * @property {string | null} recordedAt when it was recorded (ISO 8601), if known
 */

/**
 * Compares the hash key in .dev.vars with the one the local keys were made with. Pure.
 * @param {{ current: string, record: { fingerprint: string, recorded_at: string | null } | null, localKeys: boolean }} input
 *   `current`: fingerprint of SECRET_HASH_KEY in .dev.vars; `record`: {@link parseFingerprintRecord} of
 *   the fingerprint file; `localKeys`: {@link hasLocalKeys}
 * @returns {HashKeyCheck}
 */
export function checkHashKey({ current, record, localKeys }) {
  const recorded = record?.fingerprint ?? null;
  const recordedAt = record?.recorded_at ?? null;
  if (!localKeys) return { status: "no-keys", record: recorded !== current, recorded, recordedAt };
  if (recorded === null) return { status: "unrecorded", record: true, recorded, recordedAt };
  if (recorded === current) return { status: "same", record: false, recorded, recordedAt };
  return { status: "changed", record: false, recorded, recordedAt };
}

/**
 * npm start's step for the local keys, before wrangler dev runs: with `resetKeys` deletes them
 * ({@link resetLocalKeys}), then compares the hash key in .dev.vars with the remembered fingerprint
 * ({@link checkHashKey}) and records the current one when the check says so.
 * @param {{ stateDir: string, workerName: string, hashKey: string, resetKeys: boolean, now?: Date }} input
 *   `hashKey`: SECRET_HASH_KEY as written in .dev.vars (base64)
 * @returns {HashKeyCheck & { current: string, removed: string[] }} the check, the current fingerprint,
 *   and what --reset-keys deleted ({@link resetLocalKeys})
 * @throws Error when `hashKey` is not usable ({@link decodeHashKey})
 */
export function prepareLocalKeys({ stateDir, workerName, hashKey, resetKeys, now = new Date() }) {
  const raw = decodeHashKey(hashKey);
  if (raw === null) throw new Error(`SECRET_HASH_KEY is not base64 of at least ${MIN_HASH_KEY_BYTES} bytes`);
  const current = hashKeyFingerprint(raw);
  const removed = resetKeys ? resetLocalKeys(stateDir, workerName) : [];
  const file = localKeyPaths(stateDir, workerName).fingerprint;
  const record = parseFingerprintRecord(existsSync(file) ? readFileSync(file, "utf8") : null);
  const check = checkHashKey({ current, record, localKeys: hasLocalKeys(stateDir, workerName) });
  if (check.record) {
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(file, fingerprintRecordText(current, now));
  }
  return { ...check, current, removed };
}

/**
 * The warning npm start prints when {@link checkHashKey} says "changed": what happened, what it means,
 * what to do. Plain text lines (the caller adds colour and a frame).
 * @param {{ recorded: string, recordedAt: string | null, current: string, generatedNow: boolean }} input
 *   `generatedNow`: this start generated SECRET_HASH_KEY (.dev.vars was missing, or had no usable key)
 * @returns {string[]}
 */
export function hashKeyWarning({ recorded, recordedAt, current, generatedNow }) {
  return [
    "SECRET_HASH_KEY CHANGED: THE LOCAL KEYS MADE BEFORE NO LONGER WORK",
    "",
    "What happened:",
    `  The keys in .wrangler/state were hashed with the SECRET_HASH_KEY of fingerprint ${recorded}`,
    `  ${recordedAt ? `(recorded ${recordedAt}) ` : ""}but .dev.vars now holds another one (fingerprint ${current}).`,
    ...(generatedNow
      ? [
          "  This start generated it: .dev.vars had no usable SECRET_HASH_KEY (the file deleted, or the line",
          "  removed; a broken line is kept there as a comment).",
        ]
      : ["  .dev.vars was replaced, or its SECRET_HASH_KEY edited, since those keys were made."]),
    "",
    "What it means:",
    "  Every local key made before answers 401 invalid_credentials, although `npx spot-keys list` and",
    "  `show` still call it active: only HMACs of the secrets are stored, so nothing can re-hash them.",
    "  npm start replaces its demo key (the one printed below works); your own keys it cannot replace.",
    "",
    "What to do (this warning repeats at every start until one of them is done):",
    "  - Restore the old .dev.vars (at least its SECRET_HASH_KEY line) and run `npm start` again:",
    "    every old key works again (keys made in the meantime stop working; npm start replaces its demo key).",
    "  - Or start over: `npm start -- --reset-keys` deletes the local keys (KV, the AccountKeys and",
    "    SecretClaims Durable Objects, .wrangler/demo-key.json) and keeps the audit trail and .dev.vars.",
  ];
}
