import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AUDIT_SCHEMA_VERSION,
  type AuditEvent,
  AuditEventSchema,
  type AuditInput,
  buildAuditEvent,
  cleanText,
  countUtf8,
  eventSize,
  FORGED_HEADER_MAX_CHARS,
  FORGED_HEADERS_MAX_ENTRIES,
  FORWARDED_CHAIN_MAX_ENTRIES,
  FORWARDED_ENTRY_MAX_CHARS,
  FORWARDED_FOR_MAX_CHARS,
  HOST_MAX_CHARS,
  ID_MAX_CHARS,
  MAX_EVENT_BYTES,
  PATH_MAX_CHARS,
  QUEUE_MESSAGE_LIMIT_BYTES,
  REASON_MAX_CHARS,
  USER_AGENT_MAX_CHARS,
  utf8Length,
} from "../../../src/audit/event";
import { sampleAuditInput } from "../../helpers/audit";

const input = sampleAuditInput;

/** True when the string encodes to UTF-8 and back unchanged (no lone surrogates). */
function isWellFormed(s: string): boolean {
  return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(new TextEncoder().encode(s)) === s;
}

function allStrings(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const v of value) allStrings(v, out);
  else if (value !== null && typeof value === "object") for (const v of Object.values(value)) allStrings(v, out);
  return out;
}

function allKeys(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) allKeys(v, out);
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      allKeys(v, out);
    }
  }
  return out;
}

describe("buildAuditEvent: shape", () => {
  it("maps every input field to the snake_case event", () => {
    const e = buildAuditEvent(input());
    expect(e).toEqual({
      v: AUDIT_SCHEMA_VERSION,
      event_id: "evt_1",
      time: "2025-01-02T03:04:05.678Z",
      request_id: "req_1",
      ray_id: "8f1e2d3c4b5a6978-FRA",
      outcome: "allowed",
      reason: "ok",
      account_id: "acct_123",
      account_verified: true,
      key_id: "key_1",
      mode: "live",
      requested_version: "2024-11-15",
      resolved_version: "2024-11-15",
      origin: "https://v2024-11-15.origin.test",
      method: "GET",
      host: "api.spot-thought.com",
      path: "/v1/charges",
      path_length: 11,
      status: 200,
      duration_ms: 12,
      connecting_ip: "198.51.100.23",
      source_ip: "203.0.113.9",
      source_ip_from: "x-forwarded-for",
      source_ip_asserted: true,
      forwarded_for: "203.0.113.9:51234, not-an-ip",
      forwarded_for_length: 28,
      forwarded_chain: [
        { raw: "203.0.113.9:51234", ip: "203.0.113.9", port: 51234, valid: true },
        { raw: "not-an-ip", ip: null, port: null, valid: false },
      ],
      forwarded_count: 2,
      user_agent: "curl/8.5.0",
      user_agent_length: 10,
      country: "DE",
      colo: "FRA",
      forged_headers: [],
      forged_headers_count: 0,
      truncated: false,
      would_refuse: null,
    } satisfies AuditEvent);
    expect(AuditEventSchema.safeParse(e).success).toBe(true);
  });

  it("labels source_ip as asserted only when it comes from X-Forwarded-For", () => {
    expect(buildAuditEvent(input({ sourceIpFrom: "x-forwarded-for" })).source_ip_asserted).toBe(true);
    const fromCf = buildAuditEvent(
      input({ sourceIp: "198.51.100.23", sourceIpFrom: "cf-connecting-ip", forwarded: { raw: null, rawLength: 0, entries: [], count: 0 } }),
    );
    expect(fromCf.source_ip_asserted).toBe(false);
    expect(fromCf.source_ip_from).toBe("cf-connecting-ip");
    expect(fromCf.forwarded_for).toBeNull();
    expect(fromCf.forwarded_chain).toEqual([]);
    expect(buildAuditEvent(input({ sourceIp: null, sourceIpFrom: "none" })).source_ip_asserted).toBe(false);
  });

  it("keeps a denied request's nulls as nulls", () => {
    const e = buildAuditEvent(
      input({
        outcome: "denied",
        reason: "invalid_credentials",
        status: 401,
        accountId: "acct_999",
        accountVerified: false,
        keyId: null,
        mode: null,
        resolvedVersion: null,
        origin: null,
        userAgent: null,
        rayId: null,
        country: null,
        colo: null,
      }),
    );
    expect(e).toMatchObject({
      outcome: "denied",
      reason: "invalid_credentials",
      status: 401,
      account_verified: false,
      key_id: null,
      mode: null,
      origin: null,
      user_agent: null,
      user_agent_length: 0,
      ray_id: null,
    });
    expect(AuditEventSchema.safeParse(e).success).toBe(true);
  });

  it("turns numbers it cannot use into valid values instead of throwing", () => {
    const e = buildAuditEvent(input({ timeMs: Number.NaN, durationMs: -3, status: 1e6 }));
    expect(e.time).toBe("1970-01-01T00:00:00.000Z");
    expect(e.duration_ms).toBe(0);
    expect(e.status).toBe(0);
    expect(buildAuditEvent(input({ durationMs: 12.6 })).duration_ms).toBe(13);
    expect(buildAuditEvent(input({ timeMs: 1e20 })).time).toBe("1970-01-01T00:00:00.000Z");
    expect(AuditEventSchema.safeParse(e).success).toBe(true);
  });

  it("never leaves the primary key empty", () => {
    const e = buildAuditEvent(input({ eventId: "" }));
    expect(e.event_id).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("buildAuditEvent: what is never recorded", () => {
  it("drops the query string (and a fragment) even when the caller passes one", () => {
    const e = buildAuditEvent(input({ path: "/v1/charges?x=1&api_secret=sk_live_abcd1234" }));
    expect(e.path).toBe("/v1/charges");
    expect(e.path_length).toBe(11);
    const json = JSON.stringify(e);
    expect(json).not.toContain("?");
    expect(json).not.toContain("x=1");
    expect(json).not.toContain("sk_live_abcd1234");
    expect(buildAuditEvent(input({ path: "/graphql#frag?x=1" })).path).toBe("/graphql");
    expect(buildAuditEvent(input({ path: "?x=1" })).path).toBe("");
  });

  it("copies only the named fields: a secret or headers on the input never reach the event", () => {
    const leaky = {
      ...input(),
      secret: "sk_live_SHOULDNEVERAPPEAR",
      apiSecret: "sk_live_SHOULDNEVERAPPEAR",
      headers: { "x-spot-api-secret": "sk_live_SHOULDNEVERAPPEAR" },
      query: "x=1",
      body: '{"amount":100}',
    } as AuditInput;
    const e = buildAuditEvent(leaky);
    const keys = allKeys(e);
    // forged_headers holds header names only (never values): the one documented exception.
    const named = keys.filter((k) => /secret|header|query|body|password|token/i.test(k));
    expect(named).toEqual(["forged_headers", "forged_headers_count"]);
    const json = JSON.stringify(e);
    expect(json).not.toContain("SHOULDNEVERAPPEAR");
    expect(json).not.toContain("amount");
    expect(AuditEventSchema.safeParse(e).success).toBe(true);
  });

  it("has exactly the documented keys", () => {
    expect(Object.keys(buildAuditEvent(input())).sort()).toEqual(
      [
        "v",
        "event_id",
        "time",
        "request_id",
        "ray_id",
        "outcome",
        "reason",
        "account_id",
        "account_verified",
        "key_id",
        "mode",
        "requested_version",
        "resolved_version",
        "origin",
        "method",
        "host",
        "path",
        "path_length",
        "status",
        "duration_ms",
        "connecting_ip",
        "source_ip",
        "source_ip_from",
        "source_ip_asserted",
        "forwarded_for",
        "forwarded_for_length",
        "forwarded_chain",
        "forwarded_count",
        "user_agent",
        "user_agent_length",
        "country",
        "colo",
        "forged_headers",
        "forged_headers_count",
        "truncated",
        "would_refuse",
      ].sort(),
    );
  });
});

describe("buildAuditEvent: forged identity headers", () => {
  it("keeps the names and their count", () => {
    const e = buildAuditEvent(input({ forgedHeaders: ["x-spot-account-id", "x-spot-assertion"] }));
    expect(e.forged_headers).toEqual(["x-spot-account-id", "x-spot-assertion"]);
    expect(e.forged_headers_count).toBe(2);
    expect(e.truncated).toBe(false);
    expect(AuditEventSchema.safeParse(e).success).toBe(true);
  });

  it("caps the list and each name, counts them all, and says it was truncated", () => {
    const names = Array.from({ length: 300 }, (_, i) => `x-spot-${"z".repeat(100)}-${i}`);
    const e = buildAuditEvent(input({ forgedHeaders: names }));
    expect(e.forged_headers).toHaveLength(FORGED_HEADERS_MAX_ENTRIES);
    expect(e.forged_headers.every((n) => n.length === FORGED_HEADER_MAX_CHARS)).toBe(true);
    expect(e.forged_headers_count).toBe(300);
    expect(e.truncated).toBe(true);
    expect(AuditEventSchema.safeParse(e).success).toBe(true);
  });

  it("reads an event of an older producer, without the fields, as none", () => {
    const { forged_headers: _a, forged_headers_count: _b, ...older } = buildAuditEvent(input());
    const parsed = AuditEventSchema.parse(older);
    expect(parsed.forged_headers).toEqual([]);
    expect(parsed.forged_headers_count).toBe(0);
  });
});

describe("buildAuditEvent: caps (C8)", () => {
  it("cuts a 100,000-char user agent to 1024 chars and records the original length", () => {
    const e = buildAuditEvent(input({ userAgent: "A".repeat(100_000) }));
    expect(e.user_agent).toBe("A".repeat(USER_AGENT_MAX_CHARS));
    expect(e.user_agent?.length).toBe(1024);
    expect(e.user_agent_length).toBe(100_000);
    expect(e.truncated).toBe(true);
  });

  it("keeps 20 of 500 forwarded entries and the count, and caps the raw header", () => {
    const entries = Array.from({ length: 500 }, (_, i) => ({
      raw: `10.0.${Math.floor(i / 256)}.${i % 256}`,
      ip: `10.0.${Math.floor(i / 256)}.${i % 256}`,
      port: null,
      valid: true,
    }));
    const raw = entries.map((x) => x.raw).join(", ");
    const e = buildAuditEvent(input({ forwarded: { raw, rawLength: raw.length, entries, count: 500 } }));
    expect(e.forwarded_chain).toHaveLength(FORWARDED_CHAIN_MAX_ENTRIES);
    expect(e.forwarded_chain[0]).toEqual({ raw: "10.0.0.0", ip: "10.0.0.0", port: null, valid: true });
    expect(e.forwarded_chain[19]?.raw).toBe("10.0.0.19");
    expect(e.forwarded_count).toBe(500);
    expect(e.forwarded_for?.length).toBe(FORWARDED_FOR_MAX_CHARS);
    expect(e.forwarded_for_length).toBe(raw.length);
    expect(raw.length).toBeGreaterThan(FORWARDED_FOR_MAX_CHARS);
    expect(e.truncated).toBe(true);
  });

  it("stays far below the Queues limit with a 100 KB user agent and 500 forwarded entries", () => {
    const entries = Array.from({ length: 500 }, () => ({ raw: "x".repeat(500), ip: null, port: null, valid: false }));
    const e = buildAuditEvent(
      input({ userAgent: "U".repeat(100_000), forwarded: { raw: "f".repeat(100_000), rawLength: 100_000, entries, count: 500 } }),
    );
    expect(e.forwarded_chain.every((x) => x.raw.length === FORWARDED_ENTRY_MAX_CHARS)).toBe(true);
    const size = eventSize(e);
    expect(size).toBeLessThan(QUEUE_MESSAGE_LIMIT_BYTES);
    expect(size).toBeLessThan(MAX_EVENT_BYTES);
    expect(size).toBeLessThan(16_000);
    expect(AuditEventSchema.safeParse(e).success).toBe(true);
  });

  it("stays below MAX_EVENT_BYTES even when every string is huge and made of 3-byte characters", () => {
    const huge = "€".repeat(200_000);
    const entries = Array.from({ length: 500 }, () => ({ raw: huge, ip: huge, port: 70_000, valid: true }));
    const e = buildAuditEvent({
      eventId: huge,
      timeMs: 0,
      requestId: huge,
      rayId: huge,
      outcome: "error",
      reason: huge,
      accountId: huge,
      accountVerified: false,
      keyId: huge,
      mode: null,
      requestedVersion: huge,
      resolvedVersion: huge,
      origin: huge,
      method: huge,
      host: huge,
      path: huge,
      status: 502,
      durationMs: 1,
      connectingIp: huge,
      sourceIp: huge,
      sourceIpFrom: "x-forwarded-for",
      forwarded: { raw: huge, rawLength: huge.length, entries, count: 500 },
      userAgent: huge,
      country: huge,
      colo: huge,
    });
    expect(e.reason.length).toBe(REASON_MAX_CHARS);
    expect(e.host.length).toBe(HOST_MAX_CHARS);
    expect(e.path.length).toBe(PATH_MAX_CHARS);
    expect(e.account_id?.length).toBe(ID_MAX_CHARS);
    expect(e.forwarded_chain[0]?.port).toBeNull();
    expect(e.path_length).toBe(200_000);
    const size = eventSize(e);
    expect(size).toBeGreaterThan(20_000);
    expect(size).toBeLessThan(MAX_EVENT_BYTES);
    expect(AuditEventSchema.safeParse(e).success).toBe(true);
  });
});

describe("buildAuditEvent: text that is not ASCII (C7)", () => {
  it("keeps Büro-Sync/2.1 and U+00FF exactly and replaces a lone surrogate", () => {
    const e = buildAuditEvent(input({ userAgent: "Büro-Sync/2.1 \u00ff \ud800 end", host: "h\udc00st" }));
    expect(e.user_agent).toBe("Büro-Sync/2.1 \u00ff \ufffd end");
    expect(e.host).toBe("h\ufffdst");
    const back = JSON.parse(JSON.stringify(e)) as AuditEvent;
    expect(back).toEqual(e);
    for (const s of allStrings(back)) expect(isWellFormed(s)).toBe(true);
    // A lone surrogate would be escaped as \udXXX by JSON.stringify.
    expect(JSON.stringify(e)).not.toMatch(/\\ud[89a-f]/i);
  });

  it("keeps a header value that arrived as U+FFFD", () => {
    expect(buildAuditEvent(input({ userAgent: "agent-\ufffd" })).user_agent).toBe("agent-\ufffd");
  });

  it("replaces control characters (C0, DEL, C1) so a header cannot forge log lines", () => {
    const e = buildAuditEvent(input({ userAgent: "a\nb\r\u0000c\u007fd\u0085e\tf" }));
    expect(e.user_agent).toBe("a\ufffdb\ufffd\ufffdc\ufffdd\ufffde\ufffdf");
  });

  it("never splits a surrogate pair at a cap", () => {
    const ua = `${"a".repeat(USER_AGENT_MAX_CHARS - 1)}😀tail`;
    const e = buildAuditEvent(input({ userAgent: ua }));
    expect(e.user_agent).toBe("a".repeat(USER_AGENT_MAX_CHARS - 1));
    expect(isWellFormed(e.user_agent ?? "")).toBe(true);
    expect(e.user_agent_length).toBe(ua.length);
    const fits = `${"a".repeat(USER_AGENT_MAX_CHARS - 2)}😀tail`;
    expect(buildAuditEvent(input({ userAgent: fits })).user_agent).toBe(`${"a".repeat(USER_AGENT_MAX_CHARS - 2)}😀`);
  });
});

describe("cleanText", () => {
  it.each([
    ["plain", 10, "plain"],
    ["abcdef", 3, "abc"],
    ["ab😀", 3, "ab"],
    ["ab😀", 4, "ab😀"],
    ["\ud83d", 5, "\ufffd"],
    ["\ude00x", 5, "\ufffdx"],
    ["x\ud83d\ud83d\ude00", 5, "x\ufffd😀"],
    ["Büro", 2, "Bü"],
    ["", 5, ""],
  ])("cleanText(%j, %i) = %j", (value, max, expected) => {
    expect(cleanText(value, max)).toBe(expected);
  });
});

describe("utf8Length", () => {
  const encoded = (value: string) => new TextEncoder().encode(value).byteLength;

  it.each([
    ["", 0],
    ["plain ascii", 11],
    ["Büro", 5],
    ["\u00ff", 2],
    ["\u07ff\u0800", 5],
    ["€", 3],
    ["😀", 4],
    ["\ud800", 3],
    ["\udc00x", 4],
    ["\ud83d\ud83d\ude00", 7],
    ["x\ud83d", 4],
  ])("utf8Length(%j) = %i, as TextEncoder counts it", (value, bytes) => {
    expect(utf8Length(value)).toBe(bytes);
    expect(countUtf8(value)).toBe(bytes);
    expect(encoded(value)).toBe(bytes);
  });

  it("counts strings longer than its scratch buffer too (20,000 code units and more)", () => {
    for (const value of ["é".repeat(20_000), `${"a".repeat(30_000)}\ud800😀`, "€".repeat(16_384), "x".repeat(16_385)]) {
      expect(utf8Length(value)).toBe(encoded(value));
    }
  });

  it("equals TextEncoder's byte count for any UTF-16 text, lone surrogates included", () => {
    const codeUnit = fc.nat(0xffff).map((c) => String.fromCharCode(c));
    const text = fc.oneof(fc.string({ unit: codeUnit, maxLength: 300 }), fc.string({ unit: "binary", maxLength: 300 }), fc.string());
    fc.assert(
      fc.property(text, (value) => utf8Length(value) === encoded(value) && countUtf8(value) === encoded(value)),
      { numRuns: 2000 },
    );
  });
});
