import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type AuditEvent, type AuditInput, buildAuditEvent, MAX_EVENT_BYTES } from "../../../src/audit/event";
import {
  AuditMessageSchema,
  messageSize,
  prepareAuditEvent,
  SHRUNK_TEXT_MAX_CHARS,
  sendAuditEvent,
  shrinkAuditEvent,
} from "../../../src/audit/producer";

interface SendCall {
  /** The message as the consumer reads it (the sent text parsed). */
  body: unknown;
  /** What `send` was given. */
  raw: unknown;
  options: QueueSendOptions | undefined;
}

function recordingQueue(): { queue: Queue; calls: SendCall[] } {
  const calls: SendCall[] = [];
  const queue = {
    async send(raw: unknown, options?: QueueSendOptions) {
      // The producer sends the message's JSON text; `body` is that text parsed, `raw` what was sent.
      calls.push({ body: typeof raw === "string" ? JSON.parse(raw) : raw, raw, options });
      return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } };
    },
  } as unknown as Queue;
  return { queue, calls };
}

function event(overrides: Partial<AuditInput> = {}): AuditEvent {
  return buildAuditEvent({
    eventId: "evt_p1",
    timeMs: Date.UTC(2025, 4, 6, 7, 8, 9, 10),
    requestId: "req_p1",
    rayId: null,
    outcome: "allowed",
    reason: "ok",
    accountId: "acct_123",
    accountVerified: true,
    keyId: "key_1",
    mode: "live",
    requestedVersion: null,
    resolvedVersion: "2024-11-15",
    origin: "https://v2024-11-15.origin.test",
    method: "POST",
    host: "api.spot-thought.com",
    path: "/v1/charges",
    status: 200,
    durationMs: 40,
    connectingIp: "198.51.100.23",
    sourceIp: "198.51.100.23",
    sourceIpFrom: "cf-connecting-ip",
    forwarded: { raw: null, rawLength: 0, entries: [], count: 0 },
    userAgent: "Büro-Sync/2.1",
    country: "DE",
    colo: "FRA",
    ...overrides,
  });
}

/** The first event of the first message sent. */
function sentEvent(calls: SendCall[]): AuditEvent {
  const body = calls[0]?.body as { events?: AuditEvent[] } | undefined;
  const first = body?.events?.[0];
  if (first === undefined) throw new Error("nothing was sent");
  return first;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("sendAuditEvent coalescing", () => {
  it("events sent to one queue binding close together travel in one message", async () => {
    const { queue, calls } = recordingQueue();
    const events = ["a", "b", "c"].map((id) => event({ eventId: `evt_${id}`, requestId: `req_${id}` }));
    await Promise.all(events.map((e) => sendAuditEvent(queue, e).delivered));
    expect(calls).toHaveLength(1);
    expect(calls[0]?.body).toEqual({ v: 1, events });
    expect(AuditMessageSchema.safeParse(calls[0]?.body).success).toBe(true);
  });

  it("a failing send logs every event of the batch with its own request id", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const queue = { send: () => Promise.reject(new Error("queue down")) } as unknown as Queue;
    await Promise.all(["x", "y"].map((id) => sendAuditEvent(queue, event({ eventId: `evt_${id}`, requestId: `req_${id}` })).delivered));
    const lines = errors.mock.calls.map((args) => JSON.parse(String(args[0])));
    expect(lines.map((l) => [l.msg, l.request_id, l.event.event_id])).toEqual([
      ["audit_send_failed", "req_x", "evt_x"],
      ["audit_send_failed", "req_y", "evt_y"],
    ]);
  });

  it("a batch never exceeds the Queues message limit", async () => {
    const { queue, calls } = recordingQueue();
    const big = Array.from({ length: 60 }, (_, i) =>
      event({ eventId: `evt_${i}`, requestId: `req_${i}`, userAgent: "é".repeat(1024), path: `/${"p".repeat(2047)}` }),
    );
    await Promise.all(big.map((e) => sendAuditEvent(queue, e).delivered));
    expect(calls.length).toBeGreaterThan(1);
    expect(calls.flatMap((c) => (c.body as { events: AuditEvent[] }).events)).toHaveLength(60);
    for (const c of calls) expect(messageSize(c.body as { v: 1; events: AuditEvent[] })).toBeLessThan(128_000);
  });
});

describe("flood folding of denied events", () => {
  it("past 20 denied events per IP per second, the rest of a batch is folded into one event with folded_count", async () => {
    const { queue, calls } = recordingQueue();
    const denied = Array.from({ length: 30 }, (_, i) =>
      event({
        eventId: `evt_d${i}`,
        requestId: `req_d${i}`,
        outcome: "denied",
        reason: "invalid_credentials",
        status: 401,
        connectingIp: "192.0.2.77",
      }),
    );
    const allowed = Array.from({ length: 5 }, (_, i) =>
      event({ eventId: `evt_a${i}`, requestId: `req_a${i}`, connectingIp: "192.0.2.77" }),
    );
    await Promise.all([...denied, ...allowed].map((e) => sendAuditEvent(queue, e).delivered));
    const sent = calls.flatMap((c) => (c.body as { events: AuditEvent[] }).events);
    expect(sent.filter((e) => e.outcome === "allowed")).toHaveLength(5);
    const deniedSent = sent.filter((e) => e.outcome === "denied");
    expect(deniedSent).toHaveLength(21);
    expect(deniedSent.filter((e) => e.folded_count === undefined)).toHaveLength(20);
    const folded = deniedSent.find((e) => e.folded_count !== undefined);
    expect(folded?.folded_count).toBe(10);
    expect(folded?.request_id).toBe("req_d29");
    expect(AuditMessageSchema.safeParse(calls[0]?.body).success).toBe(true);
  });

  it("another IP is not folded by the first one's flood", async () => {
    const { queue, calls } = recordingQueue();
    const flood = Array.from({ length: 25 }, (_, i) => event({ eventId: `evt_f${i}`, outcome: "denied", connectingIp: "192.0.2.78" }));
    const other = event({ eventId: "evt_other", outcome: "denied", connectingIp: "192.0.2.79" });
    await Promise.all([...flood, other].map((e) => sendAuditEvent(queue, e).delivered));
    const sent = calls.flatMap((c) => (c.body as { events: AuditEvent[] }).events);
    expect(sent.find((e) => e.event_id === "evt_other")?.folded_count).toBeUndefined();
  });
});

describe("sendAuditEvent", () => {
  it("sends one JSON message { v: 1, events: [event] }", async () => {
    const { queue, calls } = recordingQueue();
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const e = event();
    await sendAuditEvent(queue, e).delivered;
    expect(calls).toHaveLength(1);
    expect(calls[0]?.body).toEqual({ v: 1, events: [e] });
    // The text the batch was sized on, sent as it is: exactly the JSON of the message object.
    expect(calls[0]?.raw).toBe(JSON.stringify({ v: 1, events: [e] }));
    expect(calls[0]?.options).toEqual({ contentType: "text" });
    expect(AuditMessageSchema.safeParse(calls[0]?.body).success).toBe(true);
    expect(errors).not.toHaveBeenCalled();
  });

  it("sends the C8 event (100 KB user agent, 500 forwarded entries) without further shrinking", async () => {
    const entries = Array.from({ length: 500 }, (_, i) => ({ raw: `10.1.1.${i % 256}`, ip: `10.1.1.${i % 256}`, port: null, valid: true }));
    const raw = entries.map((x) => x.raw).join(", ");
    const e = event({
      userAgent: "U".repeat(100_000),
      sourceIp: "10.1.1.0",
      sourceIpFrom: "x-forwarded-for",
      forwarded: { raw, rawLength: raw.length, entries, count: 500 },
    });
    const { queue, calls } = recordingQueue();
    await sendAuditEvent(queue, e).delivered;
    expect(calls).toHaveLength(1);
    const sent = sentEvent(calls);
    expect(sent?.user_agent?.length).toBe(1024);
    expect(sent?.user_agent_length).toBe(100_000);
    expect(sent?.forwarded_chain).toHaveLength(20);
    expect(sent?.forwarded_count).toBe(500);
    expect(messageSize(calls[0]?.body as { v: 1; events: AuditEvent[] })).toBeLessThan(MAX_EVENT_BYTES);
  });

  it("resolves and logs once with the request id when send throws", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const queue = {
      send() {
        throw new Error("queue unavailable");
      },
    } as unknown as Queue;
    const e = event();
    await expect(sendAuditEvent(queue, e).delivered).resolves.toBeUndefined();
    expect(errors).toHaveBeenCalledTimes(1);
    const line = JSON.parse(String(errors.mock.calls[0]?.[0]));
    expect(line).toEqual({
      level: "error",
      msg: "audit_send_failed",
      request_id: "req_p1",
      event_id: "evt_p1",
      error: "queue unavailable",
      event: e,
    });
  });

  it("resolves and logs once when send rejects", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const queue = { send: () => Promise.reject(new Error("rejected")) } as unknown as Queue;
    await expect(sendAuditEvent(queue, event({ requestId: "req_reject" })).delivered).resolves.toBeUndefined();
    expect(errors).toHaveBeenCalledTimes(1);
    expect(String(errors.mock.calls[0]?.[0])).toContain('"request_id":"req_reject"');
    expect(String(errors.mock.calls[0]?.[0])).toContain('"error":"rejected"');
  });

  it("shrinks an event over MAX_EVENT_BYTES, marks it truncated and sends it", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const big: AuditEvent = {
      ...event(),
      // Bypasses buildAuditEvent's caps on purpose: the producer must not trust its input's size.
      user_agent: "U".repeat(100_000),
      path: `/${"p".repeat(100_000)}`,
      forwarded_chain: Array.from({ length: 20 }, () => ({ raw: "203.0.113.1", ip: "203.0.113.1", port: null, valid: true })),
      forwarded_count: 20,
    };
    expect(messageSize({ v: 1, events: [big] })).toBeGreaterThan(MAX_EVENT_BYTES);
    const { queue, calls } = recordingQueue();
    await sendAuditEvent(queue, big).delivered;
    expect(calls).toHaveLength(1);
    const sent = sentEvent(calls);
    expect(sent?.truncated).toBe(true);
    expect(sent?.user_agent).toBe("U".repeat(SHRUNK_TEXT_MAX_CHARS));
    expect(sent?.path.length).toBe(SHRUNK_TEXT_MAX_CHARS);
    expect(sent?.forwarded_chain).toEqual([]);
    expect(sent?.forwarded_count).toBe(20);
    expect(sent?.event_id).toBe("evt_p1");
    expect(messageSize(calls[0]?.body as { v: 1; events: AuditEvent[] })).toBeLessThanOrEqual(MAX_EVENT_BYTES);
    expect(errors).not.toHaveBeenCalled();
  });

  it("does not send what is still too big after shrinking, and logs it with the request id", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const tooBig: AuditEvent = { ...event({ requestId: "req_huge" }), origin: "o".repeat(100_000) };
    const { queue, calls } = recordingQueue();
    await expect(sendAuditEvent(queue, tooBig).delivered).resolves.toBeUndefined();
    expect(calls).toHaveLength(0);
    expect(errors).toHaveBeenCalledTimes(1);
    const raw = String(errors.mock.calls[0]?.[0]);
    const line = JSON.parse(raw);
    expect(line.msg).toBe("audit_event_too_large");
    expect(line.request_id).toBe("req_huge");
    expect(line.size_bytes).toBeGreaterThan(MAX_EVENT_BYTES);
    expect(line.event.origin.length).toBe(256);
    expect(raw.length).toBeLessThan(20_000);
  });
});

describe("shrinkAuditEvent", () => {
  it("keeps the original lengths and ids", () => {
    const e = event({ userAgent: "x".repeat(5000) });
    const s = shrinkAuditEvent(e);
    expect(s.user_agent_length).toBe(5000);
    expect(s.user_agent?.length).toBe(SHRUNK_TEXT_MAX_CHARS);
    expect(s.request_id).toBe(e.request_id);
    expect(s.truncated).toBe(true);
    expect(e.truncated).toBe(true);
    expect(e.user_agent?.length).toBe(1024);
  });
});

describe("prepareAuditEvent sizes", () => {
  const text = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: "binary", maxLength: 300 }), fc.constant("Büro-Sync/2.1 \u00ff"));

  it("counts exactly the UTF-8 bytes the event adds to a message: its JSON and a comma", () => {
    fc.assert(
      fc.property(text, text, text, fc.nat(600), (userAgent, path, host, count) => {
        const e = event({ userAgent, path: `/${path}`, host, forwarded: { raw: null, rawLength: 0, entries: [], count } });
        const prepared = prepareAuditEvent(e);
        if (prepared === null) return false;
        const one = messageSize({ v: 1, events: [prepared.event] });
        const two = messageSize({ v: 1, events: [prepared.event, prepared.event] });
        return prepared.event === e && two - one === prepared.bytes;
      }),
      { numRuns: 300 },
    );
  });

  it("applies MAX_EVENT_BYTES to the whole one-event message, envelope included", () => {
    const base = event({ userAgent: null });
    const sizeWith = (origin: string) => messageSize({ v: 1, events: [{ ...base, origin }] });
    // `origin` is not a field the shrinking cuts: an event over the limit because of it only gets
    // `truncated: true` (one byte shorter than false) and an empty chain.
    const fill = "o".repeat(MAX_EVENT_BYTES - sizeWith(""));
    expect(sizeWith(fill)).toBe(MAX_EVENT_BYTES);
    const exact = prepareAuditEvent({ ...base, origin: fill });
    expect(exact?.event.truncated).toBe(false);
    expect((exact?.event as AuditEvent | undefined)?.origin).toBe(fill);
    const shrunk = prepareAuditEvent({ ...base, origin: `${fill}o` });
    expect(shrunk?.event.truncated).toBe(true);
    expect(messageSize({ v: 1, events: [shrunk?.event as AuditEvent] })).toBe(MAX_EVENT_BYTES);
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    expect(prepareAuditEvent({ ...base, origin: `${fill}oo` })).toBeNull();
    expect(JSON.parse(String(errors.mock.calls[0]?.[0]))).toMatchObject({ msg: "audit_event_too_large", size_bytes: MAX_EVENT_BYTES + 1 });
  });
});
