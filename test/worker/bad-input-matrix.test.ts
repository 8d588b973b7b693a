/**
 * The bad-input matrix: one table of requests across every header the authorizer reads, the path,
 * methods, sizes (near and past the edge's limits), encodings and failing dependencies, each row with
 * its exact expected status, error code, whether the origin was called, the audit outcome and, where
 * it matters, the KV reads. Through the Worker's real fetch handler in workerd.
 *
 * Sizes: Cloudflare's edge refuses a request whose headers exceed about 128 KB in total, or whose URL
 * exceeds about 16 KB, before any Worker runs; the rows "past" those limits prove the Worker itself
 * still answers exactly (never a 500) if a larger one ever reaches it.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { checksumOf } from "../../src/keys/secret";
import { clearKeyCache } from "../../src/keys/store";
import { clearFailedAuthLedger } from "../../src/request-path/failed-auth";
import { clearKeyLimitLedger } from "../../src/request-path/key-policy";
import { ACCOUNT, authHeaders, CONNECTING_IP, keyRecord, putKey, SECRET, TEST_SECRET } from "../helpers/fixtures";
import { type OriginStub, stubOrigins } from "../helpers/origin";
import { call } from "../helpers/worker";

type Audit = "allowed" | "denied" | "error" | "send_failed" | "none";

interface Row {
  name: string;
  method?: string;
  path?: string;
  /** Changes to the fixture's valid headers: a string sets, null removes. */
  headers?: Record<string, string | null>;
  /** Header lines added after those (a second line of a header is joined with ", " by the runtime). */
  append?: [string, string][];
  body?: string;
  env?: () => Partial<Env>;
  /** What the origin does (default: 200 JSON). */
  origin?: (req: Request) => Response | Promise<Response>;
  setup?: () => Promise<void>;
  expect: { status: number; code: string | null; upstream: boolean; audit: Audit; kvReads?: number };
  /** Extra assertions for the rows where the value matters beyond the columns. */
  check?: (out: { res: Response; body: unknown; upstream: OriginStub }) => void;
}

const ok = (extra: Partial<Row["expect"]> = {}): Row["expect"] => ({ status: 200, code: null, upstream: true, audit: "allowed", ...extra });
const refused = (status: number, code: string, kvReads = 0): Row["expect"] => ({ status, code, upstream: false, audit: "denied", kvReads });
const failed = (status: number, code: string, upstream: boolean): Row["expect"] => ({ status, code, upstream, audit: "error" });

const failingKv = (get: () => Promise<unknown>) => ({ KEYS: { get } as unknown as KVNamespace });
const throwingQueue = () => ({
  AUDIT_QUEUE: {
    send: async () => {
      throw new Error("queue unavailable");
    },
    sendBatch: async () => {},
  } as unknown as Queue,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CHECKSUM_BODY = "A".repeat(33);
const validChecksummed = `sk_live_${CHECKSUM_BODY}${checksumOf(CHECKSUM_BODY)}`;
const badChecksummed = `sk_live_${CHECKSUM_BODY}${checksumOf(CHECKSUM_BODY) === "000000" ? "000001" : "000000"}`;
const xff10k = Array.from({ length: 10_000 }, (_, i) => `198.18.${(i >> 8) & 255}.${i & 255}`).join(", ");

const ROWS: Row[] = [
  // --- X-Spot-Api-Key
  { name: "key: absent", headers: { "X-Spot-Api-Key": null }, expect: refused(401, "missing_api_key") },
  { name: "key: empty", headers: { "X-Spot-Api-Key": "" }, expect: refused(401, "missing_api_key") },
  { name: "key: only spaces and tabs", headers: { "X-Spot-Api-Key": " \t " }, expect: refused(401, "missing_api_key") },
  { name: "key: no acct_ prefix", headers: { "X-Spot-Api-Key": "account_123" }, expect: refused(400, "malformed_api_key") },
  { name: "key: prefix in upper case", headers: { "X-Spot-Api-Key": "ACCT_123" }, expect: refused(400, "malformed_api_key") },
  { name: "key: prefix only", headers: { "X-Spot-Api-Key": "acct_" }, expect: refused(400, "malformed_api_key") },
  {
    name: "key: 65 characters after the prefix",
    headers: { "X-Spot-Api-Key": `acct_${"a".repeat(65)}` },
    expect: refused(400, "malformed_api_key"),
  },
  { name: "key: a Latin-1 byte (é)", headers: { "X-Spot-Api-Key": "acct_12\u00e9" }, expect: refused(400, "malformed_api_key") },
  { name: "key: a tab inside", headers: { "X-Spot-Api-Key": "acct_1\t23" }, expect: refused(400, "malformed_api_key") },
  { name: "key: percent-encoded NUL", headers: { "X-Spot-Api-Key": "acct_123%00" }, expect: refused(400, "malformed_api_key") },
  { name: "key: sent twice", append: [["X-Spot-Api-Key", "acct_999"]], expect: refused(400, "duplicate_header") },
  { name: "key: surrounding spaces are not part of it", headers: { "X-Spot-Api-Key": `  ${ACCOUNT}  ` }, expect: ok({ kvReads: 1 }) },
  {
    name: "key: another account with this secret",
    headers: { "X-Spot-Api-Key": "acct_999" },
    expect: refused(401, "invalid_credentials", 1),
  },

  // --- X-Spot-Api-Secret
  { name: "secret: absent", headers: { "X-Spot-Api-Secret": null }, expect: refused(401, "missing_api_secret") },
  { name: "secret: empty", headers: { "X-Spot-Api-Secret": "" }, expect: refused(401, "missing_api_secret") },
  {
    name: "secret: 2 characters after the prefix",
    headers: { "X-Spot-Api-Secret": "sk_live_ab" },
    expect: refused(400, "malformed_api_secret"),
  },
  { name: "secret: non-ASCII (é)", headers: { "X-Spot-Api-Secret": "sk_live_abc\u00e9" }, expect: refused(400, "malformed_api_secret") },
  {
    name: "secret: UTF-8 bytes read as Latin-1 (Ã©)",
    headers: { "X-Spot-Api-Secret": "sk_live_abc\u00c3\u00a9def" },
    expect: refused(400, "malformed_api_secret"),
  },
  {
    name: "secret: another prefix (pk_live_)",
    headers: { "X-Spot-Api-Secret": "pk_live_abcd1234" },
    expect: refused(400, "malformed_api_secret"),
  },
  {
    name: "secret: unknown mode (sk_prod_)",
    headers: { "X-Spot-Api-Secret": "sk_prod_abcd1234" },
    expect: refused(400, "malformed_api_secret"),
  },
  { name: "secret: as a Bearer value", headers: { "X-Spot-Api-Secret": `Bearer ${SECRET}` }, expect: refused(400, "malformed_api_secret") },
  {
    name: "secret: 129 characters after the prefix",
    headers: { "X-Spot-Api-Secret": `sk_live_${"a".repeat(129)}` },
    expect: refused(400, "malformed_api_secret"),
  },
  { name: "secret: sent twice", append: [["X-Spot-Api-Secret", SECRET]], expect: refused(400, "duplicate_header") },
  {
    name: "secret: well-formed, unknown",
    headers: { "X-Spot-Api-Secret": "sk_live_doesNotExist1" },
    expect: refused(401, "invalid_credentials", 1),
  },
  {
    name: "secret: checksummed with a wrong checksum (no HMAC, no KV)",
    headers: { "X-Spot-Api-Secret": badChecksummed },
    expect: refused(401, "invalid_credentials", 0),
  },
  {
    name: "secret: checksummed, right checksum, unknown",
    headers: { "X-Spot-Api-Secret": validChecksummed },
    expect: refused(401, "invalid_credentials", 1),
  },
  {
    name: "secret: test mode, unknown",
    headers: { "X-Spot-Api-Secret": "sk_test_unknownTest1" },
    expect: refused(401, "invalid_credentials", 1),
  },

  // --- X-Spot-Api-Version
  { name: "version: 2024-02-30", headers: { "X-Spot-Api-Version": "2024-02-30" }, expect: refused(400, "invalid_api_version") },
  { name: "version: 2024-1-5", headers: { "X-Spot-Api-Version": "2024-1-5" }, expect: refused(400, "invalid_api_version") },
  { name: "version: a timestamp", headers: { "X-Spot-Api-Version": "2024-11-15T00:00:00Z" }, expect: refused(400, "invalid_api_version") },
  {
    name: "version: a no-break space inside",
    headers: { "X-Spot-Api-Version": "2024\u00a011-15" },
    expect: refused(400, "invalid_api_version"),
  },
  {
    name: "version: real date, not published",
    headers: { "X-Spot-Api-Version": "2024-02-29" },
    expect: refused(400, "unsupported_api_version"),
  },
  { name: "version: past its sunset", headers: { "X-Spot-Api-Version": "2023-01-01" }, expect: refused(400, "unsupported_api_version") },
  {
    name: "version: sent twice",
    headers: { "X-Spot-Api-Version": "2024-11-15" },
    append: [["X-Spot-Api-Version", "2024-06-01"]],
    expect: refused(400, "duplicate_header"),
  },
  { name: "version: empty → latest stable", headers: { "X-Spot-Api-Version": "" }, expect: ok() },
  {
    name: "version: preview named explicitly",
    headers: { "X-Spot-Api-Version": "2025-03-01" },
    expect: ok(),
    check: ({ upstream }) => expect(upstream.received[0]?.url.host).toBe("preview.origin.test"),
  },
  {
    name: "version: deprecated, before sunset",
    headers: { "X-Spot-Api-Version": "2023-08-01" },
    expect: ok(),
    check: ({ res }) => expect(res.headers.get("sunset")).toBe("Thu, 31 Dec 2099 00:00:00 GMT"),
  },

  // --- CF-Connecting-IP, X-Forwarded-For, other headers
  { name: "CF-Connecting-IP: absent", headers: { "CF-Connecting-IP": null }, expect: ok() },
  { name: "CF-Connecting-IP: not an address", headers: { "CF-Connecting-IP": "not-an-ip" }, expect: ok() },
  { name: "CF-Connecting-IP: IPv6", headers: { "CF-Connecting-IP": "2001:db8::7" }, expect: ok() },
  {
    name: "X-Forwarded-For: 10,000 entries",
    headers: { "X-Forwarded-For": xff10k },
    expect: ok(),
    check: ({ upstream }) => expect(upstream.received[0]?.headers.get("x-forwarded-for")?.endsWith(`, ${CONNECTING_IP}`)).toBe(true),
  },
  { name: "X-Forwarded-For: markup and garbage", headers: { "X-Forwarded-For": "<script>, ;;, [::1, 1.2.3.4:99999" }, expect: ok() },
  { name: "X-Forwarded-For: one 100 KB element", headers: { "X-Forwarded-For": "9".repeat(100_000) }, expect: ok() },
  { name: "X-Forwarded-For: empty", headers: { "X-Forwarded-For": "" }, expect: ok() },
  { name: "User-Agent: 100,000 bytes", headers: { "User-Agent": "u".repeat(100_000) }, expect: ok() },
  { name: "User-Agent: Latin-1 bytes (Büro-Sync)", headers: { "User-Agent": "B\u00fcro-Sync/2.1 \u00ff" }, expect: ok() },
  {
    name: "headers near the edge's 128 KB total (30 × 4 KB)",
    headers: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`X-Pad-${i}`, "p".repeat(4000)])),
    expect: ok(),
  },
  { name: "one header past the edge's 128 KB total (200 KB)", headers: { "X-Pad": "p".repeat(200_000) }, expect: ok() },
  {
    name: "forged identity headers (X-Spot-Account-Id, X-Spot-Assertion)",
    headers: { "X-Spot-Account-Id": "acct_evil", "X-Spot-Assertion": "forged.jwt.value" },
    expect: ok(),
    check: ({ upstream }) => {
      expect(upstream.received[0]?.headers.get("x-spot-account-id")).toBe(ACCOUNT);
      expect(upstream.received[0]?.headers.get("x-spot-assertion")).not.toBe("forged.jwt.value");
    },
  },
  {
    name: "Connection naming the authorizer's own headers",
    headers: { Connection: "x-spot-account-id, x-spot-assertion, x-request-id" },
    expect: ok(),
    check: ({ upstream }) => expect(upstream.received[0]?.headers.get("x-spot-account-id")).toBe(ACCOUNT),
  },
  {
    name: "hop-by-hop headers (TE, Keep-Alive, Proxy-Authorization)",
    headers: { TE: "trailers", "Keep-Alive": "timeout=5", "Proxy-Authorization": "Basic eA==" },
    expect: ok(),
  },

  // --- paths
  {
    name: "path: //evil.example/… stays a path",
    path: "//evil.example/v1/charges",
    expect: ok(),
    check: ({ upstream }) => expect(upstream.received[0]?.url.host).toBe("v2024-11-15.origin.test"),
  },
  {
    name: "path: /%5Cevil.example/… stays a path",
    path: "/%5Cevil.example/v1/charges",
    expect: ok(),
    check: ({ upstream }) => expect(upstream.received[0]?.url.host).toBe("v2024-11-15.origin.test"),
  },
  { name: "path: encoded dot segments", path: "/v1/%2e%2e/%2e%2e/internal", expect: ok() },
  { name: "path: encoded NUL and invalid UTF-8", path: "/v1/a%00b/%ff%fe", expect: ok() },
  { name: "path: 16 KB", path: `/v1/${"p".repeat(16_000)}`, expect: ok() },
  { name: "query: 10 KB", path: `/v1/charges?q=${"q".repeat(10_000)}`, expect: ok() },
  {
    name: "path: the admin API with API-key headers",
    path: "/__spot/admin/v1/accounts/acct_123/keys",
    expect: { status: 401, code: "api_key_not_accepted", upstream: false, audit: "denied", kvReads: 0 },
  },
  {
    name: "path: JWKS with POST",
    method: "POST",
    path: "/.well-known/spot-authorizer/jwks.json",
    expect: { status: 405, code: "method_not_allowed", upstream: false, audit: "none" },
  },
  {
    name: "path: unknown reserved path",
    path: "/.well-known/spot-authorizer/other",
    expect: { status: 404, code: "not_found", upstream: false, audit: "none" },
  },

  // --- methods and bodies
  { name: "method: HEAD", method: "HEAD", expect: ok() },
  { name: "method: DELETE", method: "DELETE", expect: ok() },
  { name: "method: a custom one (PURGE)", method: "PURGE", expect: ok() },
  {
    name: "method: OPTIONS without credentials",
    method: "OPTIONS",
    headers: { "X-Spot-Api-Key": null, "X-Spot-Api-Secret": null },
    expect: refused(401, "missing_api_key"),
  },
  {
    name: "body: 1 MB POST streamed through",
    method: "POST",
    body: "b".repeat(1_000_000),
    expect: ok(),
    check: ({ upstream }) => expect(upstream.received[0]?.body.length).toBe(1_000_000),
  },
  {
    name: "body: POST refused before the origin reads it",
    method: "POST",
    body: "{}",
    headers: { "X-Spot-Api-Secret": null },
    expect: refused(401, "missing_api_secret"),
  },

  // --- key policy and test mode
  {
    name: "allowlisted key from outside its ranges",
    setup: () => putKey(SECRET, keyRecord({ policy: { ip_allowlist: ["192.0.2.0/24"] } })).then(() => undefined),
    expect: refused(403, "ip_not_allowed", 1),
  },
  {
    name: "allowlisted key, allowed address only in X-Forwarded-For",
    setup: () => putKey(SECRET, keyRecord({ policy: { ip_allowlist: ["192.0.2.0/24"] } })).then(() => undefined),
    headers: { "X-Forwarded-For": "192.0.2.10" },
    expect: refused(403, "ip_not_allowed", 1),
  },
  {
    name: "test key on a version without a sandbox",
    env: () => ({ SANDBOX_ORIGIN: "" }),
    headers: { "X-Spot-Api-Secret": TEST_SECRET },
    expect: refused(400, "test_mode_unavailable", 0),
  },
  {
    name: "test key goes to the sandbox",
    setup: () => putKey(TEST_SECRET, keyRecord({ key_id: "key_test1", mode: "test" })).then(() => undefined),
    headers: { "X-Spot-Api-Secret": TEST_SECRET },
    expect: ok(),
    check: ({ upstream }) => expect(upstream.received[0]?.url.host).toBe("sandbox.origin.test"),
  },

  // --- failing dependencies
  {
    name: "KV throwing",
    env: () => failingKv(async () => Promise.reject(new Error("KV down"))),
    expect: { ...failed(503, "authorizer_unavailable", false), kvReads: 1 },
  },
  {
    name: "KV slow (200 ms, under the timeout)",
    env: () => failingKv(async () => sleep(200).then(() => JSON.stringify(keyRecord()))),
    expect: ok({ kvReads: 1 }),
  },
  {
    name: "KV hanging past KV_READ_TIMEOUT_MS",
    env: () => ({ ...failingKv(() => new Promise(() => {})), KV_READ_TIMEOUT_MS: "100" }),
    expect: { ...failed(503, "authorizer_unavailable", false), kvReads: 1 },
  },
  {
    name: "KV holding a record that is not JSON",
    env: () => failingKv(async () => "{not json"),
    expect: failed(503, "authorizer_unavailable", false),
  },
  {
    name: "KV holding a record of an unknown version (v3)",
    env: () => failingKv(async () => JSON.stringify({ ...keyRecord(), v: 3 })),
    expect: failed(503, "authorizer_unavailable", false),
  },
  { name: "Queue throwing, allowed request", env: throwingQueue, expect: ok({ audit: "send_failed" }) },
  {
    name: "Queue throwing, refused request",
    env: throwingQueue,
    headers: { "X-Spot-Api-Key": null },
    expect: { ...refused(401, "missing_api_key"), audit: "send_failed" },
  },
  {
    name: "origin refusing the connection",
    origin: () => Promise.reject(new TypeError("connection refused")),
    expect: failed(502, "upstream_unavailable", true),
  },
  {
    name: "origin hanging past UPSTREAM_TIMEOUT_MS",
    env: () => ({ UPSTREAM_TIMEOUT_MS: "150" }),
    origin: (req) =>
      new Promise((_, reject) => {
        req.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      }),
    expect: failed(504, "upstream_timeout", true),
  },
  {
    name: "origin answering 503 (passed through, not the authorizer's error)",
    origin: () => new Response("busy", { status: 503 }),
    expect: { status: 503, code: null, upstream: true, audit: "allowed" },
  },
  { name: "hash key missing", env: () => ({ SECRET_HASH_KEY: "" }), expect: failed(503, "authorizer_unavailable", false) },
  { name: "version table unreadable", env: () => ({ API_VERSIONS: "[" }), expect: failed(503, "authorizer_unavailable", false) },
  {
    name: "assertion signing key missing",
    env: () => ({ ASSERTION_SIGNING_KEY: "" }),
    expect: failed(503, "authorizer_unavailable", false),
  },
  {
    name: "key rate limiter throwing (fail open)",
    env: () => ({
      KEY_RATE_LIMIT_6000: {
        limit: async () => {
          throw new Error("limiter down");
        },
      } as RateLimit,
    }),
    expect: ok(),
  },
  {
    name: "failure limiter throwing (fail open: the 401 stands)",
    env: () => ({
      AUTH_FAILURE_LIMITER: {
        limit: async () => {
          throw new Error("limiter down");
        },
      } as RateLimit,
    }),
    headers: { "X-Spot-Api-Secret": "sk_live_doesNotExist2" },
    expect: refused(401, "invalid_credentials", 1),
  },
];

let origin: OriginStub;
beforeEach(async () => {
  clearKeyCache();
  clearFailedAuthLedger();
  clearKeyLimitLedger();
  await putKey(SECRET);
});
afterEach(() => {
  origin?.restore();
  vi.restoreAllMocks();
});

describe("bad-input matrix", () => {
  it("has at least 60 rows, each named once", () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(60);
    expect(new Set(ROWS.map((r) => r.name)).size).toBe(ROWS.length);
  });

  it.each(ROWS.map((row) => [row.name, row] as const))("%s", async (_name, row) => {
    await row.setup?.();
    origin = stubOrigins(row.origin);
    const logged: string[] = [];
    const capture = (...args: unknown[]) => {
      logged.push(args.map(String).join(" "));
    };
    vi.spyOn(console, "error").mockImplementation(capture);
    vi.spyOn(console, "log").mockImplementation(capture);
    vi.spyOn(console, "warn").mockImplementation(capture);

    const headers = new Headers(authHeaders());
    for (const [name, value] of Object.entries(row.headers ?? {})) {
      if (value === null) headers.delete(name);
      else headers.set(name, value);
    }
    for (const [name, value] of row.append ?? []) headers.append(name, value);
    const { res, body, events, kvReads } = await call(
      row.path ?? "/v1/charges",
      { method: row.method ?? "GET", headers, body: row.body },
      { bindings: row.env?.() ?? {} },
    );

    const want = row.expect;
    expect(res.status).toBe(want.status);
    expect(res.status).not.toBe(500);
    const error = (body as { error?: { code?: string } } | null)?.error;
    if (want.code === null) {
      expect(error?.code).toBeUndefined();
    } else {
      expect(res.headers.get("content-type")).toContain("application/json");
      expect(error?.code).toBe(want.code);
    }
    expect(origin.received.length > 0).toBe(want.upstream);
    if (want.kvReads !== undefined) expect(kvReads).toHaveLength(want.kvReads);
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);

    const requestId = res.headers.get("x-request-id");
    if (want.audit === "none") {
      expect(events).toHaveLength(0);
    } else if (want.audit === "send_failed") {
      expect(events).toHaveLength(0);
      expect(logged.some((line) => line.includes("audit_send_failed") && line.includes(String(requestId)))).toBe(true);
    } else {
      expect(events).toHaveLength(1);
      expect(events[0]?.outcome).toBe(want.audit);
      expect((events[0] as { reason?: string }).reason).toBe(want.code ?? "ok");
      expect((events[0] as { request_id?: string }).request_id).toBe(requestId);
    }
    // Whatever the row, the secret never comes back or lands in the trail or the logs.
    const everything = `${JSON.stringify(body)} ${[...res.headers].join(" ")} ${JSON.stringify(events)} ${logged.join(" ")}`;
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain(TEST_SECRET);
    for (const got of origin.received) expect(got.headers.has("x-spot-api-secret")).toBe(false);

    row.check?.({ res, body, upstream: origin });
  });
});

void env;
