// The file of `spot-keys import --file` (docs/cli.md "Bulk import"): one JSON object per line,
// `{"account": "acct_…", "secret": "sk_live_…", "label": "…"}` with optional `expires_at` and `policy`
// as the import API takes them (docs/admin-api.md). The lines are checked with the API's rules for
// their shape (the checksum and the tiers are the Worker's own code, loaded from src/), so a dry run finds what the API would refuse (the API still decides).
//
// Nothing here ever puts a secret into a message: a line is named by its number and at most the last
// 4 characters of its secret (the API's `secret_hint` rule), and a line that is not valid JSON is
// reported without its text (V8's JSON.parse message quotes the text).

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { UNSAFE_CHARACTER } from "./terminal-text.mjs";
import { importTypeScript } from "./ts-module.mjs";

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/** `acct_` + 1..64 letters or digits (API_KEY_PATTERN in src/keys/format.ts). */
export const ACCOUNT_PATTERN = /^acct_[A-Za-z0-9]{1,64}$/;
/** `sk_live_`/`sk_test_` + 4..128 letters or digits (API_SECRET_PATTERN in src/keys/format.ts). */
export const SECRET_PATTERN = /^sk_(live|test)_[A-Za-z0-9]{4,128}$/;

/** The fields a line may have. */
const FIELDS = new Set(["account", "secret", "label", "expires_at", "policy"]);

/**
 * The API's own rules that a line must meet, from src/ (scripts/lib/ts-module.mjs): the checksum of a
 * checksummed secret and the hint of src/keys/secret.ts, the rate-limit tiers of src/keys/policy.ts.
 * Loaded once per run, on the first file parsed.
 */
let rules;
function importRules() {
  rules ??= Promise.all([
    importTypeScript(join(ROOT, "src", "keys", "secret.ts")),
    importTypeScript(join(ROOT, "src", "keys", "policy.ts")),
  ]).then(([secret, policy]) => ({
    bodyChars: secret.SECRET_BODY_CHARS,
    hasValidChecksum: secret.hasValidChecksum,
    secretHint: secret.secretHint,
    tiers: policy.RATE_LIMIT_TIERS_PER_MINUTE,
  }));
  return rules;
}

/** "line 12 (…WXYZ)" or "line 12": how messages name a line. */
export function lineName(entry) {
  return entry.hint ? `line ${entry.line} (…${entry.hint})` : `line ${entry.line}`;
}

/**
 * Checks one parsed line. @returns a reason (never quoting the secret) or null when it is importable
 */
function problemOf(value, rules) {
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
  if (!rules.hasValidChecksum(value.secret))
    return `secret has ${rules.bodyChars} characters after its prefix but not a valid checksum (the API refuses it)`;
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
  if (value.policy !== undefined) return policyProblem(value.policy, rules.tiers);
  return null;
}

/** The shape of a `policy` (the API checks the ranges themselves). */
function policyProblem(policy, tiers) {
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
  if (limit !== undefined && limit !== null && !tiers.includes(limit))
    return `policy.rate_limit_per_minute is not one of ${tiers.join(", ")} (or null)`;
  return null;
}

/**
 * Parses and checks the lines of an import file. Blank lines are skipped (their numbers still count).
 * A secret given on an earlier line again (for any account) makes the later line invalid.
 * @param {string} text the file's content
 * @returns {Promise<{ entries: { line: number, account: string, hint: string | null, mode: string, body: object }[],
 *             invalid: { line: number, hint: string | null, reason: string }[], lines: number }>}
 *          `body` is the import request body (`secret`, `label`, `expires_at`, `policy` as given);
 *          `lines` the number of non-blank lines
 */
export async function parseImportFile(text) {
  const rules = await importRules();
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
    const problem = problemOf(value, rules);
    const hint = typeof value?.secret === "string" && SECRET_PATTERN.test(value.secret) ? rules.secretHint(value.secret) : null;
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
