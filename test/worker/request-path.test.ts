/**
 * The request path end to end through the Worker's fetch handler: credentials, versions, errors,
 * proxying and the audit event of each answer.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { generateSecret } from "../../src/keys/secret";
import { clearKeyCache } from "../../src/keys/store";
import { uuidv7Time } from "../../src/request-id";
import { ACCOUNT, authHeaders, KEY_ID, keyRecord, putKey, SECRET, TEST_SECRET } from "../helpers/fixtures";
import { type OriginStub, stubOrigins } from "../helpers/origin";
import { call } from "../helpers/worker";

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

type ErrorEnvelope = { error: { type: string; code: string; message: string; request_id: string } };
const errorOf = (body: unknown) => (body as ErrorEnvelope).error;

describe("allowed requests", () => {
  it("forwards with identity headers, without the secret, and records an allowed event", async () => {
    const { res, body, events } = await call("/v1/charges?limit=2", {
      headers: authHeaders({ "User-Agent": "curl/8.5", "Accept-Encoding": "gzip, br" }),
    });
    expect(res.status).toBe(200);
    expect(body).toEqual({ origin: "v2024-11-15.origin.test", path: "/v1/charges" });
    const requestId = res.headers.get("x-request-id");
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);

    const got = origin.received[0];
    expect(got?.url.search).toBe("?limit=2");
    expect(got?.redirect).toBe("manual");
    expect(got?.headers.has("x-spot-api-secret")).toBe(false);
    expect(got?.headers.has("x-spot-api-key")).toBe(false);
    expect(got?.headers.get("x-spot-account-id")).toBe(ACCOUNT);
    expect(got?.headers.get("x-spot-key-id")).toBe(KEY_ID);
    expect(got?.headers.get("x-spot-key-mode")).toBe("live");
    expect(got?.headers.get("x-request-id")).toBe(requestId);
    expect(got?.headers.get("x-forwarded-proto")).toBe("https");
    // The runtime asks the origin for the encodings it decodes itself; the client's own list is not passed on.
    expect(got?.headers.has("accept-encoding")).toBe(false);

    expect(events).toHaveLength(1);
    const event = events[0];
    expect(event).toMatchObject({
      outcome: "allowed",
      reason: "ok",
      request_id: requestId,
      account_id: ACCOUNT,
      account_verified: true,
      key_id: KEY_ID,
      resolved_version: "2024-11-15",
      requested_version: null,
      method: "GET",
      path: "/v1/charges",
      status: 200,
      user_agent: "curl/8.5",
    });
    expect(JSON.stringify(events)).not.toContain(SECRET);
    expect(JSON.stringify(events)).not.toContain("limit=2");
  });

  it("the request id is a UUIDv7 whose time is the event's time (the arrival), so the id tells its archive hour", async () => {
    const before = Date.now();
    const { res, events } = await call("/v1/charges", { headers: authHeaders() });
    const requestId = res.headers.get("x-request-id") as string;
    expect(requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const idTime = uuidv7Time(requestId) as number;
    expect(idTime).toBeGreaterThanOrEqual(before);
    // Made in the same millisecond as the event's `time` (no I/O between them), within the lookup's tolerance anyway.
    expect(Math.abs(Date.parse(events[0]?.time as string) - idTime)).toBeLessThanOrEqual(1);
    // A client-sent X-Request-Id is never taken over.
    const sent = await call("/v1/charges", { headers: authHeaders({ "X-Request-Id": "017f22e2-79b0-7cc3-98c4-dc0c0c07398f" }) });
    expect(sent.res.headers.get("x-request-id")).not.toBe("017f22e2-79b0-7cc3-98c4-dc0c0c07398f");
  });

  it("records the ray id from CF-Ray, and country and colo from request.cf, never from client headers", async () => {
    const { events } = await call("/v1/charges", {
      headers: authHeaders({ "CF-Ray": "8f3a1c2b4d5e6f70-FRA", "CF-IPCountry": "US" }),
      cf: { country: "DE", colo: "FRA" },
    } as RequestInit);
    expect(events[0]).toMatchObject({ ray_id: "8f3a1c2b4d5e6f70-FRA", colo: "FRA", country: "DE" });

    const { events: bare } = await call("/v1/charges", { headers: authHeaders({ "CF-IPCountry": "US" }) });
    expect(bare[0]).toMatchObject({ ray_id: null });
    expect(bare[0]?.country).not.toBe("US");
  });

  it("passes the origin's answer through, redirects included, without following them", async () => {
    origin.restore();
    origin = stubOrigins(() => new Response(null, { status: 302, headers: { Location: "https://elsewhere.example/" } }));
    const { res } = await call("/v1/charges", { headers: authHeaders() });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://elsewhere.example/");
    // The runtime follows redirects unless told not to: the upstream fetch must say "manual".
    expect(origin.received[0]?.redirect).toBe("manual");
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });

  it.each([
    ["GET", "/graphql?query=%7Bme%7Bid%7D%7D", undefined],
    ["POST", "/graphql", '{"query":"{ me { id } }"}'],
    ["PUT", "/v1/customers/cus_1", '{"name":"A"}'],
    ["PATCH", "/v1/customers/cus_1", '{"name":"B"}'],
    ["DELETE", "/v1/customers/cus_1", undefined],
    ["OPTIONS", "/v1/charges", undefined],
  ])("%s %s is authorized and forwarded like any other call", async (method, path, body) => {
    const { res } = await call(path, { method, headers: authHeaders({ "Content-Type": "application/json" }), body });
    expect(res.status).toBe(200);
    expect(origin.received[0]?.method).toBe(method);
    const url = origin.received[0]?.url;
    expect(`${url?.pathname}${url?.search}`).toBe(path);
    expect(origin.received[0]?.body).toBe(body ?? "");
  });

  it("the same request without credentials is refused before the origin, GraphQL included", async () => {
    const { res, body } = await call("/graphql", { method: "POST", body: '{"query":"{ me { id } }"}' });
    expect(res.status).toBe(401);
    expect(errorOf(body).code).toBe("missing_api_key");
    expect(origin.received).toHaveLength(0);
  });

  it("passes a WebSocket upgrade through with its Upgrade header and the socket", async () => {
    origin.restore();
    origin = stubOrigins(() => {
      const pair = new WebSocketPair();
      pair[1].accept();
      return new Response(null, { status: 101, webSocket: pair[0] });
    });
    const { res } = await call("/v1/stream", { headers: authHeaders({ Upgrade: "websocket", Connection: "Upgrade" }) });
    expect(res.status).toBe(101);
    expect(res.webSocket).not.toBeNull();
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(origin.received[0]?.headers.get("upgrade")).toBe("websocket");
    expect(origin.received[0]?.headers.has("x-spot-api-secret")).toBe(false);
    expect(origin.received[0]?.redirect).toBe("manual");
    res.webSocket?.accept();
    res.webSocket?.close();
  });

  it("Upgrade: websocket on a POST is an ordinary request: body kept, Upgrade dropped, no redirect following", async () => {
    const { res } = await call("/v1/charges", {
      method: "POST",
      headers: authHeaders({ Upgrade: "websocket", "Content-Type": "application/json" }),
      body: '{"amount":100}',
    });
    expect(res.status).toBe(200);
    const got = origin.received[0];
    expect(got?.method).toBe("POST");
    expect(got?.body).toBe('{"amount":100}');
    expect(got?.redirect).toBe("manual");
    expect(got?.headers.has("upgrade")).toBe(false);
  });

  it("a test-mode secret works for a test-mode key", async () => {
    await putKey(TEST_SECRET, keyRecord({ key_id: "key_test1", mode: "test" }));
    const { res } = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Secret": TEST_SECRET }) });
    expect(res.status).toBe(200);
    expect(origin.received[0]?.headers.get("x-spot-key-mode")).toBe("test");
  });
});

describe("refused credentials", () => {
  it.each([
    ["missing key", { "X-Spot-Api-Key": "" }, 401, "missing_api_key"],
    ["malformed key", { "X-Spot-Api-Key": "account_123" }, 400, "malformed_api_key"],
    ["key too long", { "X-Spot-Api-Key": `acct_${"a".repeat(65)}` }, 400, "malformed_api_key"],
    ["missing secret", { "X-Spot-Api-Secret": "" }, 401, "missing_api_secret"],
    ["secret with another prefix", { "X-Spot-Api-Secret": "pk_live_abcd1234" }, 400, "malformed_api_secret"],
    ["secret too long", { "X-Spot-Api-Secret": `sk_live_${"a".repeat(129)}` }, 400, "malformed_api_secret"],
  ])("%s → %i %s, no KV read, no upstream call", async (_name, override, status, code) => {
    const headers = new Headers(authHeaders());
    for (const [name, value] of Object.entries(override)) {
      if (value === "") headers.delete(name);
      else headers.set(name, value);
    }
    const { res, body, kvReads, events } = await call("/v1/charges", { headers });
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(errorOf(body)).toMatchObject({ code, type: status === 401 ? "authentication_error" : "invalid_request_error" });
    expect(errorOf(body).request_id).toBe(res.headers.get("x-request-id"));
    expect(res.headers.has("www-authenticate")).toBe(status === 401);
    expect(kvReads).toEqual([]);
    expect(origin.received).toHaveLength(0);
    expect(events[0]).toMatchObject({ outcome: "denied", reason: code, status, account_verified: false, key_id: null });
    // The account id is recorded (unverified) whenever the key header itself was well-formed.
    expect(events[0]?.account_id).toBe(headers.get("X-Spot-Api-Key") === ACCOUNT ? ACCOUNT : null);
  });

  it.each([
    ["revoked", keyRecord({ status: "revoked" })],
    ["expired", keyRecord({ expires_at: "2020-01-01T00:00:00.000Z" })],
    ["another account", keyRecord({ account_id: "acct_other" })],
    ["test-mode record for a live secret", keyRecord({ mode: "test" })],
  ])("a key that is %s → 401 invalid_credentials", async (_name, record) => {
    await putKey(SECRET, record);
    const { res, body, events } = await call("/v1/charges", { headers: authHeaders() });
    expect(res.status).toBe(401);
    expect(errorOf(body).code).toBe("invalid_credentials");
    expect(errorOf(body).message).toBe("The API key and secret do not match an active key.");
    expect(origin.received).toHaveLength(0);
    expect(events[0]).toMatchObject({ outcome: "denied", reason: "invalid_credentials", account_verified: false, key_id: null });
  });

  it("a checksummed secret whose checksum fails → 401 invalid_credentials without hashing or a KV read", async () => {
    const good = generateSecret("live");
    await putKey(good);
    const bad = `${good.slice(0, 10)}${good[10] === "a" ? "b" : "a"}${good.slice(11)}`;
    const { res, body, kvReads, events } = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Secret": bad }) });
    expect(res.status).toBe(401);
    expect(errorOf(body)).toMatchObject({ code: "invalid_credentials", message: "The API key and secret do not match an active key." });
    expect(kvReads).toEqual([]);
    expect(origin.received).toHaveLength(0);
    expect(events[0]).toMatchObject({ outcome: "denied", reason: "invalid_credentials" });
    // The same secret with its checksum intact is looked up and works.
    const ok = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Secret": good }) });
    expect(ok.res.status).toBe(200);
    expect(ok.kvReads).toHaveLength(1);
  });

  it("a legacy secret (any other length) is looked up without a checksum", async () => {
    await putKey("sk_live_abcd");
    const { res, kvReads } = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Secret": "sk_live_abcd" }) });
    expect(res.status).toBe(200);
    expect(kvReads).toHaveLength(1);
  });

  it("a key that expires in the future still works", async () => {
    await putKey(SECRET, keyRecord({ expires_at: "2999-01-01T00:00:00.000Z" }));
    const { res } = await call("/v1/charges", { headers: authHeaders() });
    expect(res.status).toBe(200);
  });
});

describe("fail closed", () => {
  it("KV throwing → 503 authorizer_unavailable, nothing forwarded", async () => {
    const failingKv = { get: async () => Promise.reject(new Error("KV down")) } as unknown as KVNamespace;
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const { res, body, events } = await call("/v1/charges", { headers: authHeaders() }, { bindings: { KEYS: failingKv } });
    expect(res.status).toBe(503);
    expect(errorOf(body)).toMatchObject({ type: "api_error", code: "authorizer_unavailable" });
    expect(res.headers.get("retry-after")).toBe("5");
    expect(origin.received).toHaveLength(0);
    expect(events[0]).toMatchObject({ outcome: "error", reason: "authorizer_unavailable", status: 503 });
    const lines = errors.mock.calls.map((args) => String(args[0]));
    expect(lines.some((line) => line.includes("key_lookup_failed") && line.includes(errorOf(body).request_id))).toBe(true);
  });

  it("a KV value that is not a valid record → 503, never allowed", async () => {
    await putKey(SECRET, '{"v":1,"account_id":"acct_123"}');
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { res, body } = await call("/v1/charges", { headers: authHeaders() });
    expect(res.status).toBe(503);
    expect(errorOf(body).code).toBe("authorizer_unavailable");
    expect(origin.received).toHaveLength(0);
  });

  it.each([
    ["no hash key", { SECRET_HASH_KEY: "" }],
    ["a hash key too short", { SECRET_HASH_KEY: "c2hvcnQ=" }],
    ["a version table that is not JSON", { API_VERSIONS: "[{" }],
    [
      "a version table without a stable version",
      { API_VERSIONS: '[{"version":"2025-03-01","status":"preview","origin":"https://p.example"}]' },
    ],
  ])("%s → 503 authorizer_unavailable", async (_name, bindings) => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { res, body } = await call("/v1/charges", { headers: authHeaders() }, { bindings: bindings as Partial<Env> });
    expect(res.status).toBe(503);
    expect(errorOf(body).code).toBe("authorizer_unavailable");
    expect(origin.received).toHaveLength(0);
  });
});

describe("isolate cache in front of KV", () => {
  it("a second request with the same secret reads KV no more", async () => {
    const first = await call("/v1/charges", { headers: authHeaders() });
    const second = await call("/v1/charges", { headers: authHeaders() });
    expect(first.kvReads).toHaveLength(1);
    expect(first.kvReads[0]).toMatch(/^secret:[0-9a-f]{64}$/);
    expect(second.kvReads).toHaveLength(0);
    expect(second.res.status).toBe(200);
  });

  it("serves a revoked key from the cache until its TTL ends, then refuses it (stale-read bound)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(new Date("2026-06-01T00:00:00Z"));
      expect((await call("/v1/charges", { headers: authHeaders() })).res.status).toBe(200);
      await putKey(SECRET, keyRecord({ status: "revoked" }));
      vi.setSystemTime(new Date("2026-06-01T00:00:29Z"));
      expect((await call("/v1/charges", { headers: authHeaders() })).res.status).toBe(200);
      vi.setSystemTime(new Date("2026-06-01T00:00:31Z"));
      const after = await call("/v1/charges", { headers: authHeaders() });
      expect(after.res.status).toBe(401);
      expect(after.kvReads).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a miss is cached briefly: a key created meanwhile gets 401 (never 500), then works", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(new Date("2026-06-01T00:00:00Z"));
      const other = "sk_live_NotYetCreated0000000000000001";
      expect((await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Secret": other }) })).res.status).toBe(401);
      await putKey(other);
      const cached = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Secret": other }) });
      expect(cached.res.status).toBe(401);
      expect(cached.kvReads).toHaveLength(0);
      vi.setSystemTime(new Date("2026-06-01T00:00:06Z"));
      expect((await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Secret": other }) })).res.status).toBe(200);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("versions", () => {
  it("the preview is served only when asked for", async () => {
    const { res } = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Version": "2025-03-01" }) });
    expect(res.status).toBe(200);
    expect(origin.received[0]?.url.host).toBe("preview.origin.test");
  });

  it("a deprecated version works and says so with Deprecation and Sunset", async () => {
    const { res } = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Version": "2023-08-01" }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("deprecation")).toBe(`@${Date.UTC(2024, 5, 1) / 1000}`);
    expect(res.headers.get("sunset")).toBe("Thu, 31 Dec 2099 00:00:00 GMT");
    expect(origin.received[0]?.url.host).toBe("v2023-08-01.origin.test");
  });

  it("a version past its sunset is refused", async () => {
    const { res, body } = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Version": "2023-01-01" }) });
    expect(res.status).toBe(400);
    expect(errorOf(body).code).toBe("unsupported_api_version");
    expect(origin.received).toHaveLength(0);
  });

  it("an error after the version resolved still carries X-Spot-Api-Version", async () => {
    const { res } = await call("/v1/charges", {
      headers: authHeaders({ "X-Spot-Api-Version": "2024-06-01", "X-Spot-Api-Secret": "sk_live_wrongwrong" }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("x-spot-api-version")).toBe("2024-06-01");
  });
});

describe("upstream failures", () => {
  it("an origin that cannot be reached → 502 upstream_unavailable", async () => {
    origin.restore();
    origin = stubOrigins(() => {
      throw new TypeError("connection refused");
    });
    const { res, body, events } = await call("/v1/charges", { headers: authHeaders() });
    expect(res.status).toBe(502);
    expect(errorOf(body)).toMatchObject({ type: "upstream_error", code: "upstream_unavailable" });
    expect(events[0]).toMatchObject({ outcome: "error", reason: "upstream_unavailable", account_verified: true });
  });

  it("an origin that does not answer in UPSTREAM_TIMEOUT_MS → 504 upstream_timeout", async () => {
    origin.restore();
    origin = stubOrigins(
      (req) =>
        new Promise<Response>((_resolve, reject) => {
          req.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
        }),
    );
    const { res, body } = await call("/v1/charges", { headers: authHeaders() }, { bindings: { UPSTREAM_TIMEOUT_MS: "150" } });
    expect(res.status).toBe(504);
    expect(errorOf(body).code).toBe("upstream_timeout");
  });

  it("UPSTREAM_TIMEOUT_MS bounds the wait for the response headers only: a body may stream for longer", async () => {
    origin.restore();
    origin = stubOrigins(() => {
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(encoder.encode("first,"));
          await new Promise((resolve) => setTimeout(resolve, 400));
          controller.enqueue(encoder.encode("second"));
          controller.close();
        },
      });
      return new Response(body, { headers: { "Content-Type": "text/plain" } });
    });
    const { res, body } = await call("/v1/export", { headers: authHeaders() }, { bindings: { UPSTREAM_TIMEOUT_MS: "150" } });
    expect(res.status).toBe(200);
    expect(body).toBe("first,second");
  });

  it("the origin's own 500 is passed through as the origin's answer", async () => {
    origin.restore();
    origin = stubOrigins(() => Response.json({ origin_error: true }, { status: 500 }));
    const { res, body } = await call("/v1/charges", { headers: authHeaders() });
    expect(res.status).toBe(500);
    expect(body).toEqual({ origin_error: true });
  });
});

describe("audit never changes the response", () => {
  it("a queue whose send throws: 200 all the same, one log line with the request id", async () => {
    const failingQueue = { send: async () => Promise.reject(new Error("queue down")), sendBatch: async () => {} } as unknown as Queue;
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const { res } = await call("/v1/charges", { headers: authHeaders() }, { bindings: { AUDIT_QUEUE: failingQueue } });
    expect(res.status).toBe(200);
    const lines = errors.mock.calls.map((args) => String(args[0]));
    const line = lines.find((l) => l.includes("audit_send_failed"));
    expect(line).toContain(res.headers.get("x-request-id") ?? "<none>");
    expect(line).not.toContain(SECRET);
  });
});

it("the test bindings are the ones of vitest.config.mts", () => {
  expect(env.SECRET_HASH_KEY_ID).toBe("hk-test");
});
