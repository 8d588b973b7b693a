/** The audit screen: find by request id, search with paging; each through the admin API (its admin event). */
import { createMessageBatch } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { AUDIT_QUEUE_NAME, consumeAuditBatch } from "../../src/audit/consumer";
import { buildAuditEvent } from "../../src/audit/event";
import { adminCall } from "../helpers/admin";
import { sampleAuditInput } from "../helpers/audit";
import { consoleGet } from "../helpers/console";

const T0 = Date.now() - 3_600_000;

beforeAll(async () => {
  const events = Array.from({ length: 3 }, (_, i) =>
    buildAuditEvent(
      sampleAuditInput({
        eventId: `evt-console-${i}`,
        requestId: `req-console-${i}`,
        timeMs: T0 + i * 1000,
        accountId: "acct_audit",
        keyId: "key_audit1",
        userAgent: i === 2 ? "<script>alert(1)</script>" : "curl/8.5.0",
      }),
    ),
  );
  // Report-only mode: a request enforcement would have refused, forwarded anyway.
  events.push(
    buildAuditEvent(
      sampleAuditInput({
        eventId: "evt-console-marked",
        requestId: "req-console-marked",
        timeMs: T0 + 500,
        accountId: "acct_report",
        keyId: "key_report1",
        wouldRefuse: "ip_not_allowed",
      }),
    ),
  );
  const batch = createMessageBatch<unknown>(AUDIT_QUEUE_NAME, [{ id: "seed", timestamp: new Date(), attempts: 1, body: { v: 1, events } }]);
  await consumeAuditBatch(batch, env);
});

describe("audit screen", () => {
  it("shows the forms, and searches nothing until asked", async () => {
    const { res, html, adminEvents } = await consoleGet("/audit");
    expect(res.status).toBe(200);
    expect(html).toContain('data-testid="audit-find-form"');
    expect(html).toContain('data-testid="audit-search-form"');
    expect(html).not.toContain('data-testid="audit-event"');
    expect(adminEvents).toEqual([]);
  });

  it("finds one event by request id, with where its source IP came from", async () => {
    const { res, html, adminEvents } = await consoleGet("/audit?request_id=req-console-1");
    expect(res.status).toBe(200);
    expect(html.match(/data-testid="audit-event"/g)).toHaveLength(1);
    expect(html).toContain('data-request-id="req-console-1"');
    expect(html).toContain("203.0.113.9");
    expect(html).toContain("asserted by X-Forwarded-For");
    expect(html).toContain("198.51.100.23");
    for (const field of ["curl/8.5.0", "DE", "FRA", "2024-11-15", "https://v2024-11-15.origin.test", "status 200", "allowed"])
      expect(html).toContain(field);
    expect(adminEvents[0]).toMatchObject({ action: "audit.get", outcome: "allowed" });
    const missing = await consoleGet("/audit?request_id=req-nothing");
    expect(missing.res.status).toBe(404);
    expect(missing.html).toContain("audit_event_not_found");
  });

  it("searches newest first and pages with the API's cursor; values escaped", async () => {
    const direct = await adminCall("GET", "/audit/events?account_id=acct_audit&limit=2");
    expect((direct.body as { next_cursor: string | null }).next_cursor).not.toBeNull();
    const first = await consoleGet("/audit?account_id=acct_audit&key_id=&connecting_ip=&source_ip=&outcome=&since=&until=");
    expect(first.res.status).toBe(200);
    const ids = [...first.html.matchAll(/data-request-id="([^"]+)"/g)].map((m) => m[1]);
    expect(ids).toEqual(["req-console-2", "req-console-1", "req-console-0"]);
    expect(first.html).not.toContain("<script>alert(1)");
    expect(first.html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(first.adminEvents[0]).toMatchObject({ action: "audit.search", account_id: "acct_audit" });
    expect(first.html).not.toContain("audit-next-page");
    // A page size the console does not set: follow the API's cursor through the console's link.
    const since = new Date(T0 - 60_000).toISOString().slice(0, 19);
    const paged = await consoleGet(
      `/audit?account_id=acct_audit&since=${since}&cursor=${encodeURIComponent((direct.body as { next_cursor: string }).next_cursor)}`,
    );
    expect(paged.res.status).toBe(200);
    expect([...paged.html.matchAll(/data-request-id="([^"]+)"/g)].map((m) => m[1])).toEqual(["req-console-0"]);
  });

  it("filters by would refuse (report-only mode) and marks the events that have it", async () => {
    const blank = await consoleGet("/audit");
    expect(blank.html).toContain('<select name="would_refuse" id="would_refuse">');
    expect(blank.html).toContain('<option value="any">any code</option>');
    expect(blank.html).toContain('<option value="rate_limited">rate_limited</option>');
    const since = new Date(T0 - 60_000).toISOString().slice(0, 19);
    const { res, html, adminEvents } = await consoleGet(
      `/audit?account_id=&key_id=&connecting_ip=&source_ip=&outcome=&would_refuse=any&since=${since}&until=`,
    );
    expect(res.status).toBe(200);
    expect([...html.matchAll(/data-request-id="([^"]+)"/g)].map((m) => m[1])).toEqual(["req-console-marked"]);
    expect(html).toContain('data-would-refuse="ip_not_allowed"');
    expect(html).toMatch(/data-testid="audit-would-refuse"><code>ip_not_allowed<\/code>/);
    expect(html).toContain('<option value="any" selected="">any code</option>');
    expect(adminEvents[0]).toMatchObject({ action: "audit.search", query: expect.stringContaining("would_refuse=any") });
    // One code; and the events without a mark show none.
    const code = await consoleGet("/audit?account_id=acct_audit&would_refuse=rate_limited");
    expect(code.html).not.toContain('data-testid="audit-event"');
    const unmarked = await consoleGet("/audit?account_id=acct_audit");
    expect(unmarked.html).not.toContain("audit-would-refuse");
    // Like outcome: without an account, key or address it needs a bounded time range.
    const unbounded = await consoleGet("/audit?would_refuse=any");
    expect(unbounded.res.status).toBe(400);
    expect(unbounded.html).toContain("query.since");
  });

  it("maps a bad search parameter to the page, status kept", async () => {
    const { res, html } = await consoleGet("/audit?connecting_ip=not-an-ip");
    expect(res.status).toBe(400);
    expect(html).toContain("query.connecting_ip");
  });
});
