/**
 * Audit events of concurrent requests are coalesced into one queue message, each request's
 * waitUntil holding the flush that carries its event (issue: audit trail that loses nothing).
 * Requests go through `exports.default.fetch`: separate request contexts, as in production.
 */
import { env, exports } from "cloudflare:workers";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { AnyAuditEvent } from "../../src/audit/producer";
import { clearKeyCache } from "../../src/keys/store";
import { messageEvents } from "../helpers/audit";
import { API, authHeaders, putKey, SECRET } from "../helpers/fixtures";
import { type OriginStub, stubOrigins } from "../helpers/origin";

let origin: OriginStub;
beforeEach(async () => {
  clearKeyCache();
  await putKey(SECRET);
  origin = stubOrigins();
});
afterEach(() => {
  origin.restore();
  vi.restoreAllMocks();
});

it("20 concurrent requests produce far fewer than 20 queue messages, and every event is in one", async () => {
  const sent: { events: AnyAuditEvent[] }[] = [];
  const real = env.AUDIT_QUEUE.send.bind(env.AUDIT_QUEUE);
  vi.spyOn(env.AUDIT_QUEUE, "send").mockImplementation(async (body, options) => {
    sent.push({ events: messageEvents(body) });
    return real(body, options);
  });
  const responses = await Promise.all(
    Array.from({ length: 20 }, (_, i) => exports.default.fetch(`${API}/v1/charges/${i}`, { headers: authHeaders() })),
  );
  const ids = responses.map((r) => r.headers.get("x-request-id"));
  for (const r of responses) expect(r.status).toBe(200);
  await Promise.all(responses.map((r) => r.text()));
  await vi.waitFor(() => expect(sent.flatMap((m) => m.events)).toHaveLength(20), { timeout: 2000 });
  // One batch window (AUDIT_BATCH_DELAY_MS, 5 ms in tests) usually carries all 20; on a loaded machine they spread over
  // a few windows. Half of one message per request is still coalescing; `npm run bench` measures the rate.
  expect(sent.length).toBeLessThan(10);
  expect(new Set(sent.flatMap((m) => m.events.map((e) => e.request_id)))).toEqual(new Set(ids));
});
