/**
 * Audit consumer: queue batches → D1 and the R2 archive (DESIGN §8, docs/audit.md "Consumer",
 * "Archive").
 *
 * - `spot-audit-events`: each message body is validated (parseAuditMessage: a cheap check of every
 *   event, AuditMessageSchema when that check does not pass). A body that fails validation (poison) is
 *   stored in `audit_dead_letters` at once and acked, so it never blocks the others; it is not
 *   archived (it is not an event). The events of all valid messages are then stored twice, D1 first:
 *   1. Archive plan (src/audit/archive/plan.ts): one Parquet object per (kind, UTC hour) of the batch's
 *      events, keyed by its events (layout.ts objectKey), so the same events make the same key and
 *      the same bytes. Each event's D1 row names its object in `archive_object` (migration 0007).
 *   2. Only when a message is redelivered (`attempts > 1`): the D1 rows of its events that exist already
 *      are read (one SELECT per table) and the objects they name are looked up in R2 (`head`). Events
 *      whose object exists are archived already and left out of this batch's objects; the others go
 *      into them and their `archive_object` is moved there (an UPDATE, only on this path). So a
 *      redelivery recomposed into other batches never archives an event twice.
 *   3. D1: one `AUDIT_DB.batch()` (a single transaction): INSERT OR IGNORE of the new rows, with their
 *      `archive_object` (event_id is the primary key, so a redelivered message never duplicates a row),
 *      plus the UPDATEs of step 2, plus one upsert of the last use of each key those new rows used
 *      (src/audit/last-used.ts, migration 0008; it only ever moves a key's last use forward). Failing →
 *      every valid message is retried with backoff; nothing was written to R2. A new row that was already
 *      there although no message said it was redelivered (a replayed message) → retried too, so the
 *      redelivery path of step 2 sorts it out.
 *   4. R2: every object is written (in parallel; Parquet, `application/vnd.apache.parquet`). Any write
 *      failing → every valid message is retried; the D1 rows stay and name an object that does not
 *      exist, which step 2 notices on the redelivery.
 *   5. Every valid message is acked. After `max_retries` failing deliveries Queues moves a message to
 *      the dead-letter queue.
 * - `spot-audit-events-dlq`: what exhausted its retries is stored in `audit_dead_letters` (not archived).
 * - Any other queue: logged and acked (nothing here could store it).
 *
 * Log lines, one per failure kind: `audit_poison_message`, `audit_dead_letter_write_failed`,
 * `audit_d1_write_failed`, `audit_archive_ledger_failed` (step 2's SELECT or `head` failed),
 * `audit_archive_encode_failed`, `audit_archive_ledger_conflict` (step 3's replayed rows),
 * `audit_archive_write_failed` (step 4, with the keys that failed); `audit_archive_redelivery` (info)
 * counts what a redelivery found.
 */
import type * as z from "zod";
import { errorMessage, log } from "../log";
import { type AdminAuditEvent, isAdminEvent } from "./admin-event";
import type { ArchiveKind } from "./archive/layout";
import { ARCHIVE_SCHEMA_VERSION, encodeAdminEvents, encodeRequestEvents, PARQUET_CONTENT_TYPE } from "./archive/parquet";
import {
  type ArchiveGroup,
  archiveKindOf,
  type EventIdsByKind,
  emptyIds,
  keysToCheck,
  type LedgerEntry,
  planArchiveObjects,
  relinkPlan,
  splitLedger,
} from "./archive/plan";
import { ADMIN_EVENT_COLUMNS, ARCHIVE_OBJECT_COLUMN, AUDIT_EVENT_COLUMNS } from "./columns";
import { type AuditEvent, cleanText, isCompleteAuditEvent, isPlainObject, keyCount } from "./event";
import { lastUsedStatement, latestUseByKey } from "./last-used";
import { type AnyAuditEvent, AUDIT_MESSAGE_VERSION, AuditMessageSchema, MAX_EVENTS_PER_MESSAGE } from "./producer";
import { auditQueueRole } from "./queues";

// The queue names, and which is which in a deployed environment: src/audit/queues.ts.
export { AUDIT_DLQ_NAME, AUDIT_QUEUE_NAME } from "./queues";
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
  would_refuse: (e) => e.would_refuse,
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
const INSERT_EVENTS_SQL = `WITH ev(r) AS MATERIALIZED (SELECT value FROM json_each(?1)) INSERT OR IGNORE INTO audit_events (${AUDIT_EVENT_COLUMNS.join(
  ", ",
)}, ${ARCHIVE_OBJECT_COLUMN}) SELECT ${AUDIT_EVENT_COLUMNS.map((c, i) => `r ${JSON_COLUMNS.has(c) ? "->" : "->>"} ${i}`).join(", ")}, ?2 FROM ev`;

const INSERT_ADMIN_EVENT_SQL = `INSERT OR IGNORE INTO admin_audit_events (${ADMIN_EVENT_COLUMNS.join(", ")}, ${ARCHIVE_OBJECT_COLUMN}) VALUES (${ADMIN_EVENT_COLUMNS.map(() => "?").join(", ")}, ?)`;

const ARCHIVE_TABLES: { readonly [K in ArchiveKind]: string } = { request: "audit_events", admin: "admin_audit_events" };

/** The D1 ledger of a redelivery: where its events' rows say they are archived (`?1`: JSON array of event ids). */
export const SELECT_LEDGER_SQL: { readonly [K in ArchiveKind]: string } = {
  request: `SELECT event_id, ${ARCHIVE_OBJECT_COLUMN} FROM ${ARCHIVE_TABLES.request} WHERE event_id IN (SELECT value FROM json_each(?1))`,
  admin: `SELECT event_id, ${ARCHIVE_OBJECT_COLUMN} FROM ${ARCHIVE_TABLES.admin} WHERE event_id IN (SELECT value FROM json_each(?1))`,
};

/** Moves rows to the object of this batch that holds their events (`?1`: JSON array of event ids, `?2`: archive_object). */
export const RELINK_SQL: { readonly [K in ArchiveKind]: string } = {
  request: `UPDATE ${ARCHIVE_TABLES.request} SET ${ARCHIVE_OBJECT_COLUMN} = ?2 WHERE event_id IN (SELECT value FROM json_each(?1))`,
  admin: `UPDATE ${ARCHIVE_TABLES.admin} SET ${ARCHIVE_OBJECT_COLUMN} = ?2 WHERE event_id IN (SELECT value FROM json_each(?1))`,
};

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
 * the schema accepts unchanged. The body is the message's JSON text as the producer sends it
 * (`contentType: "text"`), or the same message as an object (`contentType: "json"`, producers before
 * 2026-12-06; docs/audit.md "Messages").
 * @returns the events, or `poison: <path>: <message>; …` (at most 5 issues) for audit_dead_letters
 */
export function parseAuditMessage(received: unknown): ParsedAuditMessage {
  let body = received;
  if (typeof received === "string") {
    try {
      body = JSON.parse(received);
    } catch {
      return { ok: false, reason: "poison: the message body is text but not JSON" };
    }
  }
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
      if (auditQueueRole(queue) === "dead_letters" && d.msg.attempts >= MAX_RETRIES) {
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

/** A valid message and its events that no earlier message of the batch carries (kind and event id). */
interface ValidMessage {
  msg: Message<unknown>;
  /** Every event of the body. */
  count: number;
  /** Its events not seen earlier in the batch: D1 and the archive store each once. */
  events: AnyAuditEvent[];
}

/** Retries every valid message and logs why, one line per failure kind (plus the given fields). */
function retryValid(
  queue: string,
  valid: readonly ValidMessage[],
  msg: string,
  err: unknown,
  fields: Record<string, unknown> = {},
  level: "error" | "warn" = "error",
): void {
  const delays = retryAll(valid.map((v) => v.msg));
  log(level, msg, {
    queue,
    message_ids: valid.map((v) => v.msg.id),
    events: valid.reduce((n, v) => n + v.count, 0),
    ...fields,
    retry_delay_seconds: delays,
    error: errorMessage(err),
  });
}

/** D1 rows of some events (both tables, one SELECT each, in parallel): what the archive ledger says of them. */
async function readLedger(db: D1Database, events: readonly AnyAuditEvent[]): Promise<LedgerEntry[]> {
  const ids: { [K in ArchiveKind]: Set<string> } = { request: new Set(), admin: new Set() };
  for (const e of events) ids[archiveKindOf(e)].add(e.event_id);
  const kinds = (["request", "admin"] as const).filter((k) => ids[k].size > 0);
  const found = await Promise.all(
    kinds.map(async (kind) => {
      const { results } = await db
        .prepare(SELECT_LEDGER_SQL[kind])
        .bind(JSON.stringify([...ids[kind]]))
        .all<{ event_id: string; archive_object: string | null }>();
      return results.map((r): LedgerEntry => ({ kind, eventId: r.event_id, archiveObject: r.archive_object }));
    }),
  );
  return found.flat();
}

/** The keys R2 has among those given (one `head` each, in parallel). Rejects when R2 does. */
async function existingObjects(bucket: R2Bucket, keys: readonly string[]): Promise<Set<string>> {
  const heads = await Promise.all(keys.map((key) => bucket.head(key)));
  return new Set(keys.filter((_, i) => heads[i] !== null));
}

/** One archive object ready to write. */
interface EncodedObject {
  group: ArchiveGroup;
  bytes: Uint8Array;
}

function encodeGroup(group: ArchiveGroup): EncodedObject {
  return { group, bytes: group.kind === "admin" ? encodeAdminEvents(group.events) : encodeRequestEvents(group.events) };
}

/** Writes one archive object; rejects when R2 does or refuses it. */
async function putObject(bucket: R2Bucket, { group, bytes }: EncodedObject): Promise<void> {
  const written = await bucket.put(group.key, bytes, {
    httpMetadata: { contentType: PARQUET_CONTENT_TYPE },
    customMetadata: { kind: group.kind, events: String(group.events.length), schema_version: String(ARCHIVE_SCHEMA_VERSION) },
  });
  if (written === null) throw new Error(`R2 did not store ${group.key}`);
}

async function consumeEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const parsed: { msg: Message<unknown>; events: AnyAuditEvent[] }[] = [];
  const poison: DeadLetter[] = [];
  for (const msg of batch.messages) {
    const result = parseAuditMessage(msg.body);
    if (result.ok) parsed.push({ msg, events: result.events });
    else poison.push({ msg, reason: result.reason });
  }

  if (poison.length > 0) {
    log("warn", "audit_poison_message", {
      queue: batch.queue,
      message_ids: poison.map((p) => p.msg.id),
      reasons: poison.map((p) => p.reason),
    });
    await storeDeadLetters(env, batch.queue, poison);
  }

  if (parsed.length === 0) return;
  // Each event once per batch, with the first message that carries it (INSERT OR IGNORE kept the first too).
  const seen = emptyIds();
  const valid: ValidMessage[] = parsed.map(({ msg, events }) => ({
    msg,
    count: events.length,
    events: events.filter((e) => {
      const ids = seen[archiveKindOf(e)];
      if (ids.has(e.event_id)) return false;
      ids.add(e.event_id);
      return true;
    }),
  }));
  if ((env.AUDIT_ARCHIVE as R2Bucket | undefined) === undefined) {
    retryValid(batch.queue, valid, "audit_archive_write_failed", new Error("the AUDIT_ARCHIVE binding is missing"), { keys: [] });
    return;
  }

  // A redelivery: which of its events D1 has already, and whether the objects their rows name exist.
  const known = emptyIds();
  let archived: EventIdsByKind = emptyIds();
  let pending: LedgerEntry[] = [];
  // (Every event a redelivered message carries, also those an earlier message of this batch carries.)
  const redelivered = parsed.filter((p) => p.msg.attempts > 1);
  if (redelivered.length > 0) {
    let keys: string[] = [];
    try {
      const entries = await readLedger(
        env.AUDIT_DB,
        redelivered.flatMap((p) => p.events),
      );
      keys = keysToCheck(entries);
      ({ archived, pending } = splitLedger(entries, await existingObjects(env.AUDIT_ARCHIVE, keys)));
      for (const e of entries) known[e.kind].add(e.eventId);
      if (entries.length > 0) {
        log("info", "audit_archive_redelivery", {
          queue: batch.queue,
          message_ids: redelivered.map((v) => v.msg.id),
          events_in_d1: entries.length,
          archived_already: archived.request.size + archived.admin.size,
          to_archive_again: pending.length,
          objects_checked: keys.length,
        });
      }
    } catch (err) {
      retryValid(batch.queue, valid, "audit_archive_ledger_failed", err, { keys });
      return;
    }
  }

  // This batch's objects, without the events that are archived already.
  let objects: EncodedObject[];
  try {
    const toArchive = valid.flatMap((v) => v.events).filter((e) => !archived[archiveKindOf(e)].has(e.event_id));
    objects = (await planArchiveObjects(toArchive)).map(encodeGroup);
  } catch (err) {
    retryValid(batch.queue, valid, "audit_archive_encode_failed", err);
    return;
  }
  const objectOf = { request: new Map<string, string>(), admin: new Map<string, string>() };
  for (const { group } of objects) for (const e of group.events) objectOf[group.kind].set(e.event_id, group.archiveObject);

  // D1 first, in one batch (a single transaction: all stored or none): per message one statement for
  // its request events of each object (all rows as one JSON parameter), one per admin event (rare);
  // then the rows a redelivery moves to this batch's objects; last, one upsert of the keys' last use.
  const statements: D1PreparedStatement[] = [];
  /** Rows each INSERT must add: fewer means some were stored by a delivery nobody said was one. */
  const expectedRows: number[] = [];
  const insertEvents = env.AUDIT_DB.prepare(INSERT_EVENTS_SQL);
  const insertAdmin = env.AUDIT_DB.prepare(INSERT_ADMIN_EVENT_SQL);
  /** The request events this batch inserts, in batch order: their keys' last use goes in the same transaction. */
  const inserted: AuditEvent[] = [];
  for (const v of valid) {
    const requestsByObject = new Map<string, AuditEvent[]>();
    for (const e of v.events) {
      const kind = archiveKindOf(e);
      if (known[kind].has(e.event_id)) continue;
      const archiveObject = objectOf[kind].get(e.event_id) as string;
      if (isAdminEvent(e)) {
        statements.push(insertAdmin.bind(...adminEventRow(e), archiveObject));
        expectedRows.push(1);
      } else {
        const list = requestsByObject.get(archiveObject);
        if (list === undefined) requestsByObject.set(archiveObject, [e]);
        else list.push(e);
        inserted.push(e);
      }
    }
    for (const [archiveObject, events] of requestsByObject) {
      statements.push(insertEvents.bind(eventRowsJson(events), archiveObject));
      expectedRows.push(events.length);
    }
  }
  const inserts = statements.length;
  for (const r of relinkPlan(
    objects.map((o) => o.group),
    pending,
  )) {
    statements.push(env.AUDIT_DB.prepare(RELINK_SQL[r.kind]).bind(JSON.stringify(r.eventIds), r.archiveObject));
  }
  // The last use of each key, with the rows that record it. Events already in D1 (a redelivery) are left
  // out: their use was written with their rows.
  const lastUsed = lastUsedStatement(env.AUDIT_DB, latestUseByKey(inserted));
  if (lastUsed !== null) statements.push(lastUsed);
  if (statements.length > 0) {
    let results: D1Result[];
    try {
      results = await env.AUDIT_DB.batch(statements);
    } catch (err) {
      retryValid(batch.queue, valid, "audit_d1_write_failed", err);
      return;
    }
    // Rows that were there already, in a message not marked as redelivered (a dead letter or logged event
    // sent again, a duplicate delivery): their events may be archived elsewhere. Nothing goes to R2 now;
    // the retry takes the redelivery path above. (A result without a count is trusted.)
    const stored = results.slice(0, inserts).map((r) => r.meta?.changes);
    const short = stored.reduce(
      (n, changes, i) => n + (typeof changes === "number" ? Math.max(0, (expectedRows[i] as number) - changes) : 0),
      0,
    );
    if (short > 0) {
      retryValid(
        batch.queue,
        valid,
        "audit_archive_ledger_conflict",
        new Error(`${short} event(s) were in D1 already`),
        { stored_before: short },
        "warn",
      );
      return;
    }
  }

  // Then R2: every object, in parallel. Any failure → retry all (the D1 rows stay; see above).
  const puts = await Promise.allSettled(objects.map((o) => putObject(env.AUDIT_ARCHIVE, o)));
  const failed = objects.flatMap((o, i) => {
    const put = puts[i] as PromiseSettledResult<void>;
    return put.status === "rejected" ? [{ key: o.group.key, reason: put.reason as unknown }] : [];
  });
  if (failed.length > 0) {
    retryValid(batch.queue, valid, "audit_archive_write_failed", failed[0]?.reason, {
      keys: failed.map((f) => f.key),
      objects: objects.length,
    });
    return;
  }
  for (const v of valid) v.msg.ack();
}

/** The Worker's `queue` handler delegates here. */
export async function consumeAuditBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  // By name: spot-audit-events[-<environment>] and its -dlq (src/audit/queues.ts).
  switch (auditQueueRole(batch.queue)) {
    case "events":
      await consumeEvents(batch, env);
      return;
    case "dead_letters":
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
