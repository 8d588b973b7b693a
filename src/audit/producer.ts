/**
 * Audit producer: puts an event on the audit queue (DESIGN §8, docs/audit.md).
 *
 * The caller hands the promise to `ctx.waitUntil`, so the response never waits for the queue.
 * `sendAuditEvent` never throws: a message that stays too big after shrinking, or a `send`
 * that fails, becomes one structured `console.error` line carrying the request id, so no event
 * disappears without a trace.
 */
import { z } from "zod";
// biome-ignore lint/correctness/noUnusedImports: bound by the __SPOT_DEBUG_COUNTERS__ define in bench/test builds (src/debug/counters.ts)
import { spotDebugCounters } from "../debug/counters";
import { errorMessage, log } from "../log";
import { type AdminAuditEvent, AdminAuditEventSchema, isAdminEvent } from "./admin-event";
import {
  type AuditEvent,
  AuditEventSchema,
  cleanText,
  ID_MAX_CHARS,
  MAX_EVENT_BYTES,
  QUEUE_MESSAGE_LIMIT_BYTES,
  utf8Length,
} from "./event";

export const AUDIT_MESSAGE_VERSION = 1;
/** Events one message may carry (a later change coalesces concurrent requests; today it is 1). */
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

/**
 * Sends one event as `{ v: 1, events: [event] }` with `contentType: "json"`. Never throws.
 * Over MAX_EVENT_BYTES: a request event is shrunk (see shrinkAuditEvent; an admin event is capped
 * far below it); still over: not sent, logged as `audit_event_too_large`. A failing `send`: logged
 * as `audit_send_failed` with the whole event.
 */
export async function sendAuditEvent(queue: Queue, event: AnyAuditEvent): Promise<void> {
  let toSend: AnyAuditEvent = event;
  try {
    let message: AuditMessage = { v: AUDIT_MESSAGE_VERSION, events: [event] };
    let size = messageSize(message);
    if (size > MAX_EVENT_BYTES && !isAdminEvent(event)) {
      toSend = shrinkAuditEvent(event);
      message = { v: AUDIT_MESSAGE_VERSION, events: [toSend] };
      size = messageSize(message);
    }
    if (size > MAX_EVENT_BYTES || size > QUEUE_MESSAGE_LIMIT_BYTES) {
      log("error", "audit_event_too_large", {
        ...idsOf(event),
        size_bytes: size,
        limit_bytes: MAX_EVENT_BYTES,
        event: clippedForLog(event),
      });
      return;
    }
    if (typeof __SPOT_DEBUG_COUNTERS__ !== "undefined") __SPOT_DEBUG_COUNTERS__.queueSend();
    await queue.send(message, { contentType: "json" });
  } catch (err) {
    log("error", "audit_send_failed", { ...idsOf(toSend), error: errorMessage(err), event: toSend });
  }
}
