/**
 * Audit consumer: queue batches → D1 (DESIGN §8, docs/audit.md).
 *
 * - `spot-audit-events`: each message body is validated (parseAuditMessage: a cheap check of every
 *   event, AuditMessageSchema when that check does not pass). The events of all
 *   valid messages go to `audit_events` (admin events: `admin_audit_events`) in one
 *   `AUDIT_DB.batch()` with INSERT OR IGNORE, so a
 *   redelivered message never duplicates a row (event_id is the primary key). Success acks each
 *   message; a failing batch retries each one with exponential backoff. A body that fails
 *   validation (poison) is stored in `audit_dead_letters` at once and acked, so it never blocks
 *   the others.
 * - `spot-audit-events-dlq`: what exhausted its retries is stored in `audit_dead_letters`.
 * - Any other queue: logged and acked (nothing here could store it).
 */
import type * as z from "zod";
import { errorMessage, log } from "../log";
import { type AdminAuditEvent, isAdminEvent } from "./admin-event";
import { ADMIN_EVENT_COLUMNS, AUDIT_EVENT_COLUMNS } from "./columns";
import { type AuditEvent, cleanText, isCompleteAuditEvent, isPlainObject, keyCount } from "./event";
import { type AnyAuditEvent, AUDIT_MESSAGE_VERSION, AuditMessageSchema, MAX_EVENTS_PER_MESSAGE } from "./producer";

export const AUDIT_QUEUE_NAME = "spot-audit-events";
export const AUDIT_DLQ_NAME = "spot-audit-events-dlq";
/** Reason stored for every message that arrives on the dead-letter queue. */
export const DLQ_REASON = "dead_letter: delivery retries exhausted";
/** Largest body kept in audit_dead_letters, in UTF-8 bytes (body_length keeps the full size). */
export const DEAD_LETTER_BODY_MAX_BYTES = 64 * 1024;
/** Largest reason kept in audit_dead_letters. */
export const DEAD_LETTER_REASON_MAX_CHARS = 512;
export const RETRY_BASE_SECONDS = 5;
export const RETRY_MAX_SECONDS = 300;
/** max_retries of both consumers in wrangler.toml; from here on a DLQ write failure logs the body. */
export const MAX_RETRIES = 10;

/** Delay before the next delivery: 5 s, 10 s, 20 s, … capped at 300 s (attempts starts at 1). */
export function retryDelaySeconds(attempts: number): number {
  const n = Number.isFinite(attempts) && attempts >= 1 ? Math.floor(attempts) : 1;
  return Math.min(RETRY_BASE_SECONDS * 2 ** Math.min(n - 1, 30), RETRY_MAX_SECONDS);
}

type AuditEventColumn = (typeof AUDIT_EVENT_COLUMNS)[number];
/** A column value as it travels in the statement's JSON parameter. */
type Cell = string | number | null | readonly unknown[];

/** The value of each `audit_events` column for an event (booleans as 0/1, the time also as epoch ms). */
const EVENT_CELLS: { readonly [C in AuditEventColumn]: (e: AuditEvent) => Cell } = {
  event_id: (e) => e.event_id,
  v: (e) => e.v,
  time: (e) => e.time,
  time_ms: (e) => Date.parse(e.time),
  request_id: (e) => e.request_id,
  ray_id: (e) => e.ray_id,
  outcome: (e) => e.outcome,
  reason: (e) => e.reason,
  account_id: (e) => e.account_id,
  account_verified: (e) => (e.account_verified ? 1 : 0),
  key_id: (e) => e.key_id,
  mode: (e) => e.mode,
  requested_version: (e) => e.requested_version,
  resolved_version: (e) => e.resolved_version,
  origin: (e) => e.origin,
  method: (e) => e.method,
  host: (e) => e.host,
  path: (e) => e.path,
  path_length: (e) => e.path_length,
  status: (e) => e.status,
  duration_ms: (e) => e.duration_ms,
  connecting_ip: (e) => e.connecting_ip,
  source_ip: (e) => e.source_ip,
  source_ip_from: (e) => e.source_ip_from,
  source_ip_asserted: (e) => (e.source_ip_asserted ? 1 : 0),
  forwarded_for: (e) => e.forwarded_for,
  forwarded_for_length: (e) => e.forwarded_for_length,
  forwarded_chain: (e) => e.forwarded_chain,
  forwarded_count: (e) => e.forwarded_count,
  user_agent: (e) => e.user_agent,
  user_agent_length: (e) => e.user_agent_length,
  country: (e) => e.country,
  colo: (e) => e.colo,
  truncated: (e) => (e.truncated ? 1 : 0),
  forged_headers: (e) => e.forged_headers,
  forged_headers_count: (e) => e.forged_headers_count,
  folded_count: (e) => e.folded_count ?? 0,
};
const CELLS = AUDIT_EVENT_COLUMNS.map((c) => EVENT_CELLS[c]);
/** Columns holding a JSON array: stored as its JSON text (the same text JSON.stringify writes). */
const JSON_COLUMNS: ReadonlySet<AuditEventColumn> = new Set(["forwarded_chain", "forged_headers"]);

/**
 * The statement's parameter for some request events: one JSON array per event, its cells in
 * AUDIT_EVENT_COLUMNS order (`[[event_id, v, time, time_ms, …], …]`).
 */
export function eventRowsJson(events: readonly AuditEvent[]): string {
  const rows: Cell[][] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as AuditEvent;
    const row: Cell[] = new Array(CELLS.length);
    for (let c = 0; c < CELLS.length; c++) row[c] = (CELLS[c] as (e: AuditEvent) => Cell)(e);
    rows[i] = row;
  }
  return JSON.stringify(rows);
}

/**
 * One statement per queue message, whatever its number of events: the rows travel as one JSON
 * array parameter and SQLite's `json_each` unpacks them. D1 allows 100 bound parameters per query
 * and a limited number of queries per invocation, so one `VALUES (?, …)` row per event would not
 * scale to coalesced messages (100 events × 100 messages per batch).
 *
 * Each row is an array (no key names to send and look up), and the rows are MATERIALIZED first:
 * every column then reads the same row text, which SQLite parses once per row instead of once per
 * column (measured in workerd's SQLite: about a third less CPU per stored event than one
 * `value ->> '$.column'` per column straight from json_each).
 */
const INSERT_EVENTS_SQL = `WITH ev(r) AS MATERIALIZED (SELECT value FROM json_each(?)) INSERT OR IGNORE INTO audit_events (${AUDIT_EVENT_COLUMNS.join(
  ", ",
)}) SELECT ${AUDIT_EVENT_COLUMNS.map((c, i) => `r ${JSON_COLUMNS.has(c) ? "->" : "->>"} ${i}`).join(", ")} FROM ev`;

const INSERT_ADMIN_EVENT_SQL = `INSERT OR IGNORE INTO admin_audit_events (${ADMIN_EVENT_COLUMNS.join(", ")}) VALUES (${ADMIN_EVENT_COLUMNS.map(() => "?").join(", ")})`;

/** Column values of one admin event, in ADMIN_EVENT_COLUMNS order. */
function adminEventRow(e: AdminAuditEvent): (string | number | null)[] {
  const row: Record<(typeof ADMIN_EVENT_COLUMNS)[number], string | number | null> = {
    event_id: e.event_id,
    v: e.v,
    time: e.time,
    time_ms: Date.parse(e.time),
    request_id: e.request_id,
    ray_id: e.ray_id,
    action: e.action,
    outcome: e.outcome,
    reason: e.reason,
    status: e.status,
    actor_sub: e.actor_sub,
    actor_email: e.actor_email,
    account_id: e.account_id,
    key_id: e.key_id,
    new_key_id: e.new_key_id,
    method: e.method,
    path: e.path,
    query: e.query,
    connecting_ip: e.connecting_ip,
    user_agent: e.user_agent,
    duration_ms: e.duration_ms,
    changes: JSON.stringify(e.changes ?? []),
    truncated: e.truncated ? 1 : 0,
  };
  return ADMIN_EVENT_COLUMNS.map((c) => row[c]);
}

const INSERT_DEAD_LETTER_SQL =
  "INSERT OR IGNORE INTO audit_dead_letters (queue, message_id, received_at, enqueued_at, attempts, reason, body, body_length) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

/** The body as text: strings as they are, bytes decoded as UTF-8, anything else as JSON. */
function bodyText(body: unknown): string {
  if (typeof body === "string") return body;
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return new TextDecoder().decode(body);
  try {
    const json = JSON.stringify(body);
    if (json !== undefined) return json;
  } catch {
    // Not JSON-serialisable (for example a cycle or a BigInt): fall through.
  }
  try {
    return String(body);
  } catch {
    return "[unprintable body]";
  }
}

/**
 * Cuts `value` to at most `maxBytes` UTF-8 bytes on a character boundary (lone surrogates
 * become U+FFFD) and returns it with the full UTF-8 length of the original.
 */
export function capUtf8(value: string, maxBytes: number): { text: string; bytes: number } {
  let out = "";
  let runStart = 0;
  let bytes = 0;
  let cutAt = -1;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    let width: number;
    let units = 1;
    let lone = false;
    if (c < 0x80) width = 1;
    else if (c < 0x800) width = 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length && (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      width = 4;
      units = 2;
    } else {
      width = 3;
      lone = c >= 0xd800 && c <= 0xdfff;
    }
    if (cutAt === -1 && bytes + width > maxBytes) cutAt = i;
    if (cutAt === -1 && lone) {
      out += `${value.slice(runStart, i)}\uFFFD`;
      runStart = i + 1;
    }
    bytes += width;
    i += units - 1;
  }
  out += value.slice(runStart, cutAt === -1 ? value.length : cutAt);
  return { text: out, bytes };
}

function isoOrNull(date: unknown): string | null {
  return date instanceof Date && !Number.isNaN(date.getTime()) ? date.toISOString() : null;
}

function poisonReason(error: z.ZodError): string {
  const issues = error.issues.slice(0, 5).map((i) => `${i.path.map(String).join(".") || "(body)"}: ${i.message}`);
  const more = error.issues.length > 5 ? `; +${error.issues.length - 5} more` : "";
  return `poison: ${issues.join("; ")}${more}`;
}

/** A message body checked by parseAuditMessage: its events, or why it is poison. */
export type ParsedAuditMessage = { ok: true; events: AnyAuditEvent[] } | { ok: false; reason: string };

/**
 * Validates a message body of `spot-audit-events`. The common case, a message of complete request
 * events as this version's producer writes them, passes one cheap check per event
 * (isCompleteAuditEvent) and keeps its own event objects. Anything else (an admin event, an event of
 * an older producer, a bad body) goes through AuditMessageSchema, which fills in defaults or says
 * why the body is poison. Either way the answer is the schema's: the cheap check only accepts what
 * the schema accepts unchanged.
 * @returns the events, or `poison: <path>: <message>; …` (at most 5 issues) for audit_dead_letters
 */
export function parseAuditMessage(body: unknown): ParsedAuditMessage {
  if (isPlainObject(body) && body.v === AUDIT_MESSAGE_VERSION && keyCount(body) === 2) {
    const events = body.events;
    if (Array.isArray(events) && events.length >= 1 && events.length <= MAX_EVENTS_PER_MESSAGE && events.every(isCompleteAuditEvent)) {
      return { ok: true, events };
    }
  }
  const parsed = AuditMessageSchema.safeParse(body);
  return parsed.success ? { ok: true, events: parsed.data.events } : { ok: false, reason: poisonReason(parsed.error) };
}

interface DeadLetter {
  msg: Message<unknown>;
  reason: string;
}

function deadLetterStatement(db: D1Database, queue: string, receivedAt: string, d: DeadLetter): D1PreparedStatement {
  const body = capUtf8(bodyText(d.msg.body), DEAD_LETTER_BODY_MAX_BYTES);
  return db
    .prepare(INSERT_DEAD_LETTER_SQL)
    .bind(
      cleanText(queue, 256),
      cleanText(String(d.msg.id), 256),
      receivedAt,
      isoOrNull(d.msg.timestamp),
      Number.isFinite(d.msg.attempts) ? d.msg.attempts : 0,
      cleanText(d.reason, DEAD_LETTER_REASON_MAX_CHARS),
      body.text,
      body.bytes,
    );
}

/** Retries each message with backoff from its own attempt count. */
function retryAll(messages: readonly Message<unknown>[]): number[] {
  return messages.map((m) => {
    const delaySeconds = retryDelaySeconds(m.attempts);
    m.retry({ delaySeconds });
    return delaySeconds;
  });
}

/** Stores dead letters in one D1 batch; acks them on success, retries them with backoff on failure. */
async function storeDeadLetters(env: Env, queue: string, letters: DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  const receivedAt = new Date().toISOString();
  try {
    await env.AUDIT_DB.batch(letters.map((d) => deadLetterStatement(env.AUDIT_DB, queue, receivedAt, d)));
  } catch (err) {
    const delays = retryAll(letters.map((d) => d.msg));
    log("error", "audit_dead_letter_write_failed", {
      queue,
      message_ids: letters.map((d) => d.msg.id),
      retry_delay_seconds: delays,
      error: errorMessage(err),
    });
    for (const d of letters) {
      // On the DLQ's last deliveries the log is the only copy left: write the body there.
      if (queue === AUDIT_DLQ_NAME && d.msg.attempts >= MAX_RETRIES) {
        log("error", "audit_dead_letter_final_attempt_failed", {
          queue,
          message_id: d.msg.id,
          attempts: d.msg.attempts,
          reason: d.reason,
          body: capUtf8(bodyText(d.msg.body), DEAD_LETTER_BODY_MAX_BYTES).text,
        });
      }
    }
    return;
  }
  for (const d of letters) d.msg.ack();
}

async function consumeEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const valid: { msg: Message<unknown>; events: (AuditEvent | AdminAuditEvent)[] }[] = [];
  const poison: DeadLetter[] = [];
  for (const msg of batch.messages) {
    const parsed = parseAuditMessage(msg.body);
    if (parsed.ok) valid.push({ msg, events: parsed.events });
    else poison.push({ msg, reason: parsed.reason });
  }

  if (poison.length > 0) {
    log("warn", "audit_poison_message", {
      queue: batch.queue,
      message_ids: poison.map((p) => p.msg.id),
      reasons: poison.map((p) => p.reason),
    });
    await storeDeadLetters(env, batch.queue, poison);
  }

  if (valid.length === 0) return;
  try {
    // One statement per message for its request events (all rows as one JSON parameter), one per
    // admin event (rare); all in one D1 batch, a single transaction: all stored or none.
    const insertEvents = env.AUDIT_DB.prepare(INSERT_EVENTS_SQL);
    const insertAdmin = env.AUDIT_DB.prepare(INSERT_ADMIN_EVENT_SQL);
    const statements = valid.flatMap((v) => {
      const requests = v.events.filter((e): e is AuditEvent => !isAdminEvent(e));
      const admins = v.events.filter(isAdminEvent);
      return [
        ...(requests.length > 0 ? [insertEvents.bind(eventRowsJson(requests))] : []),
        ...admins.map((e) => insertAdmin.bind(...adminEventRow(e))),
      ];
    });
    await env.AUDIT_DB.batch(statements);
  } catch (err) {
    const delays = retryAll(valid.map((v) => v.msg));
    log("error", "audit_d1_write_failed", {
      queue: batch.queue,
      message_ids: valid.map((v) => v.msg.id),
      events: valid.reduce((n, v) => n + v.events.length, 0),
      retry_delay_seconds: delays,
      error: errorMessage(err),
    });
    return;
  }
  for (const v of valid) v.msg.ack();
}

/** The Worker's `queue` handler delegates here. */
export async function consumeAuditBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  switch (batch.queue) {
    case AUDIT_QUEUE_NAME:
      await consumeEvents(batch, env);
      return;
    case AUDIT_DLQ_NAME:
      await storeDeadLetters(
        env,
        batch.queue,
        batch.messages.map((msg) => ({ msg, reason: DLQ_REASON })),
      );
      return;
    default:
      log("error", "audit_unknown_queue", { queue: cleanText(String(batch.queue), 256), message_ids: batch.messages.map((m) => m.id) });
      for (const msg of batch.messages) msg.ack();
  }
}
