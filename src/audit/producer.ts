/**
 * Audit producer: puts an event on the audit queue (DESIGN §8, docs/audit.md).
 *
 * The caller hands the promise to `ctx.waitUntil`, so the response never waits for the queue.
 * `sendAuditEvent` never throws: a message that stays too big after shrinking, or a `send`
 * that fails, becomes one structured `console.error` line carrying the request id, so no event
 * disappears without a trace.
 */
import * as z from "zod";
// biome-ignore lint/correctness/noUnusedImports: bound by the __SPOT_DEBUG_COUNTERS__ define in bench/test builds (src/debug/counters.ts)
import { spotDebugCounters } from "../debug/counters";
import { errorMessage, log } from "../log";
import { type AdminAuditEvent, AdminAuditEventSchema, isAdminEvent } from "./admin-event";
import { type Added, Batcher, type BatchLimits } from "./batcher";
import {
  type AuditEvent,
  AuditEventSchema,
  cleanText,
  ID_MAX_CHARS,
  MAX_EVENT_BYTES,
  QUEUE_MESSAGE_LIMIT_BYTES,
  utf8Length,
} from "./event";
import { DeniedFloodGuard } from "./flood";

export const AUDIT_MESSAGE_VERSION = 1;
/** Events one message may carry (concurrent requests of an isolate are coalesced: src/audit/batcher.ts). */
export const MAX_EVENTS_PER_MESSAGE = 100;
/** How far user_agent, path and forwarded_for are cut when an event is still over MAX_EVENT_BYTES. */
export const SHRUNK_TEXT_MAX_CHARS = 256;
/** Cap for every string of an event written to the log because it could not be sent. */
const LOGGED_TEXT_MAX_CHARS = 256;

/** Either kind of event a message carries: a request event, or an admin event (`kind: "admin"`). */
export type AnyAuditEvent = AuditEvent | AdminAuditEvent;

/** One queue message: 1..n events, request and admin events alike. */
export interface AuditMessage {
  v: 1;
  events: AnyAuditEvent[];
}

export const AuditMessageSchema = z.strictObject({
  v: z.literal(AUDIT_MESSAGE_VERSION),
  events: z
    .array(z.union([AuditEventSchema, AdminAuditEventSchema]))
    .min(1)
    .max(MAX_EVENTS_PER_MESSAGE),
});

/** UTF-8 bytes of the message as the queue receives it (JSON). */
export function messageSize(message: AuditMessage): number {
  return utf8Length(JSON.stringify(message));
}

/**
 * Bytes the envelope `{"v":1,"events":[…]}` adds around the serialised events of a message: the
 * size of a one-event message is this plus the event's own serialised size.
 */
const MESSAGE_ENVELOPE_BYTES = JSON.stringify({ v: AUDIT_MESSAGE_VERSION, events: [] } satisfies AuditMessage).length;

/**
 * The harder cut applied when an event's message is over MAX_EVENT_BYTES: the forwarded chain is
 * dropped (forwarded_count still says how many entries there were), user_agent, path and
 * forwarded_for are cut to SHRUNK_TEXT_MAX_CHARS (their *_length fields keep the original sizes),
 * and the event is marked truncated.
 */
export function shrinkAuditEvent(event: AuditEvent): AuditEvent {
  return {
    ...event,
    user_agent: event.user_agent === null ? null : cleanText(event.user_agent, SHRUNK_TEXT_MAX_CHARS),
    path: cleanText(event.path, SHRUNK_TEXT_MAX_CHARS),
    forwarded_for: event.forwarded_for === null ? null : cleanText(event.forwarded_for, SHRUNK_TEXT_MAX_CHARS),
    forwarded_chain: [],
    truncated: true,
  };
}

/** A copy of the event with every string value cut, for a log line of bounded size. */
function clippedForLog(event: AnyAuditEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    if (typeof value === "string") out[key] = cleanText(value, LOGGED_TEXT_MAX_CHARS);
    else if (key === "forwarded_chain") out[key] = [];
    else out[key] = value;
  }
  out.truncated = true;
  return out;
}

function idsOf(event: AnyAuditEvent): { request_id: string; event_id: string } {
  const id = (value: unknown) => (typeof value === "string" ? cleanText(value, ID_MAX_CHARS) : "");
  const e = event as Partial<AnyAuditEvent> | null | undefined;
  return { request_id: id(e?.request_id), event_id: id(e?.event_id) };
}

/** Default batch bounds: 100 events, ~96 KB (a third of headroom under the 128 KB message limit), 50 ms. */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxEvents: MAX_EVENTS_PER_MESSAGE, maxBytes: 96_000, maxDelayMs: 50 };

/** An event ready for a batch: the event, its JSON text and the bytes it adds to a message. */
export interface PreparedAuditEvent {
  /** The event, shrunk when its message was over MAX_EVENT_BYTES. */
  event: AnyAuditEvent;
  /** `JSON.stringify(event)`: what the message will carry (the size was measured on it). */
  json: string;
  /** UTF-8 bytes it adds to a batch: its JSON plus the separating comma. */
  bytes: number;
}

/**
 * Applies the size rules to one event before it joins a batch. Serialises the event once (twice
 * when it has to be shrunk): the size of its one-event message is that plus a constant envelope,
 * and the same text is what the message carries (docs/audit.md "Messages").
 * @returns the prepared event, or null when it stays too large (then logged as `audit_event_too_large`)
 */
export function prepareAuditEvent(event: AnyAuditEvent): PreparedAuditEvent | null {
  let prepared = event;
  let json = JSON.stringify(event);
  let eventBytes = utf8Length(json);
  // An admin event is capped far below the limit by its builder (src/audit/admin-event.ts).
  if (eventBytes + MESSAGE_ENVELOPE_BYTES > MAX_EVENT_BYTES && !isAdminEvent(event)) {
    prepared = shrinkAuditEvent(event);
    json = JSON.stringify(prepared);
    eventBytes = utf8Length(json);
  }
  const size = eventBytes + MESSAGE_ENVELOPE_BYTES;
  if (size > MAX_EVENT_BYTES || size > QUEUE_MESSAGE_LIMIT_BYTES) {
    log("error", "audit_event_too_large", { ...idsOf(event), size_bytes: size, limit_bytes: MAX_EVENT_BYTES, event: clippedForLog(event) });
    return null;
  }
  return { event: prepared, json, bytes: eventBytes + 1 };
}

/**
 * An event waiting in a batch: its JSON text, or, for a denied event that later ones of its address
 * may still fold into (src/audit/flood.ts), the event itself. A batch of texts keeps one string per
 * event alive until it is sent instead of the event's object graph, and nothing is serialised twice.
 */
export type PendingAuditEvent = string | AnyAuditEvent;

/**
 * The body of one queue message: the JSON text `{"v":1,"events":[…]}` of {@link AuditMessage}, made
 * from the events' own JSON texts (a pending object is serialised here, once).
 */
export function auditMessageText(events: readonly PendingAuditEvent[]): string {
  let text = `{"v":${AUDIT_MESSAGE_VERSION},"events":[`;
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as PendingAuditEvent;
    if (i > 0) text += ",";
    text += typeof event === "string" ? event : JSON.stringify(event);
  }
  return `${text}]}`;
}

/**
 * Sends one message: the JSON text of `{ v: 1, events }` with `contentType: "text"` (the consumer
 * parses it; it also accepts the same object sent as `contentType: "json"`, as producers before
 * 2026-12-06 did). Never throws: a failing `send` writes one `audit_send_failed` line per event,
 * each with its request id and the whole event.
 */
export async function deliverAuditEvents(queue: Queue, events: readonly PendingAuditEvent[]): Promise<void> {
  try {
    if (typeof __SPOT_DEBUG_COUNTERS__ !== "undefined") __SPOT_DEBUG_COUNTERS__.queueSend();
    await queue.send(auditMessageText(events), { contentType: "text" });
  } catch (err) {
    const error = errorMessage(err);
    for (const pending of events) {
      const event = (typeof pending === "string" ? JSON.parse(pending) : pending) as AnyAuditEvent;
      log("error", "audit_send_failed", { ...idsOf(event), error, event });
    }
  }
}

/** One batcher per queue binding per isolate. */
const batchers = new WeakMap<Queue, Batcher<PendingAuditEvent>>();

/** Denied events per connecting IP per second stored one by one before the rest are folded. */
export const DENIED_EVENTS_PER_IP_PER_SECOND = 20;
const floodGuard = new DeniedFloodGuard(DENIED_EVENTS_PER_IP_PER_SECOND, 1000, 10_000);

/**
 * Merges a folded denied event into the pending one of its IP: the newest details, the counts added.
 * Both are objects: only folded events are added as objects (see sendAuditEvent).
 */
function foldDenied(pending: PendingAuditEvent, next: PendingAuditEvent): PendingAuditEvent {
  if (typeof pending === "string" || typeof next === "string" || isAdminEvent(pending) || isAdminEvent(next)) return next;
  return { ...next, folded_count: (pending.folded_count ?? 1) + (next.folded_count ?? 1) };
}

/** Nothing to wait for: the event was logged instead of queued. */
const NOT_QUEUED: Added = { delivered: Promise.resolve(), keepAlive: undefined };

/**
 * Puts an event on the audit queue, coalesced with the events of concurrent requests of this
 * isolate (src/audit/batcher.ts). Never throws.
 * @param limits batch bounds; the first call per queue binding fixes them for the isolate
 * @returns `delivered`: resolves once the message carrying the event is sent or its failure logged;
 *          `keepAlive`: hand it to `ctx.waitUntil` when set (this request opened the batch or started
 *          a send); when undefined another request of the isolate keeps the batch alive
 */
export function sendAuditEvent(queue: Queue, event: AnyAuditEvent, limits: BatchLimits = DEFAULT_BATCH_LIMITS): Added {
  try {
    const prepared = prepareAuditEvent(event);
    if (prepared === null) return NOT_QUEUED;
    let batcher = batchers.get(queue);
    if (batcher === undefined) {
      batcher = new Batcher((events) => deliverAuditEvents(queue, events), limits);
      batchers.set(queue, batcher);
    }
    // Only request events are folded; an admin action is always stored on its own.
    if (!isAdminEvent(event) && event.outcome === "denied" && floodGuard.shouldFold(event.connecting_ip ?? "none", Date.now())) {
      const folded = { ...prepared.event, folded_count: 1 };
      return batcher.add(folded, prepared.bytes, { key: `denied:${event.connecting_ip ?? "none"}`, merge: foldDenied });
    }
    return batcher.add(prepared.json, prepared.bytes);
  } catch (err) {
    log("error", "audit_send_failed", { ...idsOf(event), error: errorMessage(err), event });
    return NOT_QUEUED;
  }
}
