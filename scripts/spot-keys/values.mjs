// spot-keys: checks and conversions of option values and positionals (ids, durations, times, limits,
// the key policy); a bad one throws UsageError (exit 2) before anything is sent.

import { UsageError } from "./errors.mjs";

/** The per-key rate limit tiers (RATE_LIMIT_TIERS_PER_MINUTE in src/keys/policy.ts; the API refuses others). */
export const TIERS = [60, 120, 300, 600, 1200, 3000, 6000, 12000, 30000, 60000];

const SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 };

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
export function policyFromOptions(values, { update }) {
  const policy = {};
  if (values["allow-ip"] !== undefined && values["no-allow-ip"]) throw new UsageError("give --allow-ip or --no-allow-ip, not both");
  if (values["allow-ip"] !== undefined) policy.ip_allowlist = values["allow-ip"];
  if (values["no-allow-ip"]) policy.ip_allowlist = null;
  if (values["rate-limit"] !== undefined) policy.rate_limit_per_minute = parseRateLimit(values["rate-limit"], { allowDefault: update });
  return Object.keys(policy).length > 0 ? policy : undefined;
}

/** Seconds of a duration: a number of seconds, or a number with s, m, h or d. */
export function parseDuration(text) {
  const match = /^(\d+)(s|m|h|d)?$/.exec(String(text).trim());
  if (!match) throw new UsageError(`--overlap ${JSON.stringify(text)}: give seconds or a number with s, m, h or d (e.g. 0, 3600, 24h)`);
  return Number(match[1]) * SECONDS[match[2] ?? "s"];
}

/**
 * A --since/--until value for the API: an ISO 8601 instant (passed on; the API validates it), a UTC day
 * (`2026-11-30` → its midnight), or a time ago (`15m` → now − 15 minutes).
 */
export function parseTime(option, text, nowMs = Date.now()) {
  const value = String(text).trim();
  const ago = /^(\d+)(s|m|h|d)$/.exec(value);
  if (ago) return new Date(nowMs - Number(ago[1]) * SECONDS[ago[2]] * 1000).toISOString();
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return `${value}T00:00:00Z`;
  if (/^\d{4}-\d{2}-\d{2}T/.test(value)) return value;
  throw new UsageError(
    `--${option} ${JSON.stringify(text)}: give an ISO 8601 instant (2026-11-30T14:00:00Z), a day (2026-11-30) or a time ago (90s, 15m, 2h, 7d)`,
  );
}

/** --since and --until as query parameters (undefined when not given). */
export const timeRange = (values) => ({
  since: values.since === undefined ? undefined : parseTime("since", values.since),
  until: values.until === undefined ? undefined : parseTime("until", values.until),
});

/** Seconds of a --wait value (a number of seconds or a number with s or m). */
export function parseWait(text) {
  const match = /^(\d+)(s|m)?$/.exec(String(text).trim());
  if (!match) throw new UsageError(`--wait ${JSON.stringify(text)}: give seconds or a number with s or m (e.g. 15s)`);
  const seconds = Number(match[1]) * (match[2] === "m" ? 60 : 1);
  if (seconds > 600) throw new UsageError("--wait: at most 10 minutes");
  return seconds;
}

export function parseLimit(text, max) {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(String(text)) || Number(text) < 1 || Number(text) > max)
    throw new UsageError(`--limit ${JSON.stringify(text)}: give a whole number from 1 to ${max}`);
  return Number(text);
}

export function optionalId(values, option, pattern, what) {
  const value = values[option];
  if (value === undefined) return undefined;
  if (!pattern.test(value)) throw new UsageError(`--${option} ${JSON.stringify(value)} is not ${what}`);
  return value;
}

/** --account and --key of the searches, checked when given. */
export const optionalAccount = (values) => optionalId(values, "account", /^acct_[A-Za-z0-9]{1,64}$/, "an account id (acct_…)");
export const optionalKey = (values) => optionalId(values, "key", /^key_[A-Za-z0-9]{1,64}$/, "a key id (key_…)");

export function requireAccount(values) {
  if (!values.account) throw new UsageError("--account is required (acct_…)");
  if (!/^acct_[A-Za-z0-9]{1,64}$/.test(values.account))
    throw new UsageError(`--account ${JSON.stringify(values.account)} is not an account id (acct_…)`);
  return values.account;
}

export function requireKeyId(positionals) {
  const keyId = positionals[0];
  if (!keyId) throw new UsageError("the key id is required (key_…)");
  if (positionals.length > 1) throw new UsageError(`unexpected arguments: ${positionals.slice(1).join(" ")}`);
  if (!/^key_[A-Za-z0-9]{1,64}$/.test(keyId)) throw new UsageError(`${JSON.stringify(keyId)} is not a key id (key_…)`);
  return keyId;
}

export function noPositionals(positionals) {
  if (positionals.length > 0) throw new UsageError(`unexpected arguments: ${positionals.join(" ")}`);
}

/** The body fields of the options given: `[[option, field], …]`. */
export function optionalBody(values, fields) {
  const body = {};
  for (const [option, field] of fields) if (values[option] !== undefined) body[field] = values[option];
  return body;
}
