/** Test helpers for audit events: one complete, valid request-event input to start from. */
import type { AuditInput } from "../../src/audit/event";
import type { AnyAuditEvent } from "../../src/audit/producer";

/** A complete request-event input (an allowed GET with a two-entry X-Forwarded-For); override any field. */
export function sampleAuditInput(overrides: Partial<AuditInput> = {}): AuditInput {
  return {
    eventId: "evt_1",
    timeMs: Date.UTC(2025, 0, 2, 3, 4, 5, 678),
    requestId: "req_1",
    rayId: "8f1e2d3c4b5a6978-FRA",
    outcome: "allowed",
    reason: "ok",
    accountId: "acct_123",
    accountVerified: true,
    keyId: "key_1",
    mode: "live",
    requestedVersion: "2024-11-15",
    resolvedVersion: "2024-11-15",
    origin: "https://v2024-11-15.origin.test",
    method: "GET",
    host: "api.spot-thought.com",
    path: "/v1/charges",
    status: 200,
    durationMs: 12,
    connectingIp: "198.51.100.23",
    sourceIp: "203.0.113.9",
    sourceIpFrom: "x-forwarded-for",
    forwarded: {
      raw: "203.0.113.9:51234, not-an-ip",
      rawLength: 28,
      entries: [
        { raw: "203.0.113.9:51234", ip: "203.0.113.9", port: 51234, valid: true },
        { raw: "not-an-ip", ip: null, port: null, valid: false },
      ],
      count: 2,
    },
    userAgent: "curl/8.5.0",
    country: "DE",
    colo: "FRA",
    ...overrides,
  };
}

/**
 * The events of one audit queue message as a test's stand-in queue receives it from `send`: the JSON
 * text the producer sends (`contentType: "text"`), or a message object. Throws on anything else, so a
 * test cannot pass on a body it did not read.
 */
export function messageEvents(body: unknown): AnyAuditEvent[] {
  const message = (typeof body === "string" ? JSON.parse(body) : body) as { v?: unknown; events?: unknown };
  if (message === null || typeof message !== "object" || message.v !== 1 || !Array.isArray(message.events)) {
    throw new Error(`not an audit message: ${String(body).slice(0, 200)}`);
  }
  return message.events as AnyAuditEvent[];
}
