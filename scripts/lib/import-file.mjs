// The file of `spot-keys import --file` (docs/cli.md "Bulk import"): one JSON object per line,
// `{"account": "acct_…", "secret": "sk_live_…", "label": "…"}` with optional `expires_at` and `policy`
// as the import API takes them (docs/admin-api.md). Plain ESM; the lines are checked with the API's
// rules for their shape, so a dry run finds what the API would refuse (the API still decides).
//
// Nothing here ever puts a secret into a message: a line is named by its number and at most the last
// 4 characters of its secret (the API's `secret_hint` rule), and a line that is not valid JSON is
// reported without its text (V8's JSON.parse message quotes the text).

import { UNSAFE_CHARACTER } from "./terminal-text.mjs";

/** `acct_` + 1..64 letters or digits (API_KEY_PATTERN in src/keys/format.ts). */
export const ACCOUNT_PATTERN = /^acct_[A-Za-z0-9]{1,64}$/;
/** `sk_live_`/`sk_test_` + 4..128 letters or digits (API_SECRET_PATTERN in src/keys/format.ts). */
export const SECRET_PATTERN = /^sk_(live|test)_[A-Za-z0-9]{4,128}$/;

/** The fields a line may have. */
const FIELDS = new Set(["account", "secret", "label", "expires_at", "policy"]);

/** Characters after the prefix of a checksummed secret; the last 6 of them are the checksum (src/keys/secret.ts). */
const CHECKSUM_BODY_CHARS = 39;
const RANDOM_CHARS = 33;
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** Shortest body whose last 4 characters may be shown (HINT_MIN_BODY_CHARS in src/keys/secret.ts). */
const HINT_MIN_BODY_CHARS = 20;
/** RATE_LIMIT_TIERS_PER_MINUTE in src/keys/policy.ts. */
const TIERS = [60, 120, 300, 600, 1200, 3000, 6000, 12000, 30000, 60000];

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The 6-character base62 CRC32 checksum of a random part (checksumOf in src/keys/secret.ts). */
function checksumOf(randomPart) {
  let crc = 0xffffffff;
  for (let i = 0; i < randomPart.length; i++) crc = CRC_TABLE[(crc ^ randomPart.charCodeAt(i)) & 0xff] ^ (crc >>> 8);
  let n = (crc ^ 0xffffffff) >>> 0;
  let out = "";
  while (n > 0) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out.padStart(6, "0");
}

/**
 * What may be shown of a secret: its last 4 characters when the part after the prefix has at least 20
 * (the API's `secret_hint`), else null (for a short legacy secret they would be most of it).
 * @param {string} secret
 * @returns {string | null}
 */
export function secretHint(secret) {
  const body = secret.slice("sk_live_".length);
  return body.length >= HINT_MIN_BODY_CHARS ? body.slice(-4) : null;
}

/** "line 12 (…WXYZ)" or "line 12": how messages name a line. */
export function lineName(entry) {
  return entry.hint ? `line ${entry.line} (…${entry.hint})` : `line ${entry.line}`;
}

/**
 * Checks one parsed line. @returns a reason (never quoting the secret) or null when it is importable
 */
function problemOf(value) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return "not a JSON object";
  const unknown = Object.keys(value).filter((name) => !FIELDS.has(name));
  if (unknown.length > 0) {
    // A field name is shown only when it cannot be a secret pasted in the wrong place.
    const shown = unknown.filter((name) => /^[a-z][a-z_]{0,31}$/.test(name) && !name.startsWith("sk_"));
    return shown.length === unknown.length
      ? `unknown field${unknown.length > 1 ? "s" : ""} ${shown.map((name) => JSON.stringify(name)).join(", ")} (account, secret, label, expires_at, policy)`
      : "unknown fields (account, secret, label, expires_at, policy are the fields)";
  }
  if (value.account === undefined) return "no account";
  if (typeof value.account !== "string" || !ACCOUNT_PATTERN.test(value.account))
    return "account is not an account id (acct_ + 1..64 letters or digits)";
  if (value.secret === undefined) return "no secret";
  if (typeof value.secret !== "string" || !SECRET_PATTERN.test(value.secret))
    return "secret is not well-formed (sk_live_ or sk_test_ + 4..128 letters or digits)";
  const body = value.secret.slice("sk_live_".length);
  if (body.length === CHECKSUM_BODY_CHARS && checksumOf(body.slice(0, RANDOM_CHARS)) !== body.slice(RANDOM_CHARS))
    return `secret has ${CHECKSUM_BODY_CHARS} characters after its prefix but not a valid checksum (the API refuses it)`;
  if (value.label !== undefined && value.label !== null) {
    if (typeof value.label !== "string" || value.label.length < 1 || value.label.length > 200)
      return "label is not text of 1..200 characters";
    if (UNSAFE_CHARACTER.test(value.label)) return "label has a control, format or invisible character (the API refuses it)";
  }
  if (
    value.expires_at !== undefined &&
    value.expires_at !== null &&
    (typeof value.expires_at !== "string" || !/^\d{4}-\d{2}-\d{2}T/.test(value.expires_at) || Number.isNaN(Date.parse(value.expires_at)))
  )
    return "expires_at is not an ISO 8601 instant (2027-01-31T00:00:00Z) or null";
  if (value.policy !== undefined) return policyProblem(value.policy);
  return null;
}

/** The shape of a `policy` (the API checks the ranges themselves). */
function policyProblem(policy) {
  if (policy === null || typeof policy !== "object" || Array.isArray(policy))
    return "policy is not an object ({ ip_allowlist?, rate_limit_per_minute? })";
  if (Object.keys(policy).some((name) => name !== "ip_allowlist" && name !== "rate_limit_per_minute"))
    return "policy has fields other than ip_allowlist and rate_limit_per_minute";
  const list = policy.ip_allowlist;
  if (
    list !== undefined &&
    list !== null &&
    (!Array.isArray(list) || list.length < 1 || list.length > 100 || list.some((x) => typeof x !== "string"))
  )
    return "policy.ip_allowlist is not a list of 1..100 addresses or CIDR ranges (or null)";
  const limit = policy.rate_limit_per_minute;
  if (limit !== undefined && limit !== null && !TIERS.includes(limit))
    return `policy.rate_limit_per_minute is not one of ${TIERS.join(", ")} (or null)`;
  return null;
}

/**
 * Parses and checks the lines of an import file. Blank lines are skipped (their numbers still count).
 * A secret given on an earlier line again (for any account) makes the later line invalid.
 * @param {string} text the file's content
 * @returns {{ entries: { line: number, account: string, hint: string | null, mode: string, body: object }[],
 *             invalid: { line: number, hint: string | null, reason: string }[], lines: number }}
 *          `body` is the import request body (`secret`, `label`, `expires_at`, `policy` as given);
 *          `lines` the number of non-blank lines
 */
export function parseImportFile(text) {
  const entries = [];
  const invalid = [];
  const seen = new Map();
  let lines = 0;
  const rows = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i].trim();
    if (row === "") continue;
    lines++;
    const line = i + 1;
    let value;
    try {
      value = JSON.parse(row);
    } catch {
      invalid.push({ line, hint: null, reason: "not valid JSON" });
      continue;
    }
    const problem = problemOf(value);
    const hint = typeof value?.secret === "string" && SECRET_PATTERN.test(value.secret) ? secretHint(value.secret) : null;
    if (problem !== null) {
      invalid.push({ line, hint, reason: problem });
      continue;
    }
    const first = seen.get(value.secret);
    if (first !== undefined) {
      invalid.push({ line, hint, reason: `the same secret as line ${first}` });
      continue;
    }
    seen.set(value.secret, line);
    const body = { secret: value.secret };
    for (const field of ["label", "expires_at", "policy"]) if (value[field] !== undefined) body[field] = value[field];
    entries.push({ line, account: value.account, hint, mode: SECRET_PATTERN.exec(value.secret)[1], body });
  }
  return { entries, invalid, lines };
}

/**
 * Whether a 409 `secret_already_registered` of the import API means the secret is held by a key of the
 * account it was imported to (so the line was imported before), not by another account. The API tells
 * only by its message: "This secret already belongs to a key of this account." (the account's Durable
 * Object) versus "This secret is already registered to another account." (the secret's claim).
 * @param {{ code?: string | null, message?: string }} err
 * @returns {"this_account" | "another_account" | "unknown"}
 */
export function registeredTo(err) {
  const message = String(err.message ?? "");
  if (/another account/i.test(message)) return "another_account";
  if (/this account/i.test(message)) return "this_account";
  return "unknown";
}
