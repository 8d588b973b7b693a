// spot-keys: human output of keys and of changes (colours, `show`, `list` lines, the secret, the notes
// on KV and the revocation feed), and `--json` output. Every string from the server goes through `esc`
// (scripts/lib/terminal-text.mjs; docs/cli.md "Output of server text").

import { escapeForTerminal as esc, jsonForTerminal } from "../lib/terminal-text.mjs";

const useColor = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const paint = (code) => (text) => (useColor ? `\x1b[${code}m${text}\x1b[0m` : text);
export const bold = paint("1");
export const dim = paint("2");
export const yellow = paint("33");
export const red = paint("31");

/** `out(body, human)`: with --json the API's answer as JSON on stdout, else `human(body)`. */
export const outputFor = (json) => (body, human) => (json ? console.log(jsonForTerminal(body)) : human(body));

/** The policy of a key as `show`/`update` rows. */
export function policyLines(policy) {
  return [
    ["allowed IPs", policy?.ip_allowlist ? policy.ip_allowlist.join(", ") : "any"],
    ["rate limit", policy?.rate_limit_per_minute ? `${policy.rate_limit_per_minute} requests/minute` : "default"],
  ];
}

/** A UTC instant for a column: `2026-11-30 14:00:00`. */
const column = (iso) => String(iso).slice(0, 19).replace("T", " ");

/**
 * When a key was last used, for a column: the UTC time, "never" (null), or "unknown" when the answer has
 * no such field (the audit trail could not be read).
 */
function lastUsedText(key) {
  if (key.last_used_at === undefined) return "unknown";
  return key.last_used_at === null ? "never" : column(key.last_used_at);
}

/** The header of `list`, matching keyLine. */
export const KEY_HEADER = [
  "KEY".padEnd(22),
  "STATUS".padEnd(11),
  "MODE ",
  "SECRET ",
  "CREATED (UTC)".padEnd(20),
  "EXPIRES (UTC)".padEnd(20),
  "LAST USED (UTC)".padEnd(20),
  "LABEL",
].join(" ");

/** One line of `list`: key, status, mode, secret hint, created, expires, last used (padded), label; every value escaped. */
export function keyLine(key) {
  const widths = [22, 11, 5, 7, 20, 20, 20, 0];
  return [
    key.key_id,
    key.status,
    key.mode,
    key.secret_hint ? `…${key.secret_hint}` : "—",
    column(key.created_at),
    key.expires_at ? column(key.expires_at) : "never",
    lastUsedText(key),
    key.label ?? "",
  ]
    .map((value, i) => esc(value).padEnd(widths[i] ?? 0))
    .join(" ");
}

/** `kv_sync` of a key (docs/admin-api.md), for `show`. */
const KV_SYNC_TEXT = {
  synced: "written",
  pending: "pending: the write to KV is being retried automatically",
  failed: "FAILED: KV refused it for good, so the key does not authenticate (server log: key_kv_write_abandoned)",
};

export function showKey(key) {
  const rows = [
    ["key id", key.key_id],
    ["account", key.account_id],
    ["status", key.status],
    ["mode", key.mode],
    ["label", key.label ?? "—"],
    ["secret", `${key.secret_hint ? `sk_${key.mode}_…${key.secret_hint}` : "(too short to hint)"} (${key.secret_format}, ${key.source})`],
    ["created", `${key.created_at} by ${key.created_by || "—"}`],
    ["expires", key.expires_at ?? "never"],
  ];
  if (key.last_used_at !== undefined) {
    rows.push(["last used", key.last_used_at === null ? "never" : `${key.last_used_at} from ${key.last_used_ip ?? "—"}`]);
  }
  if (key.kv_sync) rows.push(["edge record", KV_SYNC_TEXT[key.kv_sync] ?? key.kv_sync]);
  if (key.revoked_at) rows.push(["revoked", key.revoked_at]);
  if (key.replaces_key_id) rows.push(["replaces", key.replaces_key_id]);
  if (key.replaced_by_key_id) rows.push(["replaced by", `${key.replaced_by_key_id} at ${key.rotated_at}`]);
  rows.push(...policyLines(key.policy));
  rows.push(["hash key", key.hash_key_id]);
  return rows.map(([name, value]) => `  ${name.padEnd(12)}${esc(value)}`).join("\n");
}

export function printSecret(secret) {
  console.log(`\n  ${bold("secret")}  ${esc(secret)}\n`);
  console.error(yellow("! Store this secret now: it is shown only this once and cannot be recovered."));
}

/** The notes after a change of a key: its KV record still being written or refused for good, the feed not reached yet. */
export function syncNote(body) {
  const failed = [body.key, body.previous].filter((key) => key?.kv_sync === "failed").map((key) => key.key_id);
  if (failed.length > 0) {
    console.error(
      red(
        `! The change is saved, but KV refused the edge lookup record of ${failed.join(" and ")} for good: ` +
          "it does not authenticate. Revoke it and create a new key; the server log has key_kv_write_abandoned.",
      ),
    );
  } else if (body.kv_synced === false) {
    console.error(yellow("! The change is saved; its edge lookup record is still being written (retried automatically)."));
  }
  if (body.revocation_published === false) {
    console.error(
      yellow(
        "! The change is saved, but not yet published to the revocation feed (retried automatically): until it is, the edge " +
          "takes up to about 90 s after the KV write to refuse, not 5 s.",
      ),
    );
  }
}

/** How soon the edge refuses after a "stop accepting" change: 5 s once it is in the revocation feed, else the KV bound. */
export function boundNote(body) {
  return body.revocation_published === false
    ? "within about 90 s of its KV write (KV propagation + isolate cache): the revocation feed has not got it yet"
    : "within 5 s (revocation feed)";
}

/** The notes of suspend/resume: KV records of the account's keys still being written, the feed not reached yet. */
export function accountSyncNote(body) {
  if (body.kv_synced === false) {
    console.error(
      yellow("! The change is saved; some keys' edge lookup records are still being written (retried automatically; spot-keys list)."),
    );
  }
  if (body.revocation_published === false) {
    console.error(
      yellow(
        "! The change is saved, but not yet published to the revocation feed (retried automatically): until it is, the edge " +
          "takes up to about 90 s after the KV writes, not 5 s.",
      ),
    );
  }
}
