/**
 * The audit event: one per request, allowed or denied (DESIGN §8, docs/audit.md).
 *
 * Pure: turns what the request path knows (`AuditInput`) into a JSON-safe, size-capped
 * `AuditEvent`. Every string is cut to its cap without splitting a surrogate pair, and every
 * lone surrogate or control character becomes U+FFFD, so the event serialises to valid UTF-8
 * and fits far below the Queues message limit whatever the client sent.
 *
 * What never goes in: the API secret, a query string, a body, or any header other than
 * User-Agent and X-Forwarded-For (both capped); of forged identity headers only the names are kept.
 */
import * as z from "zod";
import { capChars } from "../text";

export const AUDIT_SCHEMA_VERSION = 1;
/** Cloudflare Queues per-message limit. */
export const QUEUE_MESSAGE_LIMIT_BYTES = 128_000;
/** Our own cap per serialised event (checked by the producer before sending). */
export const MAX_EVENT_BYTES = 64_000;

// Per-field caps, in UTF-16 code units (JavaScript string length) unless said otherwise.
export const USER_AGENT_MAX_CHARS = 1024;
export const PATH_MAX_CHARS = 2048;
export const FORWARDED_FOR_MAX_CHARS = 2048;
export const FORWARDED_CHAIN_MAX_ENTRIES = 20;
export const FORWARDED_ENTRY_MAX_CHARS = 64;
/** account id and key id (also used for event id, request id and ray id). */
export const ID_MAX_CHARS = 128;
export const METHOD_MAX_CHARS = 16;
export const HOST_MAX_CHARS = 255;
export const VERSION_MAX_CHARS = 32;
export const ORIGIN_MAX_CHARS = 512;
export const REASON_MAX_CHARS = 64;
/** country and colo. */
export const GEO_MAX_CHARS = 8;
/** connecting_ip, source_ip and each chain entry's ip (an IPv6 text form is at most 45). */
export const IP_MAX_CHARS = 64;
/** Forged identity header names kept per event (`forged_headers`), and the cap of each name. */
export const FORGED_HEADERS_MAX_ENTRIES = 10;
export const FORGED_HEADER_MAX_CHARS = 64;
/** Largest time accepted: 9999-12-31T23:59:59.999Z (a later one would not be a plain ISO 8601 string). */
const MAX_TIME_MS = 253_402_300_799_999;

export type AuditOutcome = "allowed" | "denied" | "error";
export type SourceIpFrom = "x-forwarded-for" | "cf-connecting-ip" | "none";

export interface ForwardedEntryInput {
  raw: string;
  ip: string | null;
  port: number | null;
  valid: boolean;
}

/** What the request path knows. Any string may be huge or contain any character. */
export interface AuditInput {
  eventId: string;
  timeMs: number;
  requestId: string;
  rayId: string | null;
  outcome: AuditOutcome;
  /** Error code, or "ok". */
  reason: string;
  accountId: string | null;
  accountVerified: boolean;
  keyId: string | null;
  mode: "live" | "test" | null;
  requestedVersion: string | null;
  resolvedVersion: string | null;
  origin: string | null;
  method: string;
  host: string;
  /** Raw path, never the query string (anything from `?` is dropped here too). */
  path: string;
  status: number;
  durationMs: number;
  connectingIp: string | null;
  sourceIp: string | null;
  sourceIpFrom: SourceIpFrom;
  forwarded: { raw: string | null; rawLength: number; entries: ForwardedEntryInput[]; count: number };
  userAgent: string | null;
  country: string | null;
  colo: string | null;
  /** Canonical names of client-sent `x-spot-*` headers that are not the client's own (forwarding/headers.ts `forgedIdentityHeaders`). */
  forgedHeaders?: string[];
  /** Report-only mode: the error code enforcement would have answered for this request, forwarded anyway; else null/absent. */
  wouldRefuse?: string | null;
}

/** One parsed X-Forwarded-For entry as stored (asserted by the client's infrastructure, never trusted). */
export interface ForwardedEntry {
  raw: string;
  ip: string | null;
  port: number | null;
  valid: boolean;
}

/** The event as queued and stored: snake_case, JSON-safe, every field capped. See docs/audit.md. */
export interface AuditEvent {
  v: 1;
  event_id: string;
  /** ISO 8601 with milliseconds, UTC. */
  time: string;
  request_id: string;
  ray_id: string | null;
  outcome: AuditOutcome;
  reason: string;
  account_id: string | null;
  account_verified: boolean;
  key_id: string | null;
  mode: "live" | "test" | null;
  requested_version: string | null;
  resolved_version: string | null;
  origin: string | null;
  method: string;
  host: string;
  path: string;
  path_length: number;
  status: number;
  duration_ms: number;
  connecting_ip: string | null;
  source_ip: string | null;
  source_ip_from: SourceIpFrom;
  /** True when source_ip comes from X-Forwarded-For: what the customer asserts, not what we saw. */
  source_ip_asserted: boolean;
  forwarded_for: string | null;
  forwarded_for_length: number;
  forwarded_chain: ForwardedEntry[];
  forwarded_count: number;
  user_agent: string | null;
  user_agent_length: number;
  country: string | null;
  colo: string | null;
  /**
   * Names (canonical: lower case, `_`/`.` folded to `-`) of the authorizer's own headers that the client
   * sent and that were stripped (e.g. `x-spot-account-id`, `x-spot-assertion`): at most 10, each ≤ 64.
   */
  forged_headers: string[];
  /** How many distinct such names the request had. */
  forged_headers_count: number;
  /** True when any value in this event was shortened (a field cap, or the producer's size check). */
  truncated: boolean;
  /**
   * Report-only mode (docs/operations.md "Report-only mode"): the error code enforcement would have
   * answered (`invalid_credentials`, `ip_not_allowed`, `rate_limited`, …) for a request that was
   * forwarded anyway; null for every other request (and always in enforce mode).
   */
  would_refuse: string | null;
  /**
   * Denied requests from the same connecting IP that were folded into this event instead of being
   * stored one by one (flood folding, docs/audit.md); absent or 0 for an ordinary event.
   */
  folded_count?: number;
}

const text = (max: number) => z.string().max(max);
const nullableText = (max: number) => z.string().max(max).nullable();
const count = () => z.number().int().nonnegative();

export const ForwardedEntrySchema = z.strictObject({
  raw: text(FORWARDED_ENTRY_MAX_CHARS),
  ip: nullableText(IP_MAX_CHARS),
  port: z.number().int().min(0).max(65_535).nullable(),
  valid: z.boolean(),
});

/** Validates an event as the consumer receives it; unknown keys are refused, not stripped. */
export const AuditEventSchema = z.strictObject({
  v: z.literal(AUDIT_SCHEMA_VERSION),
  event_id: z.string().min(1).max(ID_MAX_CHARS),
  time: z.iso.datetime({ precision: 3 }),
  request_id: text(ID_MAX_CHARS),
  ray_id: nullableText(ID_MAX_CHARS),
  outcome: z.enum(["allowed", "denied", "error"]),
  reason: text(REASON_MAX_CHARS),
  account_id: nullableText(ID_MAX_CHARS),
  account_verified: z.boolean(),
  key_id: nullableText(ID_MAX_CHARS),
  mode: z.enum(["live", "test"]).nullable(),
  requested_version: nullableText(VERSION_MAX_CHARS),
  resolved_version: nullableText(VERSION_MAX_CHARS),
  origin: nullableText(ORIGIN_MAX_CHARS),
  method: text(METHOD_MAX_CHARS),
  host: text(HOST_MAX_CHARS),
  path: text(PATH_MAX_CHARS),
  path_length: count(),
  status: z.number().int().min(0).max(999),
  duration_ms: count(),
  connecting_ip: nullableText(IP_MAX_CHARS),
  source_ip: nullableText(IP_MAX_CHARS),
  source_ip_from: z.enum(["x-forwarded-for", "cf-connecting-ip", "none"]),
  source_ip_asserted: z.boolean(),
  forwarded_for: nullableText(FORWARDED_FOR_MAX_CHARS),
  forwarded_for_length: count(),
  forwarded_chain: z.array(ForwardedEntrySchema).max(FORWARDED_CHAIN_MAX_ENTRIES),
  forwarded_count: count(),
  user_agent: nullableText(USER_AGENT_MAX_CHARS),
  user_agent_length: count(),
  country: nullableText(GEO_MAX_CHARS),
  colo: nullableText(GEO_MAX_CHARS),
  // Added after v1 was first deployed: an event from an older producer has neither, read as none.
  forged_headers: z.array(text(FORGED_HEADER_MAX_CHARS)).max(FORGED_HEADERS_MAX_ENTRIES).default([]),
  forged_headers_count: count().default(0),
  truncated: z.boolean(),
  // Added with report-only mode: an event from an older producer has none, read as null.
  would_refuse: nullableText(REASON_MAX_CHARS).default(null),
  // Optional so that messages produced before the field existed still validate.
  folded_count: count().optional(),
});

// Compile-time check that the schema and the interface describe the same shape, both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesInterface: Same<z.infer<typeof AuditEventSchema>, AuditEvent> = true;
void schemaMatchesInterface;

// ---------------------------------------------------------------------------------------------
// The consumer's cheap check (src/audit/consumer.ts): a plain-code mirror of AuditEventSchema for the
// common case. It may refuse what the schema accepts (an event from an older producer, without
// forged_headers; anything unusual): the consumer then asks the schema. It must never accept what the
// schema refuses, nor anything the schema would change (a default to fill in): test/unit/audit/event.test.ts
// checks both against the schema, field by field and with generated events.

const isText = (max: number) => (v: unknown) => typeof v === "string" && v.length <= max;
const isNullableText = (max: number) => (v: unknown) => v === null || (typeof v === "string" && v.length <= max);
const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const isBoolean = (v: unknown) => typeof v === "boolean";
const isTextArray = (maxEntries: number, maxChars: number) => (v: unknown) => {
  if (!Array.isArray(v) || v.length > maxEntries) return false;
  for (const item of v) if (typeof item !== "string" || item.length > maxChars) return false;
  return true;
};

/** A plain object (as JSON.parse makes them), not an array, class instance or null. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Enumerable keys of a plain object, counted without building an array. */
export function keyCount(value: object): number {
  let n = 0;
  for (const _ in value) n++;
  return n;
}

/** `YYYY-MM-DDTHH:mm:ss.sssZ` naming a real instant of years 0000–9999: exactly what toISOString writes. */
function isIsoMillisUtc(v: unknown): boolean {
  if (typeof v !== "string" || v.length !== 24) return false;
  const ms = Date.parse(v);
  return !Number.isNaN(ms) && new Date(ms).toISOString() === v;
}

function isForwardedEntry(v: unknown): boolean {
  if (!isPlainObject(v) || keyCount(v) !== 4) return false;
  const port = v.port;
  return (
    typeof v.raw === "string" &&
    v.raw.length <= FORWARDED_ENTRY_MAX_CHARS &&
    (v.ip === null || (typeof v.ip === "string" && v.ip.length <= IP_MAX_CHARS)) &&
    (port === null || (Number.isSafeInteger(port) && (port as number) >= 0 && (port as number) <= 65_535)) &&
    typeof v.valid === "boolean"
  );
}

/** One predicate per field of AuditEvent (the compiler checks that none is missing). */
const REQUEST_EVENT_FIELDS: { readonly [K in keyof AuditEvent]-?: (value: unknown) => boolean } = {
  v: (v) => v === AUDIT_SCHEMA_VERSION,
  event_id: (v) => typeof v === "string" && v.length >= 1 && v.length <= ID_MAX_CHARS,
  time: isIsoMillisUtc,
  request_id: isText(ID_MAX_CHARS),
  ray_id: isNullableText(ID_MAX_CHARS),
  outcome: (v) => v === "allowed" || v === "denied" || v === "error",
  reason: isText(REASON_MAX_CHARS),
  account_id: isNullableText(ID_MAX_CHARS),
  account_verified: isBoolean,
  key_id: isNullableText(ID_MAX_CHARS),
  mode: (v) => v === null || v === "live" || v === "test",
  requested_version: isNullableText(VERSION_MAX_CHARS),
  resolved_version: isNullableText(VERSION_MAX_CHARS),
  origin: isNullableText(ORIGIN_MAX_CHARS),
  method: isText(METHOD_MAX_CHARS),
  host: isText(HOST_MAX_CHARS),
  path: isText(PATH_MAX_CHARS),
  path_length: isCount,
  status: (v) => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= 999,
  duration_ms: isCount,
  connecting_ip: isNullableText(IP_MAX_CHARS),
  source_ip: isNullableText(IP_MAX_CHARS),
  source_ip_from: (v) => v === "x-forwarded-for" || v === "cf-connecting-ip" || v === "none",
  source_ip_asserted: isBoolean,
  forwarded_for: isNullableText(FORWARDED_FOR_MAX_CHARS),
  forwarded_for_length: isCount,
  forwarded_chain: (v) => Array.isArray(v) && v.length <= FORWARDED_CHAIN_MAX_ENTRIES && v.every(isForwardedEntry),
  forwarded_count: isCount,
  user_agent: isNullableText(USER_AGENT_MAX_CHARS),
  user_agent_length: isCount,
  country: isNullableText(GEO_MAX_CHARS),
  colo: isNullableText(GEO_MAX_CHARS),
  forged_headers: isTextArray(FORGED_HEADERS_MAX_ENTRIES, FORGED_HEADER_MAX_CHARS),
  forged_headers_count: isCount,
  truncated: isBoolean,
  would_refuse: isNullableText(REASON_MAX_CHARS),
  folded_count: (v) => v === undefined || isCount(v),
};
const REQUEST_EVENT_CHECKS = Object.entries(REQUEST_EVENT_FIELDS);
/** Keys every event passing the cheap check has: all but the optional folded_count. */
const REQUIRED_FIELD_COUNT = REQUEST_EVENT_CHECKS.length - 1;

/**
 * The consumer's cheap validation of a request event: true only when `value` is a plain object that
 * AuditEventSchema accepts exactly as it is (every field present and valid, forged_headers included,
 * no unknown key, nothing the schema would add). False does not mean invalid: the caller then
 * validates with AuditEventSchema, which also reads events of older producers.
 */
export function isCompleteAuditEvent(value: unknown): value is AuditEvent {
  if (!isPlainObject(value)) return false;
  if (keyCount(value) !== REQUIRED_FIELD_COUNT + (value.folded_count === undefined ? 0 : 1)) return false;
  for (const [key, ok] of REQUEST_EVENT_CHECKS) if (!ok(value[key])) return false;
  return true;
}

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;
/** A control character (C0, DEL, C1) or a surrogate code unit, paired or not: what {@link cleanText} must look at. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is this pattern's purpose
const UNCLEAN_TEXT = /[\u0000-\u001f\u007f-\u009f\ud800-\udfff]/;

/** C0 controls, DEL and C1 controls. */
const isControl = (c: number) => c < 0x20 || (c >= 0x7f && c <= 0x9f);

/**
 * Cuts `value` to at most `maxChars` UTF-16 code units without splitting a surrogate pair, and
 * replaces every lone surrogate and control character with U+FFFD, so the result always encodes
 * to valid UTF-8 (for JSON, Queues and D1). U+00FF and every other valid character are kept.
 */
export function cleanText(value: string, maxChars: number): string {
  // Nearly every value is short and clean already: one native scan proves it, no copy is made.
  if (value.length <= maxChars && !UNCLEAN_TEXT.test(value)) return value;
  const end = capChars(value, maxChars).length;
  let out = "";
  let runStart = 0;
  for (let i = 0; i < end; i++) {
    const c = value.charCodeAt(i);
    if (isHighSurrogate(c) && i + 1 < end && isLowSurrogate(value.charCodeAt(i + 1))) {
      i++;
      continue;
    }
    if (isControl(c) || isHighSurrogate(c) || isLowSurrogate(c)) {
      out += `${value.slice(runStart, i)}\uFFFD`;
      runStart = i + 1;
    }
  }
  return out + value.slice(runStart, end);
}

/** UTF-8 byte length of JSON.stringify(event), the size that the queue and D1 see. */
export function eventSize(event: AuditEvent): number {
  return utf8Length(JSON.stringify(event));
}

/** Shared by every utf8Length call of this isolate (synchronous use only). */
const utf8Encoder = new TextEncoder();
/** Encoding target of utf8Length: any string of up to a third of its size in UTF-16 units fits. */
const UTF8_SCRATCH_BYTES = 48 * 1024;
let utf8Scratch: Uint8Array | undefined;

/**
 * UTF-8 byte length of a string, as TextEncoder encodes it (a lone surrogate counts as the 3 bytes
 * of U+FFFD). No allocation per call: a string of up to 16 K code units (every audit event's JSON
 * in practice) is encoded into one reused buffer, a longer one is counted character by character.
 */
export function utf8Length(value: string): number {
  if (value.length * 3 <= UTF8_SCRATCH_BYTES) {
    utf8Scratch ??= new Uint8Array(UTF8_SCRATCH_BYTES);
    return utf8Encoder.encodeInto(value, utf8Scratch).written;
  }
  return countUtf8(value);
}

/** utf8Length without encoding: pure ASCII text is `value.length` bytes. */
export function countUtf8(value: string): number {
  const n = value.length;
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // A surrogate pair: two code units, four bytes.
      bytes += 2;
      i++;
    } else bytes += 2;
  }
  return bytes;
}

function nonNegativeInt(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? Math.min(Math.floor(value), Number.MAX_SAFE_INTEGER) : null;
}

/** The path without anything from the first `?` (query) or `#` (fragment). */
function withoutQuery(path: string): string {
  const q = path.indexOf("?");
  const h = path.indexOf("#");
  const end = Math.min(q === -1 ? path.length : q, h === -1 ? path.length : h);
  return path.slice(0, end);
}

/** Builds the capped, JSON-safe event. Never throws on any string content or size. */
export function buildAuditEvent(input: AuditInput): AuditEvent {
  let truncated = false;
  const str = (value: unknown, max: number): string => {
    const s = typeof value === "string" ? value : "";
    if (s.length > max) truncated = true;
    return cleanText(s, max);
  };
  const optStr = (value: unknown, max: number): string | null => (typeof value === "string" ? str(value, max) : null);

  const time = Number.isFinite(input.timeMs) && input.timeMs >= 0 && input.timeMs <= MAX_TIME_MS ? Math.floor(input.timeMs) : 0;
  const path = withoutQuery(typeof input.path === "string" ? input.path : "");
  const userAgent = typeof input.userAgent === "string" ? input.userAgent : null;

  const fwd = input.forwarded ?? { raw: null, rawLength: 0, entries: [], count: 0 };
  const entries = Array.isArray(fwd.entries) ? fwd.entries : [];
  const fwdRaw = typeof fwd.raw === "string" ? fwd.raw : null;
  const fwdCount = Math.max(nonNegativeInt(fwd.count) ?? 0, entries.length);
  // The chain may arrive already capped by the X-Forwarded-For parser: compare with the original sizes too.
  const fwdRawLength = nonNegativeInt(fwd.rawLength) ?? 0;
  if (entries.length > FORWARDED_CHAIN_MAX_ENTRIES || fwdCount > Math.min(entries.length, FORWARDED_CHAIN_MAX_ENTRIES)) truncated = true;
  if (fwdRaw !== null && fwdRawLength > fwdRaw.length) truncated = true;
  const chain: ForwardedEntry[] = entries.slice(0, FORWARDED_CHAIN_MAX_ENTRIES).map((e) => {
    const port = nonNegativeInt(e?.port);
    return {
      raw: str(e?.raw, FORWARDED_ENTRY_MAX_CHARS),
      ip: optStr(e?.ip, IP_MAX_CHARS),
      port: port !== null && port <= 65_535 ? port : null,
      valid: e?.valid === true,
    };
  });

  const eventId = str(input.eventId, ID_MAX_CHARS);
  const outcome: AuditOutcome = input.outcome === "allowed" || input.outcome === "denied" ? input.outcome : "error";
  const mode = input.mode === "live" || input.mode === "test" ? input.mode : null;
  const sourceIpFrom: SourceIpFrom =
    input.sourceIpFrom === "x-forwarded-for" || input.sourceIpFrom === "cf-connecting-ip" ? input.sourceIpFrom : "none";
  const status = nonNegativeInt(input.status);
  const forged = Array.isArray(input.forgedHeaders) ? input.forgedHeaders : [];
  if (forged.length > FORGED_HEADERS_MAX_ENTRIES) truncated = true;

  const event: AuditEvent = {
    v: AUDIT_SCHEMA_VERSION,
    // The primary key downstream: never empty.
    event_id: eventId === "" ? crypto.randomUUID() : eventId,
    time: new Date(time).toISOString(),
    request_id: str(input.requestId, ID_MAX_CHARS),
    ray_id: optStr(input.rayId, ID_MAX_CHARS),
    outcome,
    reason: str(input.reason, REASON_MAX_CHARS),
    account_id: optStr(input.accountId, ID_MAX_CHARS),
    account_verified: input.accountVerified === true,
    key_id: optStr(input.keyId, ID_MAX_CHARS),
    mode,
    requested_version: optStr(input.requestedVersion, VERSION_MAX_CHARS),
    resolved_version: optStr(input.resolvedVersion, VERSION_MAX_CHARS),
    origin: optStr(input.origin, ORIGIN_MAX_CHARS),
    method: str(input.method, METHOD_MAX_CHARS),
    host: str(input.host, HOST_MAX_CHARS),
    path: str(path, PATH_MAX_CHARS),
    path_length: path.length,
    status: status !== null && status <= 999 ? status : 0,
    duration_ms:
      Number.isFinite(input.durationMs) && input.durationMs > 0 ? Math.min(Math.round(input.durationMs), Number.MAX_SAFE_INTEGER) : 0,
    connecting_ip: optStr(input.connectingIp, IP_MAX_CHARS),
    source_ip: optStr(input.sourceIp, IP_MAX_CHARS),
    source_ip_from: sourceIpFrom,
    source_ip_asserted: sourceIpFrom === "x-forwarded-for",
    forwarded_for: fwdRaw === null ? null : str(fwdRaw, FORWARDED_FOR_MAX_CHARS),
    forwarded_for_length: Math.max(nonNegativeInt(fwd.rawLength) ?? 0, fwdRaw?.length ?? 0),
    forwarded_chain: chain,
    forwarded_count: fwdCount,
    user_agent: userAgent === null ? null : str(userAgent, USER_AGENT_MAX_CHARS),
    user_agent_length: userAgent?.length ?? 0,
    country: optStr(input.country, GEO_MAX_CHARS),
    colo: optStr(input.colo, GEO_MAX_CHARS),
    forged_headers: forged.slice(0, FORGED_HEADERS_MAX_ENTRIES).map((name) => str(name, FORGED_HEADER_MAX_CHARS)),
    forged_headers_count: forged.length,
    truncated: false,
    would_refuse: optStr(input.wouldRefuse, REASON_MAX_CHARS),
  };
  event.truncated = truncated;
  return event;
}
