/**
 * The request and response bodies on their way through the forward step (docs/upstream.md "Request
 * body" and "Response body", docs/audit.md "Delivery"), in workerd with the origin stubbed: when the
 * `UPSTREAM_TIMEOUT_MS` deadline starts, what a broken upload becomes, and how the audit event tells a
 * client that left from an origin that failed. test/runtime/ checks the same over real sockets.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AuditEvent } from "../../src/audit/event";
import worker from "../../src/index";
import { clearKeyCache } from "../../src/keys/store";
import { messageEvents } from "../helpers/audit";
import { API, authHeaders, putKey, SECRET } from "../helpers/fixtures";

type ErrorEnvelope = { error: { code: string; message: string } };

/** What the stubbed origin saw of one request. */
interface Seen {
  method: string;
  headers: Headers;
  /** Body bytes read, and how reading ended: "complete", "aborted" (the fetch's signal) or "errored". */
  bytes: number;
  body: "complete" | "aborted" | "errored" | "none";
}

let seen: Seen[];
beforeEach(async () => {
  clearKeyCache();
  await putKey(SECRET);
  seen = [];
});
afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * Replaces the origin: reads the request body to its end (unless the fetch is aborted first), then
 * answers with `respond` (default: 200 JSON with the byte count).
 */
function stubOrigin(respond?: (seen: Seen, req: Request) => Response | Promise<Response>): void {
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init as RequestInit);
    const got: Seen = { method: req.method, headers: new Headers(req.headers), bytes: 0, body: req.body ? "complete" : "none" };
    seen.push(got);
    if (req.body) {
      const reader = req.body.getReader();
      const aborted = new Promise<"aborted">((resolve) => req.signal.addEventListener("abort", () => resolve("aborted")));
      for (;;) {
        const next = await Promise.race([reader.read(), aborted]).catch(() => "errored" as const);
        if (next === "aborted" || next === "errored") {
          got.body = next;
          throw new DOMException("The operation was aborted.", "AbortError");
        }
        if (next.done) break;
        got.bytes += next.value.byteLength;
      }
    }
    if (req.signal.aborted) throw new DOMException("The operation was aborted.", "AbortError");
    return respond ? respond(got, req) : Response.json({ bytes: got.bytes });
  });
}

/** A client body: `chunks` pieces of `size` bytes, one every `gapMs` milliseconds; errors after `breakAfter` pieces if given. */
function slowBody(chunks: number, size: number, gapMs: number, breakAfter?: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
      if (breakAfter !== undefined && sent === breakAfter) {
        controller.error(new Error("Network connection lost."));
        return;
      }
      if (sent === chunks) {
        controller.close();
        return;
      }
      sent++;
      controller.enqueue(new Uint8Array(size).fill(120));
    },
  });
}

/**
 * Calls the Worker like test/helpers/worker.ts, but hands back the response unread, with the audit
 * events that arrive until `settle` is called (after the body was read or dropped).
 */
async function send(path: string, init: RequestInit, bindings: Partial<Env> = {}) {
  const events: AuditEvent[] = [];
  const queue = {
    send: async (body: unknown) => {
      events.push(...(messageEvents(body) as AuditEvent[]));
    },
    sendBatch: async () => {},
  } as unknown as Queue;
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${API}${path}`, init), { ...env, ...bindings, AUDIT_QUEUE: queue } as Env, ctx);
  return {
    res,
    events,
    settle: async () => {
      await waitOnExecutionContext(ctx);
      return events;
    },
  };
}

const upload = (body: ReadableStream<Uint8Array> | string, headers: Record<string, string> = {}): RequestInit =>
  ({ method: "POST", headers: authHeaders(headers), body, duplex: "half" }) as RequestInit;

describe("request body and UPSTREAM_TIMEOUT_MS", () => {
  it("an upload that streams for longer than UPSTREAM_TIMEOUT_MS reaches the origin whole: the deadline waits for the body", async () => {
    stubOrigin();
    const call = await send("/v1/uploads", upload(slowBody(5, 1000, 100)), { UPSTREAM_TIMEOUT_MS: "150" });
    expect(call.res.status).toBe(200);
    expect(await call.res.json()).toEqual({ bytes: 5000 });
    expect(seen[0]?.body).toBe("complete");
    expect((await call.settle())[0]).toMatchObject({ outcome: "allowed", reason: "ok", status: 200 });
  });

  it("once the body is in, the origin still has UPSTREAM_TIMEOUT_MS for its headers → 504", async () => {
    stubOrigin(
      (_got, req) => new Promise<Response>((_resolve, reject) => req.signal.addEventListener("abort", () => reject(new Error("aborted")))),
    );
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const started = Date.now();
    const call = await send("/v1/uploads", upload(slowBody(3, 100, 100)), { UPSTREAM_TIMEOUT_MS: "150" });
    expect(call.res.status).toBe(504);
    expect(((await call.res.json()) as ErrorEnvelope).error.code).toBe("upstream_timeout");
    // About 200 ms of upload, then the 150 ms deadline.
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(errors.mock.calls.some(([line]) => String(line).includes('"failure":"timeout"'))).toBe(true);
  });

  it("the request's Content-Length reaches the origin unchanged (the runtime sets it from the wire: test/runtime/)", async () => {
    stubOrigin();
    const call = await send("/v1/charges", upload('{"amount":100}', { "Content-Type": "application/json", "Content-Length": "14" }));
    expect(call.res.status).toBe(200);
    expect(seen[0]?.headers.get("content-length")).toBe("14");
    expect(seen[0]?.bytes).toBe(14);
  });

  it("a client body that breaks off → 400 request_body_incomplete, the upload aborted (never ended), audit denied", async () => {
    stubOrigin();
    const call = await send("/v1/uploads", upload(slowBody(10, 1000, 20, 3)));
    expect(call.res.status).toBe(400);
    const body = (await call.res.json()) as ErrorEnvelope;
    expect(body.error.code).toBe("request_body_incomplete");
    expect(seen[0]?.body).toBe("aborted");
    expect(seen[0]?.bytes).toBe(3000);
    expect((await call.settle())[0]).toMatchObject({
      outcome: "denied",
      reason: "request_body_incomplete",
      status: 400,
      account_verified: true,
    });
  });
});

describe("response body: the audit event says how it ended", () => {
  const streamed = (pieces: number, breakAfter?: number) =>
    new Response(slowBody(pieces, 1000, 20, breakAfter), { headers: { "Content-Type": "application/octet-stream" } });

  it("read to its end → ok, recorded after the body (duration to the headers)", async () => {
    stubOrigin(() => streamed(5));
    const call = await send("/v1/export", { headers: authHeaders() });
    expect(call.events).toHaveLength(0);
    expect((await call.res.arrayBuffer()).byteLength).toBe(5000);
    expect((await call.settle())[0]).toMatchObject({ outcome: "allowed", reason: "ok", status: 200 });
  });

  it("the origin's body breaks off → upstream_body_incomplete, outcome error, status as sent", async () => {
    stubOrigin(() => streamed(10, 2));
    const call = await send("/v1/export", { headers: authHeaders() });
    expect(call.res.status).toBe(200);
    await expect(call.res.arrayBuffer()).rejects.toThrow();
    expect((await call.settle())[0]).toMatchObject({ outcome: "error", reason: "upstream_body_incomplete", status: 200 });
  });

  it("the client goes away mid-body (its signal aborts, its reader cancels) → client_disconnected", async () => {
    stubOrigin(() => streamed(50));
    const client = new AbortController();
    const call = await send("/v1/export", { headers: authHeaders(), signal: client.signal });
    const reader = (call.res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    client.abort();
    await reader.cancel("client gone");
    expect((await call.settle())[0]).toMatchObject({ outcome: "allowed", reason: "client_disconnected", status: 200 });
  });

  it("the client left before the origin answered → client_disconnected, whatever the origin said", async () => {
    const client = new AbortController();
    stubOrigin(() => {
      client.abort();
      return Response.json({ ok: true });
    });
    const call = await send("/v1/charges", { headers: authHeaders(), signal: client.signal });
    expect(call.res.status).toBe(200);
    expect((await call.settle())[0]).toMatchObject({ reason: "client_disconnected", status: 200 });
  });

  it("Content-Length is kept on the way down; HEAD and 204 answers (no body to follow) pass as they are", async () => {
    stubOrigin((_got, req) =>
      req.method === "HEAD"
        ? new Response(null, { headers: { "Content-Length": "1234" } })
        : req.url.endsWith("/empty")
          ? new Response(null, { status: 204 })
          : new Response("0123456789", { headers: { "Content-Length": "10" } }),
    );
    const plain = await send("/v1/file", { headers: authHeaders() });
    expect(plain.res.headers.get("content-length")).toBe("10");
    expect(await plain.res.text()).toBe("0123456789");
    expect((await plain.settle())[0]).toMatchObject({ reason: "ok" });
    const head = await send("/v1/file", { method: "HEAD", headers: authHeaders() });
    expect(head.res.status).toBe(200);
    expect(head.res.headers.get("content-length")).toBe("1234");
    expect((await head.settle())[0]).toMatchObject({ reason: "ok", status: 200 });
    const empty = await send("/v1/empty", { method: "DELETE", headers: authHeaders() });
    expect(empty.res.status).toBe(204);
    expect((await empty.settle())[0]).toMatchObject({ reason: "ok", status: 204 });
  });
});

describe("upstream failures are logged with their cause; the client message stays generic", () => {
  it("an origin that fails → 502 upstream_unavailable, one upstream_failed line with the request id and the cause", async () => {
    vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("Parse Error: Duplicate Content-Length"));
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const call = await send("/v1/charges", { headers: authHeaders() });
    expect(call.res.status).toBe(502);
    const body = (await call.res.json()) as ErrorEnvelope;
    expect(body.error.code).toBe("upstream_unavailable");
    expect(body.error.message).not.toContain("Content-Length");
    const requestId = call.res.headers.get("x-request-id") ?? "<none>";
    const lines = errors.mock.calls.map(([line]) => String(line)).filter((line) => line.includes('"upstream_failed"'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      level: "error",
      request_id: requestId,
      origin: "https://v2024-11-15.origin.test",
      failure: "unavailable",
      error: "Parse Error: Duplicate Content-Length",
    });
    expect(lines[0]).not.toContain(SECRET);
  });
});

describe("WebSocket handshakes", () => {
  it("a handshake with a Content-Type (what wrangler dev's proxy leaves of a POST with a body) → 400, nothing forwarded", async () => {
    stubOrigin();
    const call = await send("/v1/stream", {
      headers: authHeaders({ Upgrade: "websocket", Connection: "Upgrade", "Content-Type": "application/json" }),
    });
    expect(call.res.status).toBe(400);
    expect(((await call.res.json()) as ErrorEnvelope).error.code).toBe("invalid_upgrade_request");
    expect(seen).toHaveLength(0);
  });

  it("a handshake that announces a body (a POST some runtime turned into a GET) → 400 invalid_upgrade_request, nothing forwarded", async () => {
    stubOrigin();
    const call = await send("/v1/stream", {
      headers: authHeaders({ Upgrade: "websocket", Connection: "Upgrade", "Content-Length": "14" }),
    });
    expect(call.res.status).toBe(400);
    expect(((await call.res.json()) as ErrorEnvelope).error.code).toBe("invalid_upgrade_request");
    expect(seen).toHaveLength(0);
    expect((await call.settle())[0]).toMatchObject({ outcome: "denied", reason: "invalid_upgrade_request" });
  });
});

describe("which response bodies are followed", () => {
  it("a body the origin declares at most 64 KiB long is passed on as it is and recorded at once (following it costs more than it tells)", async () => {
    stubOrigin(() => new Response("x".repeat(1000), { headers: { "Content-Length": "1000" } }));
    const call = await send("/v1/charges", { headers: authHeaders() });
    // Recorded when the answer went out, before the body was read.
    await vi.waitFor(() => expect(call.events).toHaveLength(1));
    expect(call.events[0]).toMatchObject({ reason: "ok", status: 200 });
    expect(await call.res.text()).toHaveLength(1000);
  });

  it("a longer declared body, or one of unknown length, is followed to its end", async () => {
    stubOrigin(() => new Response("y".repeat(70_000), { headers: { "Content-Length": "70000" } }));
    const call = await send("/v1/export", { headers: authHeaders() });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(call.events).toHaveLength(0);
    expect(call.res.headers.get("content-length")).toBe("70000");
    expect(await call.res.text()).toHaveLength(70_000);
    expect((await call.settle())[0]).toMatchObject({ reason: "ok", status: 200 });
  });
});
