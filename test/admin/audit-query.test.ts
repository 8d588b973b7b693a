/**
 * The audit query API (docs/audit.md "Query") through the Worker's fetch handler in workerd: events are
 * seeded through the real queue consumer into this file's D1, then searched by every filter and
 * combination, paged across ties, refused on bad parameters, and each query is checked for its own
 * admin event. The plans of every supported filter combination are checked with EXPLAIN QUERY PLAN.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { AdminAuditEvent } from "../../src/audit/admin-event";
import { AUDIT_QUEUE_NAME, consumeAuditBatch } from "../../src/audit/consumer";
import { type AuditEvent, type AuditOutcome, buildAuditEvent } from "../../src/audit/event";
import {
  ADMIN_EVENT_INDEXES,
  ADMIN_EVENT_TIME_INDEX,
  type AdminSearchFilters,
  AUDIT_EVENT_INDEXES,
  AUDIT_EVENT_TIME_INDEX,
  AUDIT_EVENT_WOULD_REFUSE_INDEX,
  type AuditSearchFilters,
  buildAdminSearch,
  buildAuditSearch,
  encodeCursor,
  searchAuditEvents,
  WOULD_REFUSE_ANY,
} from "../../src/audit/query";
import { resolveClientIp } from "../../src/client-ip/resolve";
import { clearKeyCache } from "../../src/keys/store";
import { adminCall, adminToken, createKey, errorOf } from "../helpers/admin";
import { type OriginStub, stubOrigins } from "../helpers/origin";
import { call } from "../helpers/worker";

// ---------------------------------------------------------------------------------------------
// Seed data: one D1 for the whole file, written once through the consumer.

const T0 = Date.UTC(2026, 0, 10, 12, 0, 0, 0);
const HOUR = 3_600_000;

interface Spec {
  id: string;
  t: number;
  account: string | null;
  key: string | null;
  outcome: AuditOutcome;
  reason?: string;
  connecting: string;
  xff?: string;
  folded?: number;
  /** Report-only mode's mark. */
  wouldRefuse?: string;
}

const SPECS: Spec[] = [
  { id: "e01", t: 0, account: "acct_alpha", key: "key_a1", outcome: "allowed", connecting: "198.51.100.1", xff: "203.0.113.9" },
  {
    id: "e02",
    t: 1000,
    account: "acct_alpha",
    key: "key_a1",
    outcome: "allowed",
    connecting: "198.51.100.1",
    wouldRefuse: "ip_not_allowed",
  },
  {
    id: "e03",
    t: 2000,
    account: "acct_alpha",
    key: "key_a2",
    outcome: "denied",
    reason: "ip_not_allowed",
    connecting: "198.51.100.2",
    xff: "203.0.113.9, 10.0.0.1",
  },
  { id: "e04", t: 3000, account: "acct_alpha", key: null, outcome: "denied", reason: "invalid_credentials", connecting: "2001:db8::1" },
  {
    id: "e05",
    t: 4000,
    account: "acct_beta",
    key: "key_b1",
    outcome: "allowed",
    connecting: "2001:db8::1",
    xff: "[2001:db8::beef]:443",
    wouldRefuse: "rate_limited",
  },
  { id: "e06", t: 5000, account: "acct_beta", key: "key_b1", outcome: "error", reason: "upstream_timeout", connecting: "198.51.100.1" },
  {
    id: "e07",
    t: 6000,
    account: null,
    key: null,
    outcome: "denied",
    reason: "missing_api_key",
    connecting: "198.51.100.7",
    xff: "unknown",
  },
  {
    id: "e08",
    t: 7000,
    account: "acct_beta",
    key: null,
    outcome: "denied",
    reason: "invalid_credentials",
    connecting: "198.51.100.7",
    folded: 7,
  },
  // Five events in one millisecond: pages must split and continue them without loss or repeat.
  ...["tie-c", "tie-a", "tie-e", "tie-b", "tie-d"].map(
    (id): Spec => ({ id, t: 8000, account: "acct_tie", key: "key_t1", outcome: "allowed", connecting: "198.51.100.3" }),
  ),
  { id: "e14", t: -2 * 24 * HOUR, account: "acct_alpha", key: "key_a1", outcome: "allowed", connecting: "198.51.100.1" },
];

function eventOf(spec: Spec): AuditEvent {
  const ip = resolveClientIp(spec.connecting, spec.xff ?? null);
  const event = buildAuditEvent({
    eventId: spec.id,
    timeMs: T0 + spec.t,
    requestId: `req-${spec.id}`,
    rayId: "8f1e2d3c4b5a6978-FRA",
    outcome: spec.outcome,
    reason: spec.reason ?? "ok",
    accountId: spec.account,
    accountVerified: spec.key !== null,
    keyId: spec.key,
    mode: spec.key !== null ? "live" : null,
    requestedVersion: null,
    resolvedVersion: "2024-11-15",
    origin: "https://v2024-11-15.origin.test",
    method: "GET",
    host: "api.spot-thought.com",
    path: `/v1/things/${spec.id}`,
    status: spec.outcome === "allowed" ? 200 : spec.outcome === "error" ? 504 : 401,
    durationMs: 12,
    connectingIp: ip.connectingIp,
    sourceIp: ip.sourceIp,
    sourceIpFrom: ip.sourceIpFrom,
    forwarded: { raw: ip.forwarded.raw, rawLength: ip.forwarded.rawLength, entries: ip.forwarded.entries, count: ip.forwarded.count },
    userAgent: "curl/8.5.0",
    country: "DE",
    colo: "FRA",
    forgedHeaders: spec.id === "e03" ? ["x-spot-account-id"] : [],
    wouldRefuse: spec.wouldRefuse ?? null,
  });
  return spec.folded ? { ...event, folded_count: spec.folded } : event;
}

const EVENTS = SPECS.map(eventOf);

/** Newest first, ties by event id descending: the order every answer must have. */
const newestFirst = (a: AuditEvent, b: AuditEvent) =>
  Date.parse(b.time) - Date.parse(a.time) || (a.event_id < b.event_id ? 1 : a.event_id > b.event_id ? -1 : 0);

async function consume(events: (AuditEvent | AdminAuditEvent)[], id: string): Promise<void> {
  const batch = createMessageBatch<unknown>(AUDIT_QUEUE_NAME, [{ id, timestamp: new Date(), attempts: 1, body: { v: 1, events } }]);
  await consumeAuditBatch(batch, env);
  const result = await getQueueResult(batch, createExecutionContext());
  if (result.explicitAcks.length !== 1) throw new Error(`seed message ${id} was not stored`);
}

beforeAll(async () => {
  // Three messages, as coalesced batches would arrive; the ties split across two of them.
  await consume(EVENTS.slice(0, 6), "seed-1");
  await consume(EVENTS.slice(6, 10), "seed-2");
  await consume(EVENTS.slice(10), "seed-3");
});

let origin: OriginStub;
beforeEach(() => {
  clearKeyCache();
  origin = stubOrigins();
});
afterEach(() => {
  origin.restore();
  vi.restoreAllMocks();
});

type PageBody = { events: AuditEvent[]; next_cursor: string | null };

async function search(params: Record<string, string | number>, token?: string | null) {
  const qs = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();
  const result = await adminCall("GET", `/audit/events${qs ? `?${qs}` : ""}`, token === undefined ? {} : { token });
  return { ...result, page: result.body as PageBody };
}

const ids = (events: { event_id: string }[]) => events.map((e) => e.event_id);
const iso = (offsetMs: number) => new Date(T0 + offsetMs).toISOString();

// ---------------------------------------------------------------------------------------------

describe("GET /audit/events: filters", () => {
  it("returns each stored event exactly as it was sent: booleans, parsed chain and forged headers, folded_count only on a fold", async () => {
    const { res, page } = await search({ limit: 200 });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(page.events).toStrictEqual([...EVENTS].sort(newestFirst));
    expect(page.next_cursor).toBeNull();
    const e03 = page.events.find((e) => e.event_id === "e03");
    expect(e03?.forwarded_chain).toEqual([
      { raw: "203.0.113.9", ip: "203.0.113.9", port: null, valid: true },
      { raw: "10.0.0.1", ip: "10.0.0.1", port: null, valid: true },
    ]);
    expect(e03).toMatchObject({
      account_verified: true,
      source_ip_asserted: true,
      truncated: false,
      forged_headers: ["x-spot-account-id"],
    });
    expect(page.events.find((e) => e.event_id === "e08")?.folded_count).toBe(7);
    expect(page.events.find((e) => e.event_id === "e02")).not.toHaveProperty("folded_count");
    // Nothing of D1's own: no time_ms, no stored_at.
    for (const e of page.events) {
      expect(e).not.toHaveProperty("time_ms");
      expect(e).not.toHaveProperty("stored_at");
    }
  });

  it.each([
    ["account_id", { account_id: "acct_alpha" }, ["e04", "e03", "e02", "e01", "e14"]],
    ["key_id", { key_id: "key_b1" }, ["e06", "e05"]],
    ["request_id", { request_id: "req-e05" }, ["e05"]],
    ["source_ip (asserted, from X-Forwarded-For)", { source_ip: "203.0.113.9" }, ["e03", "e01"]],
    ["source_ip, IPv6 written another way", { source_ip: "2001:0db8:0:0:0:0:0:beef" }, ["e05"]],
    ["connecting_ip", { connecting_ip: "198.51.100.7" }, ["e08", "e07"]],
    ["connecting_ip, IPv6 in brackets", { connecting_ip: "[2001:DB8::1]" }, ["e05", "e04"]],
    ["connecting_ip, IPv4-mapped IPv6", { connecting_ip: "::ffff:198.51.100.2" }, ["e03"]],
    ["outcome with a time range", { outcome: "denied", since: iso(-HOUR), until: iso(HOUR) }, ["e08", "e07", "e04", "e03"]],
    ["would_refuse any with a time range", { would_refuse: "any", since: iso(-HOUR), until: iso(HOUR) }, ["e05", "e02"]],
    ["would_refuse, one code, with a time range", { would_refuse: "rate_limited", since: iso(-HOUR), until: iso(HOUR) }, ["e05"]],
    ["would_refuse and outcome", { would_refuse: "any", outcome: "allowed", since: iso(-HOUR), until: iso(HOUR) }, ["e05", "e02"]],
    ["would_refuse with an indexed filter, no time range", { would_refuse: "any", account_id: "acct_alpha" }, ["e02"]],
    ["since (inclusive)", { since: iso(7000) }, ["tie-e", "tie-d", "tie-c", "tie-b", "tie-a", "e08"]],
    ["until (exclusive)", { until: iso(1000) }, ["e01", "e14"]],
    ["since and until", { since: iso(1000), until: iso(3000) }, ["e03", "e02"]],
    ["since with an offset", { since: new Date(T0 + 6000).toISOString().replace("Z", "+00:00"), until: iso(7000) }, ["e07"]],
  ])("%s", async (_name, params, expected) => {
    const { res, page } = await search(params);
    expect(res.status).toBe(200);
    expect(ids(page.events)).toEqual(expected);
  });

  it("a filter that matches nothing is an empty page, not an error", async () => {
    const { res, page } = await search({ account_id: "acct_nobody" });
    expect(res.status).toBe(200);
    expect(page).toEqual({ events: [], next_cursor: null });
  });

  it("filters combine with AND: every combination gives what a plain filter over the seed gives", async () => {
    // Straight at the query layer (the HTTP layer is covered above): 5 samples × every subset of 5 filters.
    const fields = [
      ["account_id", "accountId"],
      ["key_id", "keyId"],
      ["source_ip", "sourceIp"],
      ["connecting_ip", "connectingIp"],
      ["outcome", "outcome"],
      ["would_refuse", "wouldRefuse"],
    ] as const;
    const samples = ["e01", "e03", "e05", "e06", "e08"].map((id) => EVENTS.find((e) => e.event_id === id) as AuditEvent);
    let checked = 0;
    for (const sample of samples) {
      for (const chosen of subsets(fields)) {
        if (chosen.length === 0 || chosen.some(([f]) => sample[f] === null)) continue;
        const filters: AuditSearchFilters = { limit: 200 };
        for (const [field, filter] of chosen) Object.assign(filters, { [filter]: sample[field] });
        // Every other one also bounded in time, up to the sample itself.
        if (checked % 2 === 1) Object.assign(filters, { sinceMs: T0 - HOUR, untilMs: Date.parse(sample.time) + 1 });
        const expected = EVENTS.filter(
          (e) =>
            chosen.every(([f]) => e[f] === sample[f]) &&
            (filters.sinceMs === undefined || Date.parse(e.time) >= filters.sinceMs) &&
            (filters.untilMs === undefined || Date.parse(e.time) < filters.untilMs),
        ).sort(newestFirst);
        const page = await searchAuditEvents(env.AUDIT_DB, filters);
        expect(ids(page.events), JSON.stringify(filters)).toEqual(ids(expected));
        expect(ids(page.events), JSON.stringify(filters)).toContain(sample.event_id);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });
});

describe("GET /audit/events: pagination", () => {
  it("pages through ties in one millisecond without losing or repeating an event; next_cursor is null at the end", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const { res, page }: { res: Response; page: PageBody } = await search({
        account_id: "acct_tie",
        limit: 2,
        ...(cursor ? { cursor } : {}),
      });
      expect(res.status).toBe(200);
      sizes.push(page.events.length);
      seen.push(...ids(page.events));
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(sizes).toEqual([2, 2, 1]);
    expect(seen).toEqual(["tie-e", "tie-d", "tie-c", "tie-b", "tie-a"]);
  });

  it("pages of 3 over the whole trail give exactly the single page of 200, in order", async () => {
    const all = (await search({ limit: 200 })).page.events;
    const paged: AuditEvent[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { page }: { page: PageBody } = await search({ limit: 3, ...(cursor ? { cursor } : {}) });
      paged.push(...page.events);
      cursor = page.next_cursor;
      pages++;
    } while (cursor !== null && pages < 20);
    expect(pages).toBe(Math.ceil(EVENTS.length / 3));
    expect(paged).toStrictEqual(all);
  });

  it("a page exactly as long as what is left ends with next_cursor null (no empty last page)", async () => {
    const { page } = await search({ key_id: "key_b1", limit: 2 });
    expect(ids(page.events)).toEqual(["e06", "e05"]);
    expect(page.next_cursor).toBeNull();
  });

  it("the default page is 50 and the cursor keeps the other filters", async () => {
    const first = await search({ account_id: "acct_alpha", limit: 1 });
    expect(ids(first.page.events)).toEqual(["e04"]);
    const next = await search({ account_id: "acct_alpha", cursor: first.page.next_cursor as string });
    expect(ids(next.page.events)).toEqual(["e03", "e02", "e01", "e14"]);
  });
});

describe("GET /audit/events: bad parameters → 400 invalid_parameter naming the parameter", () => {
  it.each([
    [{ limit: "0" }, "query.limit"],
    [{ limit: "201" }, "query.limit"],
    [{ limit: "ten" }, "query.limit"],
    [{ limit: "2.5" }, "query.limit"],
    [{ since: "2026-02-30T00:00:00Z" }, "query.since"],
    [{ since: "yesterday" }, "query.since"],
    [{ until: "1767225600000" }, "query.until"],
    [{ since: "2026-01-10T12:00Z" }, "query.since"],
    [{ since: iso(1000), until: iso(1000) }, "query.until"],
    [{ source_ip: "999.1.1.1" }, "query.source_ip"],
    [{ source_ip: "203.0.113.9:443" }, "query.source_ip"],
    [{ connecting_ip: "198.51.100.0/24" }, "query.connecting_ip"],
    [{ connecting_ip: "fe80::1%eth0" }, "query.connecting_ip"],
    [{ account_id: "alpha" }, "query.account_id"],
    [{ key_id: "key_" }, "query.key_id"],
    [{ request_id: "a b" }, "query.request_id"],
    [{ outcome: "maybe" }, "query.outcome"],
    [{ acount_id: "acct_alpha" }, "query.acount_id"],
    [{ cursor: "not-a-cursor" }, "query.cursor"],
    [{ cursor: encodeCursor("a", { timeMs: T0, eventId: "e01" }) }, "query.cursor"],
    [{ outcome: "denied" }, "query.since"],
    [{ outcome: "denied", since: iso(-25 * HOUR), until: iso(0) }, "query.since"],
    [{ would_refuse: "maybe" }, "query.would_refuse"],
    [{ would_refuse: "not_found", since: iso(-HOUR) }, "query.would_refuse"],
    [{ would_refuse: "any" }, "query.since"],
    [{ would_refuse: "rate_limited", since: iso(-25 * HOUR), until: iso(0) }, "query.since"],
  ])("%j → %s", async (params, param) => {
    const { res, body, adminEvents } = await search(params as Record<string, string>);
    expect(res.status).toBe(400);
    expect(errorOf(body)).toMatchObject({ type: "invalid_request_error", code: "invalid_parameter", param });
    expect(errorOf(body).message).toContain(param);
    expect(adminEvents[0]).toMatchObject({ action: "audit.search", outcome: "denied", reason: "invalid_parameter", status: 400 });
  });

  it("a search refused after validation still names the account it was about (query stays null)", async () => {
    const { adminEvents } = await search({ account_id: "acct_alpha", since: iso(2000), until: iso(1000) });
    expect(adminEvents[0]).toMatchObject({ action: "audit.search", outcome: "denied", account_id: "acct_alpha", query: null });
  });

  it("a parameter sent twice is refused, not guessed", async () => {
    const { res, body } = await adminCall("GET", "/audit/events?outcome=allowed&outcome=denied&account_id=acct_alpha");
    expect(res.status).toBe(400);
    expect(errorOf(body).param).toBe("query.outcome");
  });

  it("a would_refuse search without an indexed filter or time range is refused naming would_refuse; the canonical query keeps it", async () => {
    const refused = await search({ would_refuse: "any" });
    expect(errorOf(refused.body).message).toContain("a search by would_refuse without account_id");
    const { res, page, adminEvents } = await search({ would_refuse: "ip_not_allowed", account_id: "acct_alpha" });
    expect(res.status).toBe(200);
    expect(ids(page.events)).toEqual(["e02"]);
    expect(page.events[0]?.would_refuse).toBe("ip_not_allowed");
    expect(adminEvents[0]).toMatchObject({ action: "audit.search", query: "account_id=acct_alpha&would_refuse=ip_not_allowed&limit=50" });
  });

  it("an outcome with an indexed filter needs no time range", async () => {
    const { res, page } = await search({ outcome: "denied", account_id: "acct_alpha" });
    expect(res.status).toBe(200);
    expect(ids(page.events)).toEqual(["e04", "e03"]);
  });
});

describe("GET /audit/requests/{request_id}", () => {
  it("returns the one event of that request id", async () => {
    const { res, body } = await adminCall("GET", "/audit/requests/req-e05");
    expect(res.status).toBe(200);
    expect(body).toStrictEqual({ event: EVENTS.find((e) => e.event_id === "e05"), source: "d1" });
  });

  it("an unknown request id → 404 audit_event_not_found; a malformed one → 400 path.request_id", async () => {
    const missing = await adminCall("GET", "/audit/requests/5f0c1c9e-3f5e-4a54-9b1e-0b8a3f7d2c11");
    expect(missing.res.status).toBe(404);
    expect(errorOf(missing.body)).toMatchObject({ type: "invalid_request_error", code: "audit_event_not_found" });
    expect(missing.adminEvents[0]).toMatchObject({ action: "audit.get", outcome: "denied", reason: "audit_event_not_found" });
    const malformed = await adminCall("GET", `/audit/requests/${"x".repeat(129)}`);
    expect(malformed.res.status).toBe(400);
    expect(errorOf(malformed.body)).toMatchObject({ code: "invalid_parameter", param: "path.request_id" });
  });

  it("finds the event of a request made through the Worker a moment before (queue → consumer → D1)", async () => {
    const { secret, keyId } = await createKey("acct_live1");
    const api = await call("/v1/charges", {
      headers: {
        "X-Spot-Api-Key": "acct_live1",
        "X-Spot-Api-Secret": secret,
        "CF-Connecting-IP": "192.0.2.44",
        "X-Forwarded-For": "203.0.113.77",
      },
    });
    expect(api.res.status).toBe(200);
    const requestId = api.res.headers.get("x-request-id") as string;
    await consume(api.events, "live-1");
    const { res, body } = await adminCall("GET", `/audit/requests/${requestId}`);
    expect(res.status).toBe(200);
    expect((body as { event: AuditEvent }).event).toStrictEqual(api.events[0]);
    expect((body as { event: AuditEvent }).event).toMatchObject({
      request_id: requestId,
      account_id: "acct_live1",
      key_id: keyId,
      outcome: "allowed",
      connecting_ip: "192.0.2.44",
      source_ip: "203.0.113.77",
      source_ip_asserted: true,
    });
    // The secret is nowhere in what the query returns.
    expect(JSON.stringify(body)).not.toContain(secret);
  });
});

describe("access", () => {
  it("no token → 401 missing_admin_token, and the refusal is audited as audit.search", async () => {
    const { res, body, adminEvents } = await search({ account_id: "acct_alpha" }, null);
    expect(res.status).toBe(401);
    expect(errorOf(body).code).toBe("missing_admin_token");
    expect(adminEvents[0]).toMatchObject({ action: "audit.search", outcome: "denied", reason: "missing_admin_token", actor_sub: null });
    for (const path of ["/audit/requests/req-e01", "/audit/admin-events"]) {
      const other = await adminCall("GET", path, { token: null });
      expect(other.res.status, path).toBe(401);
    }
  });

  it("an invalid token → 401 before any parameter is looked at", async () => {
    const { res, body } = await search({ limit: "0" }, await adminToken({ expiresIn: -120 }));
    expect(res.status).toBe(401);
    expect(errorOf(body).code).toBe("invalid_admin_token");
  });

  it("API-key headers → 401 api_key_not_accepted", async () => {
    const { res, body } = await adminCall("GET", "/audit/events", { headers: { "X-Spot-Api-Key": "acct_alpha" } });
    expect(res.status).toBe(401);
    expect(errorOf(body).code).toBe("api_key_not_accepted");
  });

  it("a read-only token (no keys:write) may search", async () => {
    const token = await adminToken({ claims: { permissions: ["keys:read"] } });
    const { res, page } = await search({ key_id: "key_b1" }, token);
    expect(res.status).toBe(200);
    expect(ids(page.events)).toEqual(["e06", "e05"]);
  });

  it("D1 unreadable → 503 admin_unavailable with Retry-After, never a 500", async () => {
    const failing = {
      prepare: () => {
        throw new Error("D1_ERROR: database unavailable");
      },
    } as unknown as D1Database;
    const { res, body, adminEvents } = await adminCall("GET", "/audit/events?account_id=acct_alpha", {
      call: { bindings: { AUDIT_DB: failing } },
    });
    expect(res.status).toBe(503);
    expect(errorOf(body).code).toBe("admin_unavailable");
    expect(res.headers.get("retry-after")).toBe("5");
    expect(adminEvents[0]).toMatchObject({ action: "audit.search", outcome: "error", status: 503 });
  });
});

describe("each query is an admin action", () => {
  it("a search emits audit.search with the actor, account, key and the canonical parameters (never the cursor)", async () => {
    const first = await search({ key_id: "key_a1", account_id: "acct_alpha", limit: 1 });
    const { adminEvents } = await search({
      outcome: "allowed",
      account_id: "acct_alpha",
      key_id: "key_a1",
      connecting_ip: "::ffff:198.51.100.1",
      limit: 1,
      cursor: first.page.next_cursor as string,
    });
    expect(adminEvents).toHaveLength(1);
    expect(adminEvents[0]).toMatchObject({
      kind: "admin",
      action: "audit.search",
      outcome: "allowed",
      reason: "ok",
      status: 200,
      actor_sub: "ops@spot-thought.test",
      account_id: "acct_alpha",
      key_id: "key_a1",
      method: "GET",
      path: "/__spot/admin/v1/audit/events",
      query: "account_id=acct_alpha&key_id=key_a1&connecting_ip=198.51.100.1&outcome=allowed&limit=1",
    });
  });

  it("a lookup by request id emits audit.get naming the account and key whose event was read", async () => {
    const { adminEvents } = await adminCall("GET", "/audit/requests/req-e06");
    expect(adminEvents[0]).toMatchObject({
      action: "audit.get",
      outcome: "allowed",
      account_id: "acct_beta",
      key_id: "key_b1",
      query: "request_id=req-e06",
      path: "/__spot/admin/v1/audit/requests/req-e06",
    });
  });

  it("other admin actions carry query: null", async () => {
    const { adminEvents } = await adminCall("GET", "/accounts/acct_nobody/keys");
    expect(adminEvents[0]).toMatchObject({ action: "key.list", query: null });
  });
});

describe("GET /audit/admin-events", () => {
  const admins: AdminAuditEvent[] = [];

  beforeAll(async () => {
    // Real admin events of real admin requests, stored through the consumer.
    const actors = ["alice@spot-thought.test", "bob@spot-thought.test"];
    for (const [i, sub] of [actors[0], actors[1], actors[0], actors[0], actors[1]].entries()) {
      const token = await adminToken({ sub });
      const account = i % 2 === 0 ? "acct_adm1" : "acct_adm2";
      const created = await adminCall("POST", `/accounts/${account}/keys`, { token, body: { label: `n${i}` } });
      admins.push(...created.adminEvents);
      const listed = await adminCall("GET", `/audit/events?account_id=${account}`, { token });
      admins.push(...listed.adminEvents);
    }
    await consume(admins, "admin-seed");
  });

  type AdminPage = { events: AdminAuditEvent[]; next_cursor: string | null };
  const newest = (events: AdminAuditEvent[]) =>
    [...events].sort((a, b) => Date.parse(b.time) - Date.parse(a.time) || (a.event_id < b.event_id ? 1 : -1));

  it.each([
    ["actor", { actor: "bob@spot-thought.test" }, (e: AdminAuditEvent) => e.actor_sub === "bob@spot-thought.test"],
    ["account_id", { account_id: "acct_adm1" }, (e: AdminAuditEvent) => e.account_id === "acct_adm1"],
    ["action", { action: "audit.search" }, (e: AdminAuditEvent) => e.action === "audit.search"],
    [
      "actor + action + account_id",
      { actor: "alice@spot-thought.test", action: "key.create", account_id: "acct_adm1" },
      (e: AdminAuditEvent) => e.actor_sub === "alice@spot-thought.test" && e.action === "key.create" && e.account_id === "acct_adm1",
    ],
  ])("by %s, newest first, exactly the stored admin events", async (_name, params, match) => {
    const { res, body } = await adminCall("GET", `/audit/admin-events?${new URLSearchParams(params)}`);
    expect(res.status).toBe(200);
    const page = body as AdminPage;
    const expected = newest(admins.filter(match));
    expect(expected.length).toBeGreaterThan(0);
    expect(page.events).toStrictEqual(expected);
  });

  it("by key_id, and the stored search parameters come back in `query`", async () => {
    const created = admins.find((e) => e.action === "key.create" && e.account_id === "acct_adm2") as AdminAuditEvent;
    const byKey = await adminCall("GET", `/audit/admin-events?key_id=${created.key_id}`);
    expect((byKey.body as AdminPage).events).toStrictEqual([created]);
    const searches = await adminCall("GET", "/audit/admin-events?action=audit.search&account_id=acct_adm2");
    const found = (searches.body as AdminPage).events;
    expect(found.length).toBe(2);
    expect(found.every((e) => e.query === "account_id=acct_adm2&limit=50")).toBe(true);
  });

  it("pages with a cursor of its own kind; a request-event cursor is refused", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const { body }: { body: unknown } = await adminCall("GET", `/audit/admin-events?limit=3${cursor ? `&cursor=${cursor}` : ""}`);
      const page = body as AdminPage;
      seen.push(...ids(page.events));
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(seen).toEqual(ids(newest(admins)));
    const wrong = await adminCall("GET", `/audit/admin-events?cursor=${encodeCursor("r", { timeMs: T0, eventId: "e01" })}`);
    expect(wrong.res.status).toBe(400);
    expect(errorOf(wrong.body).param).toBe("query.cursor");
  });

  it("emits audit.admin_search; bad parameters → 400 naming them", async () => {
    const { adminEvents } = await adminCall("GET", "/audit/admin-events?actor=alice%40spot-thought.test&limit=5");
    expect(adminEvents[0]).toMatchObject({
      action: "audit.admin_search",
      outcome: "allowed",
      query: "actor=alice%40spot-thought.test&limit=5",
    });
    for (const [qs, param] of [
      ["action=key.delete", "query.action"],
      ["actor=", "query.actor"],
      ["since=today", "query.since"],
      ["outcome=denied", "query.outcome"],
    ]) {
      const { res, body } = await adminCall("GET", `/audit/admin-events?${qs}`);
      expect(res.status, qs).toBe(400);
      expect(errorOf(body).param, qs).toBe(param);
    }
  });
});

// ---------------------------------------------------------------------------------------------

type PlanRow = { detail: string };

async function plan(sql: string, params: (string | number)[]): Promise<string[]> {
  const { results } = await env.AUDIT_DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .bind(...params)
    .all<PlanRow>();
  return results.map((r) => r.detail);
}

/** Every subset of a list. */
function subsets<T>(items: readonly T[]): T[][] {
  return Array.from({ length: 1 << items.length }, (_, mask) => items.filter((_, i) => mask & (1 << i)));
}

describe("EXPLAIN QUERY PLAN: every supported filter combination reads an index", () => {
  const cursor = { timeMs: T0, eventId: "e01" };

  it("request events: 5 indexed filters × (none, outcome, would_refuse any, both with one code) × since × until × cursor (1024 combinations)", async () => {
    const values = { requestId: "r", keyId: "key_x", accountId: "acct_x", connectingIp: "192.0.2.1", sourceIp: "192.0.2.2" } as const;
    // The filters tested row by row: outcome and would_refuse, alone and together (not every pair: the suite's time).
    const rowByRow: Pick<AuditSearchFilters, "outcome" | "wouldRefuse">[] = [
      {},
      { outcome: "denied" },
      { wouldRefuse: WOULD_REFUSE_ANY },
      { outcome: "allowed", wouldRefuse: "rate_limited" },
    ];
    let checked = 0;
    for (const keyed of subsets(AUDIT_EVENT_INDEXES)) {
      for (const row of rowByRow) {
        for (const [since, until, after] of subsets(["since", "until", "after"]).map((s) => [
          s.includes("since"),
          s.includes("until"),
          s.includes("after"),
        ])) {
          const filters: AuditSearchFilters = { limit: 50, ...row };
          for (const k of keyed) Object.assign(filters, { [k.filter]: values[k.filter as keyof typeof values] });
          if (since) filters.sinceMs = T0 - HOUR;
          if (until) filters.untilMs = T0 + HOUR;
          if (after) filters.after = cursor;
          const q = buildAuditSearch(filters);
          // Without an indexed filter, a would-refuse search reads the partial index of marked rows.
          const timeIndex = row.wouldRefuse === undefined ? AUDIT_EVENT_TIME_INDEX : AUDIT_EVENT_WOULD_REFUSE_INDEX;
          const expected = keyed[0]?.index ?? timeIndex;
          expect(q.index).toBe(expected);
          const detail = await plan(q.sql, q.params);
          const label = `${JSON.stringify(filters)} → ${JSON.stringify(detail)}`;
          // The table is read only through the chosen index, never scanned on its own.
          const reads = detail.filter((d) => /audit_events/.test(d));
          expect(reads, label).toHaveLength(1);
          const bounded = since || until || after;
          if (keyed[0]?.index === "audit_events_request") {
            expect(reads[0], label).toBe("SEARCH audit_events USING INDEX audit_events_request (request_id=?)");
            expect(detail, label).toContain("USE TEMP B-TREE FOR ORDER BY");
          } else if (keyed[0]) {
            // (column, time_ms DESC): equality on the column and, when bounded, the time range inside the index.
            const column = keyed[0].column;
            const range =
              since && (until || after) ? " AND time_ms>? AND time_ms<?" : since ? " AND time_ms>?" : bounded ? " AND time_ms<?" : "";
            expect(reads[0], label).toBe(`SEARCH audit_events USING INDEX ${keyed[0].index} (${column}=?${range})`);
            // Index order gives time_ms; only rows of one millisecond are sorted by event id.
            expect(detail, label).toContain("USE TEMP B-TREE FOR LAST TERM OF ORDER BY");
          } else {
            const range = since && (until || after) ? " (time_ms>? AND time_ms<?)" : since ? " (time_ms>?)" : bounded ? " (time_ms<?)" : "";
            expect(reads[0], label).toBe(
              bounded ? `SEARCH audit_events USING INDEX ${timeIndex}${range}` : `SCAN audit_events USING INDEX ${timeIndex}`,
            );
            expect(detail, label).toContain("USE TEMP B-TREE FOR LAST TERM OF ORDER BY");
          }
          checked++;
        }
      }
    }
    expect(checked).toBe(1024);
  });

  it("admin events: 3 indexed filters × action × since × until × cursor (128 combinations)", async () => {
    const values = { keyId: "key_x", accountId: "acct_x", actor: "someone" } as const;
    let checked = 0;
    for (const keyed of subsets(ADMIN_EVENT_INDEXES)) {
      for (const flags of subsets(["action", "since", "until", "after"])) {
        const filters: AdminSearchFilters = { limit: 50 };
        for (const k of keyed) Object.assign(filters, { [k.filter]: values[k.filter as keyof typeof values] });
        if (flags.includes("action")) filters.action = "key.create";
        if (flags.includes("since")) filters.sinceMs = T0 - HOUR;
        if (flags.includes("until")) filters.untilMs = T0 + HOUR;
        if (flags.includes("after")) filters.after = cursor;
        const q = buildAdminSearch(filters);
        const index = keyed[0]?.index ?? ADMIN_EVENT_TIME_INDEX;
        const detail = await plan(q.sql, q.params);
        const label = `${JSON.stringify(filters)} → ${JSON.stringify(detail)}`;
        const reads = detail.filter((d) => /admin_audit_events/.test(d));
        expect(reads, label).toHaveLength(1);
        const bounded = flags.some((f) => f !== "action");
        expect(reads[0], label).toMatch(
          keyed[0]
            ? new RegExp(`^SEARCH admin_audit_events USING INDEX ${index} \\(${keyed[0].column}=\\?`)
            : bounded
              ? new RegExp(`^SEARCH admin_audit_events USING INDEX ${index} \\(time_ms`)
              : new RegExp(`^SCAN admin_audit_events USING INDEX ${index}$`),
        );
        expect(detail, label).toContain("USE TEMP B-TREE FOR LAST TERM OF ORDER BY");
        checked++;
      }
    }
    expect(checked).toBe(128);
  });
});
