#!/usr/bin/env node
// spot-keys: the command line for the admin API: the key lifecycle and the audit trail (docs/cli.md).
// Runs on Node ≥ 20 (`npx spot-keys …` uses the Node on PATH). Plain ESM; node: builtins and jose.
//
// Every string that came from the server (labels, actors, user agents, paths, error messages…) goes
// through `esc` before human output, and --json through jsonForTerminal: control, bidi, zero-width
// and other invisible characters are shown as escapes, never sent to the terminal raw
// (scripts/lib/terminal-text.mjs; docs/cli.md "Output of server text").

import { readFileSync, statSync } from "node:fs";
import { basename } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { AdminApiError, accessHeaders, adminRequest, isLocalUrl, localBaseUrl, mintDevToken } from "../scripts/admin-client.mjs";
import { lineName, parseImportFile, registeredTo } from "../scripts/lib/import-file.mjs";
import { escapeForTerminal as esc, jsonForTerminal } from "../scripts/lib/terminal-text.mjs";

/** Exit codes (docs/cli.md). */
const EXIT = { ok: 0, server: 1, usage: 2, network: 3, auth: 4, notFound: 5, conflict: 6, aborted: 7, someFailed: 8 };

/** The per-key rate limit tiers (RATE_LIMIT_TIERS_PER_MINUTE in src/keys/policy.ts; the API refuses others). */
const TIERS = [60, 120, 300, 600, 1200, 3000, 6000, 12000, 30000, 60000];

const USAGE = `spot-keys: manage API keys and search the audit trail through the edge authorizer's admin API

Usage:
  spot-keys create --account ACCT [--mode live|test] [--label TEXT] [--expires-at ISO]
                   [--allow-ip CIDR]... [--rate-limit N]
  spot-keys list   --account ACCT
  spot-keys show   --account ACCT KEY_ID
  spot-keys rotate --account ACCT KEY_ID [--overlap DURATION] [--expires-at ISO] [--label TEXT]
  spot-keys revoke --account ACCT KEY_ID [--yes]
  spot-keys update --account ACCT KEY_ID [--label TEXT | --no-label] [--expires-at ISO | --expires-at none]
                   [--allow-ip CIDR]... [--no-allow-ip] [--rate-limit N | --rate-limit default]
  spot-keys suspend --account ACCT [--yes]                            (every key of the account answers 401)
  spot-keys resume  --account ACCT                                    (its keys work again)
  spot-keys import --account ACCT [--label TEXT] [--expires-at ISO]   (the secret is read from stdin)
  spot-keys import --file KEYS.jsonl [--dry-run]                      (many keys: one JSON object a line)
  spot-keys token  [--read-only]                                      (prints a local dev admin token)
  spot-keys audit  --request-id ID [--wait DURATION]                  (the audit event of one response, from D1 or the archive)
  spot-keys audit  [--account ACCT] [--key KEY_ID] [--request-id ID] [--source-ip IP] [--connecting-ip IP]
                   [--outcome allowed|denied|error] [--since TIME] [--until TIME]
                   [--limit N] [--cursor C | --all]                   (search request events, newest first)
  spot-keys admin-audit [--account ACCT] [--key KEY_ID] [--actor SUB] [--action ACTION]
                   [--since TIME] [--until TIME] [--limit N] [--cursor C | --all]   (search admin events)

Options:
  --json        machine-readable output: the API's JSON answer (errors too), nothing else on stdout
  --yes, -y     revoke or suspend without asking
  --expires-at  an ISO 8601 UTC instant, in the future and at most 3650 days ahead; update: "none" removes the expiry
  --overlap     how long the old secret keeps working: 0, 3600, 90s, 30m, 24h, 7d (default 24h, at most 30d)
  --since, --until  an ISO 8601 instant (2026-11-30T14:00:00Z), a UTC day (2026-11-30), or a time ago (90s, 15m, 2h, 7d)
  --limit       events per page, 1..200 (default 50); with --all the most to fetch in all, 1..10000 (default 10000)
  --cursor      continue from the next_cursor (printed after a page)
  --all         follow the pages to the end (at most 10000 events)
  --file        import: a JSON Lines file, {"account": "acct_…", "secret": "sk_…", "label": "…"} a line
                (optional expires_at, policy); readable by its owner only (chmod 600)
  --dry-run     import --file: check every line and print what would be imported, send nothing
  --wait        with a lone --request-id: retry for up to this long (e.g. 15s) while the event is not stored yet
  --allow-ip    an IPv4/IPv6 address or CIDR range the key may be used from (repeat for several); the
                connecting IP must match, else 403 ip_not_allowed. update: replaces the whole list
  --no-allow-ip update: remove the allowlist (any address)
  --rate-limit  requests per minute for the key: ${TIERS.join(", ")}; update: "default" removes it
  -h, --help    this text

Environment:
  SPOT_ADMIN_URL    the authorizer (default: the local dev server of npm start, ${localBaseUrl()})
  SPOT_ADMIN_TOKEN  an admin JWT (Authorization: Bearer; also sent as cf-access-token for Cloudflare
                    Access, e.g. from \`cloudflared access token\`). Unset and the URL is local: a dev
                    token is minted from .wrangler/admin-dev-key.json (made by npm start).
  SPOT_ACCESS_CLIENT_ID, SPOT_ACCESS_CLIENT_SECRET
                    a Cloudflare Access service token (CF-Access-Client-Id / -Secret); Access then
                    adds its own JWT, so SPOT_ADMIN_TOKEN is not needed.

Exit codes: 0 ok · 1 server error · 2 usage or validation error · 3 network · 4 not authorized (401/403)
            5 not found · 6 conflict (409) · 7 not confirmed · 8 import --file: some lines failed`;

/** Audit searches: the API's page size bound, and the bound of --all. */
const MAX_PAGE = 200;
const MAX_ALL = 10_000;
const OUTCOMES = ["allowed", "denied", "error"];

class UsageError extends Error {}

/** `--rate-limit`: a tier, or (update only) "default" for null. */
function parseRateLimit(text, { allowDefault }) {
  if (allowDefault && String(text).trim().toLowerCase() === "default") return null;
  const n = Number(String(text).trim());
  if (!TIERS.includes(n)) {
    throw new UsageError(
      `--rate-limit ${JSON.stringify(text)}: give requests per minute, one of ${TIERS.join(", ")}${allowDefault ? ', or "default"' : ""}`,
    );
  }
  return n;
}

/** The policy part of a create/update body from the options, or undefined when none is given. */
function policyFromOptions(values, { update }) {
  const policy = {};
  if (values["allow-ip"] !== undefined && values["no-allow-ip"]) throw new UsageError("give --allow-ip or --no-allow-ip, not both");
  if (values["allow-ip"] !== undefined) policy.ip_allowlist = values["allow-ip"];
  if (values["no-allow-ip"]) policy.ip_allowlist = null;
  if (values["rate-limit"] !== undefined) policy.rate_limit_per_minute = parseRateLimit(values["rate-limit"], { allowDefault: update });
  return Object.keys(policy).length > 0 ? policy : undefined;
}

function policyLines(policy) {
  return [
    ["allowed IPs", policy?.ip_allowlist ? policy.ip_allowlist.join(", ") : "any"],
    ["rate limit", policy?.rate_limit_per_minute ? `${policy.rate_limit_per_minute} requests/minute` : "default"],
  ];
}

const useColor = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const paint = (code) => (text) => (useColor ? `\x1b[${code}m${text}\x1b[0m` : text);
const bold = paint("1");
const dim = paint("2");
const yellow = paint("33");
const red = paint("31");

/** Seconds of a duration: a number of seconds, or a number with s, m, h or d. */
function parseDuration(text) {
  const match = /^(\d+)(s|m|h|d)?$/.exec(String(text).trim());
  if (!match) throw new UsageError(`--overlap ${JSON.stringify(text)}: give seconds or a number with s, m, h or d (e.g. 0, 3600, 24h)`);
  return Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] ?? "s"];
}

/**
 * A --since/--until value for the API: an ISO 8601 instant (passed on; the API validates it), a UTC day
 * (`2026-11-30` → its midnight), or a time ago (`15m` → now − 15 minutes).
 */
function parseTime(option, text, nowMs = Date.now()) {
  const value = String(text).trim();
  const ago = /^(\d+)(s|m|h|d)$/.exec(value);
  if (ago) return new Date(nowMs - Number(ago[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[ago[2]] * 1000).toISOString();
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return `${value}T00:00:00Z`;
  if (/^\d{4}-\d{2}-\d{2}T/.test(value)) return value;
  throw new UsageError(
    `--${option} ${JSON.stringify(text)}: give an ISO 8601 instant (2026-11-30T14:00:00Z), a day (2026-11-30) or a time ago (90s, 15m, 2h, 7d)`,
  );
}

/** Seconds of a --wait value (a number of seconds or a number with s or m). */
function parseWait(text) {
  const match = /^(\d+)(s|m)?$/.exec(String(text).trim());
  if (!match) throw new UsageError(`--wait ${JSON.stringify(text)}: give seconds or a number with s or m (e.g. 15s)`);
  const seconds = Number(match[1]) * (match[2] === "m" ? 60 : 1);
  if (seconds > 600) throw new UsageError("--wait: at most 10 minutes");
  return seconds;
}

function parseLimit(text, max) {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(String(text)) || Number(text) < 1 || Number(text) > max)
    throw new UsageError(`--limit ${JSON.stringify(text)}: give a whole number from 1 to ${max}`);
  return Number(text);
}

function optionalId(values, option, pattern, what) {
  const value = values[option];
  if (value === undefined) return undefined;
  if (!pattern.test(value)) throw new UsageError(`--${option} ${JSON.stringify(value)} is not ${what}`);
  return value;
}

function requireAccount(values) {
  if (!values.account) throw new UsageError("--account is required (acct_…)");
  if (!/^acct_[A-Za-z0-9]{1,64}$/.test(values.account))
    throw new UsageError(`--account ${JSON.stringify(values.account)} is not an account id (acct_…)`);
  return values.account;
}

function requireKeyId(positionals) {
  const keyId = positionals[0];
  if (!keyId) throw new UsageError("the key id is required (key_…)");
  if (positionals.length > 1) throw new UsageError(`unexpected arguments: ${positionals.slice(1).join(" ")}`);
  if (!/^key_[A-Za-z0-9]{1,64}$/.test(keyId)) throw new UsageError(`${JSON.stringify(keyId)} is not a key id (key_…)`);
  return keyId;
}

function noPositionals(positionals) {
  if (positionals.length > 0) throw new UsageError(`unexpected arguments: ${positionals.join(" ")}`);
}

function optionalBody(values, fields) {
  const body = {};
  for (const [option, field] of fields) if (values[option] !== undefined) body[field] = values[option];
  return body;
}

async function connection() {
  const baseUrl = process.env.SPOT_ADMIN_URL?.trim() || localBaseUrl();
  let token = process.env.SPOT_ADMIN_TOKEN?.trim() || null;
  let headers;
  try {
    headers = accessHeaders(process.env, token);
  } catch (err) {
    throw new UsageError(err.message);
  }
  // An Access service token needs no admin token: Access adds its own JWT to the request.
  if (!token && !("CF-Access-Client-Id" in headers)) {
    if (!isLocalUrl(baseUrl))
      throw new UsageError(
        `SPOT_ADMIN_TOKEN is not set: an admin token (or SPOT_ACCESS_CLIENT_ID and SPOT_ACCESS_CLIENT_SECRET) is needed for ${baseUrl}`,
      );
    try {
      token = await mintDevToken();
    } catch (err) {
      throw new UsageError(err.message);
    }
  }
  return { baseUrl, token, headers };
}

// ---------------------------------------------------------------------------------------------
// Human output

/**
 * When a key was last used, for a column: the UTC time, "never" (null), or "unknown" when the answer has
 * no such field (the audit trail could not be read).
 */
function lastUsedText(key) {
  if (key.last_used_at === undefined) return "unknown";
  return key.last_used_at === null ? "never" : String(key.last_used_at).slice(0, 19).replace("T", " ");
}

/** One line of `list`: key, status, mode, secret hint, created, expires, last used (padded), label; every value escaped. */
function keyLine(key) {
  const widths = [22, 11, 5, 7, 20, 20, 20, 0];
  return [
    key.key_id,
    key.status,
    key.mode,
    key.secret_hint ? `…${key.secret_hint}` : "—",
    String(key.created_at).slice(0, 19).replace("T", " "),
    key.expires_at ? String(key.expires_at).slice(0, 19).replace("T", " ") : "never",
    lastUsedText(key),
    key.label ?? "",
  ]
    .map((value, i) => esc(value).padEnd(widths[i] ?? 0))
    .join(" ");
}

function showKey(key) {
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

/** `2026-11-30T14:00:00.123Z` → `2026-11-30 14:00:00.123`. */
const utc = (iso) =>
  String(iso ?? "")
    .replace("T", " ")
    .replace(/Z$/, "");

/**
 * Prints rows as columns sized to their content (each capped); every cell is escaped, then a longer
 * one is cut with `…` (at a code point boundary).
 */
function printTable(headers, rows, caps) {
  const cut = (text, max) => {
    const chars = [...text];
    return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : text;
  };
  const cells = rows.map((row) => row.map((cell, i) => cut(esc(cell ?? "—"), caps[i] ?? 80)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const line = (row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  console.log(dim(line(headers)));
  for (const row of cells) console.log(line(row));
}

function eventRow(e) {
  const source = e.source_ip ? `${e.source_ip}${e.source_ip_asserted ? "*" : ""}` : "—";
  return [
    utc(e.time),
    e.folded_count ? `${e.outcome}×${e.folded_count}` : e.outcome,
    e.status,
    e.reason,
    e.account_id ? `${e.account_id}${e.account_verified ? "" : "?"}` : "—",
    e.key_id ?? "—",
    e.connecting_ip ?? "—",
    source,
    `${e.method} ${e.path}`,
    e.request_id,
  ];
}

function printEvents(events) {
  if (events.length === 0) {
    console.log("No audit events match.");
    return;
  }
  printTable(
    ["TIME (UTC)", "OUTCOME", "STATUS", "REASON", "ACCOUNT", "KEY", "CONNECTING IP", "SOURCE IP", "REQUEST", "REQUEST ID"],
    events.map(eventRow),
    [23, 16, 3, 24, 28, 24, 39, 40, 48, 128],
  );
  if (events.some((e) => e.source_ip_asserted || (e.account_id && !e.account_verified)))
    console.log(dim("* asserted by X-Forwarded-For, not observed · ? account as claimed, not verified"));
}

function printAdminEvents(events) {
  if (events.length === 0) {
    console.log("No admin events match.");
    return;
  }
  printTable(
    ["TIME (UTC)", "ACTION", "OUTCOME", "STATUS", "REASON", "ACTOR", "ACCOUNT", "KEY", "QUERY", "REQUEST ID"],
    events.map((e) => [
      utc(e.time),
      e.action,
      e.outcome,
      e.status,
      e.reason,
      e.actor_sub ?? "—",
      e.account_id ?? "—",
      e.new_key_id ? `${e.key_id} → ${e.new_key_id}` : (e.key_id ?? "—"),
      e.query ?? "—",
      e.request_id,
    ]),
    [23, 18, 7, 3, 24, 32, 28, 48, 60, 128],
  );
}

/** Where a looked-up event was read (`source` of the answer; absent from servers before the archive). */
const SOURCE_TEXT = {
  d1: "D1 (the searchable trail of recent events)",
  archive: "archive (R2, Parquet: the event has left D1)",
};

function showEvent(e, source) {
  const chain = e.forwarded_chain.map((entry) =>
    entry.valid ? entry.ip + (entry.port ? `:${entry.port}` : "") : `${entry.raw} (invalid)`,
  );
  const rows = [
    ["request id", e.request_id],
    ["time", `${e.time}  (${e.duration_ms} ms)`],
    ["outcome", `${e.outcome}${e.folded_count ? ` ×${e.folded_count} (folded flood)` : ""}  ${e.status} ${e.reason}`],
    ...(e.would_refuse ? [["would refuse", `${e.would_refuse} (report-only: forwarded anyway, docs/operations.md)`]] : []),
    ["account", e.account_id ? `${e.account_id} (${e.account_verified ? "verified" : "claimed, not verified"})` : "—"],
    ["key", e.key_id ? `${e.key_id} (${e.mode})` : "—"],
    ["request", `${e.method} ${e.host}${e.path}${e.path_length > e.path.length ? " …" : ""}`],
    ["version", `${e.resolved_version ?? "—"}${e.requested_version ? ` (asked: ${e.requested_version})` : " (default)"}`],
    ["origin", e.origin ?? "—"],
    ["connecting ip", `${e.connecting_ip ?? "—"}  (observed by Cloudflare)`],
    ["source ip", `${e.source_ip ?? "—"}  (${e.source_ip_asserted ? "asserted by X-Forwarded-For" : e.source_ip_from})`],
  ];
  if (e.forwarded_for !== null)
    rows.push(["forwarded", `${chain.join(", ")}${e.forwarded_count > chain.length ? ` … (${e.forwarded_count} entries)` : ""}`]);
  rows.push(["user agent", e.user_agent ?? "—"]);
  rows.push(["edge", `${e.colo ?? "—"} ${e.country ?? ""}  ray ${e.ray_id ?? "—"}`.trimEnd()]);
  if (e.forged_headers_count > 0) rows.push(["forged headers", e.forged_headers.join(", ")]);
  if (e.truncated) rows.push(["truncated", "yes: some values were cut (see the *_length fields with --json)"]);
  rows.push(["event id", e.event_id]);
  if (source !== undefined) rows.push(["read from", SOURCE_TEXT[source] ?? source]);
  return rows.map(([name, value]) => `  ${name.padEnd(15)}${esc(value)}`).join("\n");
}

function printSecret(secret) {
  console.log(`\n  ${bold("secret")}  ${esc(secret)}\n`);
  console.error(yellow("! Store this secret now: it is shown only this once and cannot be recovered."));
}

/** `kv_sync` of a key (docs/admin-api.md), for `show`. */
const KV_SYNC_TEXT = {
  synced: "written",
  pending: "pending: the write to KV is being retried automatically",
  failed: "FAILED: KV refused it for good, so the key does not authenticate (server log: key_kv_write_abandoned)",
};

function syncNote(body) {
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
function boundNote(body) {
  return body.revocation_published === false
    ? "within about 90 s of its KV write (KV propagation + isolate cache): the revocation feed has not got it yet"
    : "within 5 s (revocation feed)";
}

/** The notes of suspend/resume: KV records of the account's keys still being written, the feed not reached yet. */
function accountSyncNote(body) {
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

// ---------------------------------------------------------------------------------------------
// Prompts

function ask(question) {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      resolve(answer);
    });
  });
}

/** Reads the secret to import: the first line of stdin, or a prompt without echo on a terminal. */
async function readSecret() {
  if (!process.stdin.isTTY) {
    let text = "";
    for await (const chunk of process.stdin) text += chunk;
    return text.split(/\r?\n/)[0].trim();
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  let prompted = false;
  rl._writeToOutput = (text) => {
    if (!prompted) {
      process.stderr.write(text);
      prompted = true;
    }
  };
  const answer = await new Promise((resolve) => rl.question("Secret to import (not shown): ", resolve));
  rl.close();
  process.stderr.write("\n");
  return answer.trim();
}

// ---------------------------------------------------------------------------------------------
// Commands

const COMMON = { json: { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false } };
const SPECS = {
  create: {
    ...COMMON,
    account: { type: "string" },
    mode: { type: "string" },
    label: { type: "string" },
    "expires-at": { type: "string" },
    "allow-ip": { type: "string", multiple: true },
    "rate-limit": { type: "string" },
  },
  update: {
    ...COMMON,
    account: { type: "string" },
    label: { type: "string" },
    "no-label": { type: "boolean", default: false },
    "expires-at": { type: "string" },
    "allow-ip": { type: "string", multiple: true },
    "no-allow-ip": { type: "boolean", default: false },
    "rate-limit": { type: "string" },
  },
  list: { ...COMMON, account: { type: "string" } },
  show: { ...COMMON, account: { type: "string" } },
  rotate: {
    ...COMMON,
    account: { type: "string" },
    overlap: { type: "string" },
    label: { type: "string" },
    "expires-at": { type: "string" },
  },
  revoke: { ...COMMON, account: { type: "string" }, yes: { type: "boolean", short: "y", default: false } },
  suspend: { ...COMMON, account: { type: "string" }, yes: { type: "boolean", short: "y", default: false } },
  resume: { ...COMMON, account: { type: "string" } },
  import: {
    ...COMMON,
    account: { type: "string" },
    label: { type: "string" },
    "expires-at": { type: "string" },
    file: { type: "string" },
    "dry-run": { type: "boolean", default: false },
  },
  token: { ...COMMON, "read-only": { type: "boolean", default: false } },
  audit: {
    ...COMMON,
    "request-id": { type: "string" },
    account: { type: "string" },
    key: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
    "source-ip": { type: "string" },
    "connecting-ip": { type: "string" },
    outcome: { type: "string" },
    limit: { type: "string" },
    cursor: { type: "string" },
    all: { type: "boolean", default: false },
    wait: { type: "string" },
  },
  "admin-audit": {
    ...COMMON,
    account: { type: "string" },
    key: { type: "string" },
    actor: { type: "string" },
    action: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
    limit: { type: "string" },
    cursor: { type: "string" },
    all: { type: "boolean", default: false },
  },
};

/**
 * Fetches one page, or with --all every page up to `limit` events (pages of at most 200).
 * @returns {{ events: object[], next_cursor: string | null }} next_cursor non-null when more remain
 */
async function fetchPages(conn, path, params, { all, limit, cursor }) {
  const events = [];
  let next = cursor ?? null;
  const cap = all ? (limit ?? MAX_ALL) : null;
  for (;;) {
    const query = new URLSearchParams(params);
    const size = cap === null ? limit : Math.min(MAX_PAGE, cap - events.length);
    if (size !== undefined) query.set("limit", String(size));
    if (next) query.set("cursor", next);
    const { body } = await adminRequest({ ...conn, method: "GET", path: `${path}?${query}` });
    events.push(...body.events);
    next = body.next_cursor;
    if (cap === null || next === null || events.length >= cap) return { events, next_cursor: next };
  }
}

function printMore(page, values) {
  if (page.next_cursor === null) return;
  if (values.all) console.error(dim(`Stopped after ${page.events.length} events; continue with --cursor ${esc(page.next_cursor)}`));
  else console.error(dim(`More events: add --cursor ${esc(page.next_cursor)} (or --all)`));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function auditCommand(values, positionals, out) {
  noPositionals(positionals);
  const requestId = optionalId(values, "request-id", /^[A-Za-z0-9._:-]{1,128}$/, "a request id (the X-Request-Id of a response)");
  const outcome = values.outcome;
  if (outcome !== undefined && !OUTCOMES.includes(outcome))
    throw new UsageError(`--outcome ${JSON.stringify(outcome)}: one of ${OUTCOMES.join(", ")}`);
  const params = Object.entries({
    account_id: optionalId(values, "account", /^acct_[A-Za-z0-9]{1,64}$/, "an account id (acct_…)"),
    key_id: optionalId(values, "key", /^key_[A-Za-z0-9]{1,64}$/, "a key id (key_…)"),
    request_id: requestId,
    source_ip: values["source-ip"],
    connecting_ip: values["connecting-ip"],
    outcome,
    since: values.since === undefined ? undefined : parseTime("since", values.since),
    until: values.until === undefined ? undefined : parseTime("until", values.until),
  }).filter(([, v]) => v !== undefined);
  const paging = values.limit !== undefined || values.cursor !== undefined || values.all;
  if (values.all && values.cursor === "") throw new UsageError("--cursor is empty");

  // A lone request id: the one event of that response.
  if (requestId !== undefined && params.length === 1 && !paging) {
    const waitSeconds = values.wait === undefined ? 0 : parseWait(values.wait);
    const conn = await connection();
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
      try {
        const { body } = await adminRequest({ ...conn, method: "GET", path: `/audit/requests/${encodeURIComponent(requestId)}` });
        out(body, (b) => console.log(showEvent(b.event, b.source)));
        return EXIT.ok;
      } catch (err) {
        if (!(err instanceof AdminApiError && err.status === 404 && Date.now() < deadline)) {
          if (err instanceof AdminApiError && err.code === "audit_event_not_found") err.hint = notFoundHint(requestId);
          throw err;
        }
        await sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
      }
    }
  }
  if (values.wait !== undefined) throw new UsageError("--wait goes only with a lone --request-id");
  const limit = parseLimit(values.limit, values.all ? MAX_ALL : MAX_PAGE);
  const page = await fetchPages(await connection(), "/audit/events", params, { all: values.all, limit, cursor: values.cursor });
  out(page, (p) => {
    printEvents(p.events);
    printMore(p, values);
  });
  return EXIT.ok;
}

async function adminAuditCommand(values, positionals, out) {
  noPositionals(positionals);
  const params = Object.entries({
    account_id: optionalId(values, "account", /^acct_[A-Za-z0-9]{1,64}$/, "an account id (acct_…)"),
    key_id: optionalId(values, "key", /^key_[A-Za-z0-9]{1,64}$/, "a key id (key_…)"),
    actor: values.actor,
    action: values.action,
    since: values.since === undefined ? undefined : parseTime("since", values.since),
    until: values.until === undefined ? undefined : parseTime("until", values.until),
  }).filter(([, v]) => v !== undefined);
  const limit = parseLimit(values.limit, values.all ? MAX_ALL : MAX_PAGE);
  const page = await fetchPages(await connection(), "/audit/admin-events", params, { all: values.all, limit, cursor: values.cursor });
  out(page, (p) => {
    printAdminEvents(p.events);
    printMore(p, values);
  });
  return EXIT.ok;
}

// ---------------------------------------------------------------------------------------------
// Bulk import: import --file (docs/cli.md "Bulk import")

/** Import requests in flight at once. */
const IMPORT_CONCURRENCY = 8;
/** Attempts of one line while the answer is 429 or 503 or there is none, before it counts as failed (or stops the run). */
const IMPORT_ATTEMPTS = 6;
/** The longest wait between two attempts, whatever Retry-After says. */
const MAX_RETRY_WAIT_MS = 60_000;

/** A path as a shell word, for the `chmod` hint. */
const shellWord = (text) => (/^[\w./@%+=:,-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`);

/**
 * Reads the import file. It holds secrets, so one that group or others may read or write (POSIX mode &
 * 0o077) is refused, with the chmod that fixes it; Windows has no such mode bits and is not checked.
 */
function readImportFile(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    throw new UsageError(`--file ${path}: ${err.code === "ENOENT" ? "no such file" : err.message}`);
  }
  if (!stat.isFile()) throw new UsageError(`--file ${path}: not a regular file`);
  if (process.platform !== "win32" && (stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, "0");
    throw new UsageError(
      `--file ${path} has mode ${mode}: others can read it, and it holds secrets. Make it readable by you only (\`chmod 600 ${shellWord(path)}\`) and run again`,
    );
  }
  return readFileSync(path, "utf8");
}

/** How long to wait before attempt `attempt + 1`: the answer's Retry-After, else 0.5 s doubling (with jitter). */
function retryDelayMs(err, attempt) {
  if (err.retryAfter !== null && err.retryAfter !== undefined) return Math.min(MAX_RETRY_WAIT_MS, err.retryAfter * 1000);
  return Math.min(MAX_RETRY_WAIT_MS, 500 * 2 ** (attempt - 1) * (0.8 + Math.random() * 0.4));
}

/**
 * Imports one line, retrying 429, 503 and network failures with backoff.
 * @returns {Promise<{ outcome: "imported", key: object | null } | { outcome: "already" } | { outcome: "failed", reason: string }>}
 * @throws AdminApiError that stops the whole run: 401/403, or no answer after every attempt
 */
async function importLine(conn, entry) {
  const secret = entry.body.secret;
  // The API's messages do not quote the secret; this keeps it so should one ever do.
  const clean = (text) => String(text ?? "").replaceAll(secret, "sk_…");
  for (let attempt = 1; ; attempt++) {
    try {
      const { body } = await adminRequest({ ...conn, method: "POST", path: `/accounts/${entry.account}/keys/import`, body: entry.body });
      return { outcome: "imported", key: body?.key ?? null };
    } catch (err) {
      if (!(err instanceof AdminApiError)) throw err;
      const passing = err.kind === "network" || err.status === 429 || err.status === 503;
      if (passing && attempt < IMPORT_ATTEMPTS) {
        await sleep(retryDelayMs(err, attempt));
        continue;
      }
      if (err.kind === "network" || err.status === 401 || err.status === 403) {
        err.message = clean(err.message);
        throw err;
      }
      if (err.code === "secret_already_registered") {
        const owner = registeredTo(err);
        if (owner === "this_account") return { outcome: "already" };
        return {
          outcome: "failed",
          reason:
            owner === "another_account"
              ? "the secret is registered to another account (409 secret_already_registered)"
              : `${clean(err.message)} (409, secret_already_registered)`,
        };
      }
      const detail = [err.status, err.code, err.param && `field ${err.param}`].filter(Boolean).join(", ");
      return { outcome: "failed", reason: `${clean(err.message)} (${detail}${passing ? `, after ${attempt} attempts` : ""})` };
    }
  }
}

/**
 * Progress on stderr: a bar redrawn in place on a terminal; otherwise a plain line at every tenth of the
 * lines and at least every 10 s. Never a secret: only counts.
 */
function importProgress(total) {
  const tty = Boolean(process.stderr.isTTY);
  const step = Math.max(1, Math.ceil(total / 10));
  // On a terminal the bar is drawn at once; plain lines start after the first tenth (or 10 s).
  let lastMs = tty ? 0 : Date.now();
  let lastDone = 0;
  const text = (c) => `${c.done}/${total} lines · imported ${c.imported} · already present ${c.already} · failed ${c.failed}`;
  return {
    update(c) {
      const now = Date.now();
      if (tty) {
        if (c.done < total && now - lastMs < 100) return;
        const width = 30;
        const filled = Math.round((c.done / total) * width);
        process.stderr.write(`\r\x1b[2K[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${text(c)}`);
      } else {
        if (!(c.done === total || c.done - lastDone >= step || now - lastMs >= 10_000)) return;
        process.stderr.write(`import: ${text(c)}\n`);
        lastDone = c.done;
      }
      lastMs = now;
    },
    finish() {
      if (tty) process.stderr.write("\n");
    },
  };
}

/** Runs the import of every entry, IMPORT_CONCURRENCY at a time; a stopping error leaves the rest not done. */
async function importEntries(conn, entries, onResult) {
  const results = new Array(entries.length).fill(null);
  let next = 0;
  let stopped = null;
  const worker = async () => {
    while (stopped === null && next < entries.length) {
      const i = next++;
      try {
        results[i] = await importLine(conn, entries[i]);
      } catch (err) {
        stopped ??= err;
        return;
      }
      onResult(results[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IMPORT_CONCURRENCY, entries.length) }, worker));
  return { results, stopped };
}

async function importFile(values, positionals) {
  noPositionals(positionals);
  for (const option of ["account", "label", "expires-at"]) {
    if (values[option] !== undefined) throw new UsageError(`--${option} does not go with --file: each line gives its own`);
  }
  const path = values.file;
  const name = basename(path);
  const { entries, invalid, lines } = parseImportFile(readImportFile(path));
  if (lines === 0) throw new UsageError(`--file ${path}: no lines to import`);
  const invalidJson = invalid.map((x) => ({ line: x.line, secret_hint: x.hint, reason: x.reason }));
  const failedLines = (list) => list.map((x) => `  ${lineName(x)}: ${esc(x.reason)}`).join("\n");

  if (values["dry-run"]) {
    if (values.json) {
      console.log(
        jsonForTerminal({
          dry_run: true,
          lines,
          would_import: entries.map((e) => ({
            line: e.line,
            account_id: e.account,
            mode: e.mode,
            secret_hint: e.hint,
            label: e.body.label ?? null,
          })),
          failed: invalidJson,
        }),
      );
    } else {
      console.log(`Dry run of ${esc(name)}: nothing is sent.`);
      for (const e of entries) {
        console.log(
          `  line ${String(e.line).padEnd(6)}${esc(e.account).padEnd(24)}${e.mode.padEnd(5)} ${(e.hint ? `…${e.hint}` : "—").padEnd(6)}${e.body.label ? ` "${esc(e.body.label)}"` : ""}`,
        );
      }
      const accounts = new Set(entries.map((e) => e.account)).size;
      console.log(
        `Would import ${entries.length} key(s) to ${accounts} account(s) (lines already imported to the same account count as already present); ${invalid.length} line(s) invalid.`,
      );
      if (invalid.length > 0) console.log(`Invalid:\n${failedLines(invalid)}`);
    }
    return invalid.length > 0 ? EXIT.someFailed : EXIT.ok;
  }

  const conn = await connection();
  const counts = { done: invalid.length, imported: 0, already: 0, failed: invalid.length };
  const progress = importProgress(lines);
  progress.update(counts);
  const { results, stopped } = await importEntries(conn, entries, (result) => {
    counts.done++;
    if (result.outcome === "imported") counts.imported++;
    else if (result.outcome === "already") counts.already++;
    else counts.failed++;
    progress.update(counts);
  });
  progress.finish();

  const imported = [];
  const already = [];
  const failed = [...invalid];
  const notAttempted = [];
  entries.forEach((entry, i) => {
    const result = results[i];
    if (result === null) notAttempted.push(entry);
    else if (result.outcome === "imported") imported.push({ ...entry, key: result.key });
    else if (result.outcome === "already") already.push(entry);
    else failed.push({ line: entry.line, hint: entry.hint, reason: result.reason });
  });
  failed.sort((a, b) => a.line - b.line);
  const syncFailed = imported.filter((x) => x.key?.kv_sync === "failed");

  if (values.json) {
    console.log(
      jsonForTerminal({
        dry_run: false,
        lines,
        imported: imported.map((x) => ({
          line: x.line,
          account_id: x.account,
          key_id: x.key?.key_id ?? null,
          secret_hint: x.hint,
          kv_sync: x.key?.kv_sync ?? null,
        })),
        already_present: already.map((x) => ({ line: x.line, account_id: x.account, secret_hint: x.hint })),
        failed: failed.map((x) => ({ line: x.line, secret_hint: x.hint, reason: x.reason })),
        not_done: notAttempted.map((x) => x.line),
        stopped: stopped
          ? {
              status: stopped.status,
              code: stopped.code ?? (stopped.kind === "network" ? "network_error" : null),
              message: stopped.message,
            }
          : null,
      }),
    );
    if (stopped) return exitCodeOf(stopped);
  } else {
    console.log(
      `${esc(name)}: imported ${imported.length}, already present ${already.length}, failed ${failed.length}` +
        `${notAttempted.length > 0 ? `, not done ${notAttempted.length}` : ""} (of ${lines} lines).`,
    );
    if (failed.length > 0) console.log(`Failed:\n${failedLines(failed)}`);
    if (syncFailed.length > 0) {
      console.error(
        red(
          `! KV refused the edge lookup record of ${syncFailed.map((x) => `${esc(x.key.key_id)} (${lineName(x)})`).join(", ")} for good: ` +
            "such a key does not authenticate. Revoke it and give its client a new key (a revoked secret cannot be imported again).",
        ),
      );
    }
    if (stopped) {
      console.error(
        yellow(
          `! Stopped: ${notAttempted.length} line(s) not done. Run the same command again once fixed: lines already imported count as already present.`,
        ),
      );
      throw stopped;
    }
  }
  return failed.length > 0 ? EXIT.someFailed : EXIT.ok;
}

async function run(command, values, positionals) {
  const json = values.json;
  const out = (body, human) => (json ? console.log(jsonForTerminal(body)) : human(body));

  switch (command) {
    case "audit":
      return auditCommand(values, positionals, out);
    case "admin-audit":
      return adminAuditCommand(values, positionals, out);
    case "token": {
      noPositionals(positionals);
      console.log(await mintDevToken({ readOnly: values["read-only"] }));
      return EXIT.ok;
    }
    case "create": {
      const account = requireAccount(values);
      noPositionals(positionals);
      const body = optionalBody(values, [
        ["mode", "mode"],
        ["label", "label"],
        ["expires-at", "expires_at"],
      ]);
      const policy = policyFromOptions(values, { update: false });
      if (policy) body.policy = policy;
      const { body: created } = await adminRequest({ ...(await connection()), method: "POST", path: `/accounts/${account}/keys`, body });
      out(created, (b) => {
        console.log(
          `Created key ${bold(esc(b.key.key_id))} for ${esc(b.key.account_id)} (${esc(b.key.mode)}${b.key.label ? `, "${esc(b.key.label)}"` : ""}).`,
        );
        printSecret(b.secret);
        syncNote(b);
      });
      return EXIT.ok;
    }
    case "list": {
      const account = requireAccount(values);
      noPositionals(positionals);
      const { body: list } = await adminRequest({ ...(await connection()), method: "GET", path: `/accounts/${account}/keys` });
      out(list, (b) => {
        console.log(
          dim(
            [
              "KEY".padEnd(22),
              "STATUS".padEnd(11),
              "MODE ",
              "SECRET ",
              "CREATED (UTC)".padEnd(20),
              "EXPIRES (UTC)".padEnd(20),
              "LAST USED (UTC)".padEnd(20),
              "LABEL",
            ].join(" "),
          ),
        );
        for (const key of b.keys) console.log(keyLine(key));
        if (b.account?.suspended) {
          console.log(
            yellow(
              `Account suspended since ${esc(b.account.suspended_at)}: every key answers 401 (spot-keys resume --account ${esc(account)}).`,
            ),
          );
        }
        if (b.keys.some((key) => key.status === "sync_failed"))
          console.log(dim("sync_failed: KV refused the key's edge lookup record, so it does not authenticate (spot-keys show for more)."));
      });
      return EXIT.ok;
    }
    case "show": {
      const account = requireAccount(values);
      const keyId = requireKeyId(positionals);
      const { body: shown } = await adminRequest({ ...(await connection()), method: "GET", path: `/accounts/${account}/keys/${keyId}` });
      out(shown, (b) => console.log(showKey(b.key)));
      return EXIT.ok;
    }
    case "rotate": {
      const account = requireAccount(values);
      const keyId = requireKeyId(positionals);
      const body = optionalBody(values, [
        ["label", "label"],
        ["expires-at", "expires_at"],
      ]);
      if (values.overlap !== undefined) body.overlap_seconds = parseDuration(values.overlap);
      const { body: rotated } = await adminRequest({
        ...(await connection()),
        method: "POST",
        path: `/accounts/${account}/keys/${keyId}/rotate`,
        body,
      });
      out(rotated, (b) => {
        console.log(`Rotated ${esc(b.previous.key_id)} → ${bold(esc(b.key.key_id))}.`);
        console.log(
          `The old secret works until ${esc(b.previous.expires_at)}${b.previous.status === "expired" ? " (already ended)" : ""}; the new one works now.`,
        );
        printSecret(b.secret);
        syncNote(b);
      });
      return EXIT.ok;
    }
    case "update": {
      const account = requireAccount(values);
      const keyId = requireKeyId(positionals);
      const body = {};
      if (values.label !== undefined && values["no-label"]) throw new UsageError("give --label or --no-label, not both");
      if (values.label !== undefined) body.label = values.label;
      if (values["no-label"]) body.label = null;
      if (values["expires-at"] !== undefined) {
        body.expires_at = String(values["expires-at"]).trim().toLowerCase() === "none" ? null : values["expires-at"];
      }
      const policy = policyFromOptions(values, { update: true });
      if (policy) body.policy = policy;
      if (Object.keys(body).length === 0) {
        throw new UsageError("nothing to change: give --label, --no-label, --expires-at, --allow-ip, --no-allow-ip or --rate-limit");
      }
      const { body: updated } = await adminRequest({
        ...(await connection()),
        method: "PATCH",
        path: `/accounts/${account}/keys/${keyId}`,
        body,
      });
      out(updated, (b) => {
        console.log(
          b.changed.length > 0
            ? `Updated ${bold(esc(b.key.key_id))}: ${esc(b.changed.join(", "))}.`
            : `Nothing changed on ${esc(b.key.key_id)}.`,
        );
        if (b.changed.includes("expires_at")) console.log(`  ${"expires".padEnd(12)}${esc(b.key.expires_at ?? "never")}`);
        for (const [name, value] of policyLines(b.key.policy)) console.log(`  ${name.padEnd(12)}${esc(value)}`);
        if (b.changed.includes("expires_at")) console.log(dim(`An earlier end is enforced everywhere ${boundNote(b)}.`));
        if (b.changed.some((name) => name !== "expires_at")) {
          console.log(dim("The edge enforces the change within about 90 s (KV propagation + isolate cache)."));
        }
        syncNote(b);
      });
      return EXIT.ok;
    }
    case "revoke": {
      const account = requireAccount(values);
      const keyId = requireKeyId(positionals);
      if (!values.yes) {
        if (!process.stdin.isTTY) {
          console.error(red(`Not revoking ${keyId}: confirm with --yes (there is no terminal to ask on).`));
          return EXIT.aborted;
        }
        const answer = await ask(`Revoke ${keyId} of ${account}? It stops working within seconds and cannot be undone. [y/N] `);
        if (!/^y(es)?$/i.test(answer.trim())) {
          console.error("Not revoked.");
          return EXIT.aborted;
        }
      }
      const { body: revoked } = await adminRequest({
        ...(await connection()),
        method: "POST",
        path: `/accounts/${account}/keys/${keyId}/revoke`,
        body: {},
      });
      out(revoked, (b) => {
        console.log(
          b.already_revoked
            ? `${esc(b.key.key_id)} was already revoked (${esc(b.key.revoked_at)}).`
            : `Revoked ${bold(esc(b.key.key_id))} at ${esc(b.key.revoked_at)}.`,
        );
        console.log(dim(`It stops working everywhere ${boundNote(b)}.`));
        syncNote(b);
      });
      return EXIT.ok;
    }
    case "suspend": {
      const account = requireAccount(values);
      noPositionals(positionals);
      if (!values.yes) {
        if (!process.stdin.isTTY) {
          console.error(red(`Not suspending ${account}: confirm with --yes (there is no terminal to ask on).`));
          return EXIT.aborted;
        }
        const answer = await ask(`Suspend ${account}? Every key of it answers 401 within seconds, until resumed. [y/N] `);
        if (!/^y(es)?$/i.test(answer.trim())) {
          console.error("Not suspended.");
          return EXIT.aborted;
        }
      }
      const { body: suspended } = await adminRequest({
        ...(await connection()),
        method: "POST",
        path: `/accounts/${account}/suspend`,
        body: {},
      });
      out(suspended, (b) => {
        console.log(
          b.already
            ? `${esc(b.account_id)} was already suspended (since ${esc(b.suspended_at)}).`
            : `Suspended ${bold(esc(b.account_id))} at ${esc(b.suspended_at)}; ${esc(b.keys_rewritten)} key record(s) rewritten.`,
        );
        console.log(dim(`Every key of it answers 401 everywhere ${boundNote(b)}, until \`spot-keys resume --account ${esc(account)}\`.`));
        accountSyncNote(b);
      });
      return EXIT.ok;
    }
    case "resume": {
      const account = requireAccount(values);
      noPositionals(positionals);
      const { body: resumed } = await adminRequest({
        ...(await connection()),
        method: "POST",
        path: `/accounts/${account}/resume`,
        body: {},
      });
      out(resumed, (b) => {
        console.log(
          b.already
            ? `${esc(b.account_id)} was not suspended.`
            : `Resumed ${bold(esc(b.account_id))}; ${esc(b.keys_rewritten)} key record(s) rewritten.`,
        );
        if (!b.already)
          console.log(dim("Its keys work again everywhere within 5 s (revocation feed; revoked and expired ones stay refused)."));
        accountSyncNote(b);
      });
      return EXIT.ok;
    }
    case "import": {
      if (values.file !== undefined) return importFile(values, positionals);
      if (values["dry-run"]) throw new UsageError("--dry-run goes with --file");
      const account = requireAccount(values);
      noPositionals(positionals);
      const secret = await readSecret();
      if (!secret) throw new UsageError("no secret given: pipe it on stdin (e.g. `spot-keys import --account acct_42 < secret.txt`)");
      const body = {
        secret,
        ...optionalBody(values, [
          ["label", "label"],
          ["expires-at", "expires_at"],
        ]),
      };
      const { body: imported } = await adminRequest({
        ...(await connection()),
        method: "POST",
        path: `/accounts/${account}/keys/import`,
        body,
      });
      out(imported, (b) => {
        console.log(
          `Imported as key ${bold(esc(b.key.key_id))} for ${esc(b.key.account_id)} (${esc(b.key.mode)}, ${esc(b.key.secret_format)}).`,
        );
        syncNote(b);
      });
      return EXIT.ok;
    }
    default:
      throw new UsageError(command ? `unknown command ${JSON.stringify(command)}` : "no command given");
  }
}

function exitCodeOf(err) {
  if (err.kind === "network") return EXIT.network;
  if (err.status === 400) return EXIT.usage;
  if (err.status === 401 || err.status === 403) return EXIT.auth;
  if (err.status === 404) return EXIT.notFound;
  if (err.status === 409) return EXIT.conflict;
  return EXIT.server;
}

const HINTS = {
  401: "check SPOT_ADMIN_TOKEN or the Access service token (locally: unset it to use a dev token; restart npm start if .dev.vars changed)",
  403: 'the token lacks the "keys:write" permission',
};

/** A hint for a 404 of the audit lookup: its event may not be stored yet. */
const NOT_STORED_HINT = "Audit events are stored a few seconds after the response: retry, or add --wait 15s.";

/** The time inside a UUIDv7 request id (RFC 9562: the first 48 bits, Unix ms), or null for any other id (src/request-id.ts). */
function uuidv7Time(id) {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(id)) return null;
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/**
 * The hint under a 404 of `audit --request-id`: for a UUIDv7 id older than a few minutes, when its request
 * arrived (waiting will not help: the API looked in D1 and in the archive objects of that time); else the wait hint.
 */
function notFoundHint(requestId, nowMs = Date.now()) {
  const timeMs = uuidv7Time(requestId);
  if (timeMs === null || nowMs - timeMs < 5 * 60_000) return NOT_STORED_HINT;
  return `The request id says its request arrived at ${new Date(timeMs).toISOString()}: not a recent one, so --wait will not bring it (docs/audit.md "Past the D1 window").`;
}

async function main(argv) {
  const [command, ...rest] = argv;
  const json = rest.includes("--json");
  try {
    if (!command || command === "-h" || command === "--help" || command === "help") {
      console.log(USAGE);
      return command ? EXIT.ok : EXIT.usage;
    }
    const spec = SPECS[command];
    if (!spec) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: spec, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageError(err.message);
    }
    if (parsed.values.help) {
      console.log(USAGE);
      return EXIT.ok;
    }
    return await run(command, parsed.values, parsed.positionals);
  } catch (err) {
    if (err instanceof UsageError) {
      if (json) console.log(jsonForTerminal({ error: { code: "usage", message: err.message } }));
      else console.error(`${red("error:")} ${esc(err.message)}\n${dim("Run `spot-keys --help` for usage.")}`);
      return EXIT.usage;
    }
    if (err instanceof AdminApiError) {
      if (json) {
        console.log(
          jsonForTerminal(err.body ?? { error: { code: err.kind === "network" ? "network_error" : "http_error", message: err.message } }),
        );
      } else {
        const detail =
          err.kind === "network" ? "" : ` (${[err.status, err.code, err.param && `field ${err.param}`].filter(Boolean).join(", ")})`;
        console.error(`${red("error:")} ${esc(err.message)}${esc(detail)}`);
        if (err.kind === "network") console.error(dim("Is the authorizer running (`npm start`), or is SPOT_ADMIN_URL right?"));
        if (HINTS[err.status]) console.error(dim(HINTS[err.status]));
        if (err.code === "audit_event_not_found") console.error(dim(err.hint ?? NOT_STORED_HINT));
        if (err.requestId) console.error(dim(`request id: ${esc(err.requestId)}`));
      }
      return exitCodeOf(err);
    }
    console.error(
      `${red("error:")} ${String(err?.stack ?? err)
        .split("\n")
        .map((line) => esc(line))
        .join("\n")}`,
    );
    return EXIT.server;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
