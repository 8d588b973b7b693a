/**
 * Abuse protection and key policy on the request path, through the Worker's fetch handler in workerd
 * with Miniflare's local rate-limiting bindings: the failed-attempt throttle (and the KV reads it
 * saves), per-key rate limits with the RateLimit headers, IP allowlists on the connecting IP, test
 * mode routed to sandbox origins only, and the limits of wrangler.toml kept in step with the code.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { isRateLimitTier, RATE_LIMIT_TIERS_PER_MINUTE } from "../../src/keys/policy";
import { clearKeyCache } from "../../src/keys/store";
import { resetLimiterLogState } from "../../src/ratelimit/binding";
import { keyLimiterName, RATE_LIMIT_PERIOD_SECONDS } from "../../src/ratelimit/limits";
import { clearFailedAuthLedger } from "../../src/request-path/failed-auth";
import { clearKeyLimitLedger } from "../../src/request-path/key-policy";
import { decodeJws } from "../helpers/assertion";
import { ACCOUNT, authHeaders, keyRecord, putKey, SECRET, TEST_SECRET } from "../helpers/fixtures";
import { type OriginStub, stubOrigins } from "../helpers/origin";
import { call } from "../helpers/worker";

let origin: OriginStub;
beforeEach(async () => {
  clearKeyCache();
  clearFailedAuthLedger();
  clearKeyLimitLedger();
  resetLimiterLogState();
  await putKey(SECRET);
  origin = stubOrigins();
});
afterEach(() => {
  origin.restore();
  vi.restoreAllMocks();
});

type Envelope = { error: { type: string; code: string; message: string } };
const codeOf = (body: unknown) => (body as Envelope).error?.code;

/** A fresh address per test: the local limiters' counters live for the whole run. */
let ipSeq = 0;
function freshIp(): string {
  ipSeq++;
  return `10.${(Date.now() >> 8) & 255}.${ipSeq >> 8}.${ipSeq & 255}`;
}

/** A rate-limit binding that counts its calls (and can be made to fail). */
function countingLimiter(inner: RateLimit | null, behaviour: "pass" | "throw" | "hang" = "pass") {
  const calls: RateLimitOptions[] = [];
  const limiter = {
    limit: async (options: RateLimitOptions) => {
      calls.push(options);
      if (behaviour === "throw") throw new Error("rate limiter down");
      if (behaviour === "hang") return new Promise<RateLimitOutcome>(() => {});
      if (inner === null) return { success: true };
      return inner.limit(options);
    },
  } as RateLimit;
  return { limiter, calls };
}

/**
 * Waits while the current 60 s window is about to end, so a short burst counts in one window of
 * Miniflare's clock-aligned counters (at most ~5.1 s, and only rarely). Tests that call it run with
 * WINDOW_EDGE_TIMEOUT_MS: the wait alone can outlast vitest's default 5 s test timeout.
 */
async function awayFromWindowEdge(): Promise<void> {
  const periodMs = RATE_LIMIT_PERIOD_SECONDS * 1000;
  const left = periodMs - (Date.now() % periodMs);
  if (left < 5000) await new Promise((r) => setTimeout(r, left + 100));
}

/** Test timeout (ms) for tests that wait away from the window edge: the 5.1 s wait plus the burst on a slow CI machine. */
const WINDOW_EDGE_TIMEOUT_MS = 30_000;

/** A legacy-length wrong secret: well-formed, no checksum rule, so every one costs a KV lookup. */
const wrongSecret = (i: number) => `sk_live_wrongGuess${String(i).padStart(6, "0")}`;

describe("failed-attempt throttle (per connecting IP, before any KV read)", { timeout: WINDOW_EDGE_TIMEOUT_MS }, () => {
  const throttled = { AUTH_FAILURE_LIMITER: env.TEST_FAILURE_LIMITER_5, AUTH_FAILURE_LIMIT: "5" };

  it("a flood of wrong secrets from one IP: 401 up to the limit, then 429 with no KV read past it", async () => {
    await awayFromWindowEdge();
    const ip = freshIp();
    const results: { status: number; code: string | undefined; kvReads: number; headers: Headers; outcome?: string }[] = [];
    for (let i = 0; i < 15; i++) {
      // Rotating X-Forwarded-For changes nothing: only CF-Connecting-IP counts.
      const { res, body, kvReads, events } = await call(
        "/v1/charges",
        { headers: authHeaders({ "X-Spot-Api-Secret": wrongSecret(i), "CF-Connecting-IP": ip, "X-Forwarded-For": `203.0.113.${i}` }) },
        { bindings: throttled },
      );
      results.push({ status: res.status, code: codeOf(body), kvReads: kvReads.length, headers: res.headers, outcome: events[0]?.outcome });
    }
    expect(results.map((r) => r.status)).toEqual([401, 401, 401, 401, 401, 429, 429, 429, 429, 429, 429, 429, 429, 429, 429]);
    expect(results.slice(0, 5).every((r) => r.kvReads === 1)).toBe(true);
    // Past the limit: zero KV reads.
    expect(results.slice(5).reduce((n, r) => n + r.kvReads, 0)).toBe(0);
    expect(origin.received).toHaveLength(0);

    const limited = results[5];
    expect(limited?.code).toBe("rate_limited");
    expect(limited?.outcome).toBe("denied");
    const retryAfter = Number(limited?.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited?.headers.get("ratelimit-policy")).toBe('"failed-auth";q=5;w=60');
    expect(limited?.headers.get("ratelimit")).toBe(`"failed-auth";r=0;t=${retryAfter}`);
    expect(limited?.headers.get("content-type")).toContain("application/json");
    expect(limited?.headers.has("www-authenticate")).toBe(false);

    // The right secret from the blocked address is refused too (a flood must not tell a right guess
    // from a wrong one), without a KV read; another address is unaffected.
    const right = await call("/v1/charges", { headers: authHeaders({ "CF-Connecting-IP": ip }) }, { bindings: throttled });
    expect(right.res.status).toBe(429);
    expect(right.kvReads).toHaveLength(0);
    const other = await call("/v1/charges", { headers: authHeaders({ "CF-Connecting-IP": freshIp() }) }, { bindings: throttled });
    expect(other.res.status).toBe(200);
  });

  it("the binding is the location-wide counter: failures seen by other isolates count (a fresh isolate ledger)", async () => {
    await awayFromWindowEdge();
    const ip = freshIp();
    for (let i = 0; i < 5; i++) {
      const { res } = await call(
        "/v1/charges",
        { headers: authHeaders({ "X-Spot-Api-Secret": wrongSecret(100 + i), "CF-Connecting-IP": ip }) },
        { bindings: throttled },
      );
      expect(res.status).toBe(401);
    }
    // Another isolate has never seen this address: it spends one KV read, then learns from the binding.
    clearFailedAuthLedger();
    const sixth = await call(
      "/v1/charges",
      { headers: authHeaders({ "X-Spot-Api-Secret": wrongSecret(105), "CF-Connecting-IP": ip }) },
      { bindings: throttled },
    );
    expect(sixth.res.status).toBe(429);
    expect(sixth.kvReads).toHaveLength(1);
    const seventh = await call(
      "/v1/charges",
      { headers: authHeaders({ "X-Spot-Api-Secret": wrongSecret(106), "CF-Connecting-IP": ip }) },
      { bindings: throttled },
    );
    expect(seventh.res.status).toBe(429);
    expect(seventh.kvReads).toHaveLength(0);
  });

  it("counts only credential failures: successes and version errors never call the binding", async () => {
    const { limiter, calls } = countingLimiter(null);
    const ip = freshIp();
    const bindings = { AUTH_FAILURE_LIMITER: limiter, AUTH_FAILURE_LIMIT: "2" };
    for (let i = 0; i < 6; i++) {
      expect((await call("/v1/charges", { headers: authHeaders({ "CF-Connecting-IP": ip }) }, { bindings })).res.status).toBe(200);
      const badVersion = await call(
        "/v1/charges",
        { headers: authHeaders({ "CF-Connecting-IP": ip, "X-Spot-Api-Version": "2024-02-30" }) },
        { bindings },
      );
      expect(badVersion.res.status).toBe(400);
    }
    expect(calls).toHaveLength(0);
    // Malformed, missing and duplicated credentials are failures: counted once each.
    const failures: Record<string, string>[] = [
      { "X-Spot-Api-Key": "account_1" },
      { "X-Spot-Api-Secret": "" },
      { "X-Spot-Api-Key": `${ACCOUNT}, acct_999` },
    ];
    for (const headers of failures) {
      await call("/v1/charges", { headers: authHeaders({ "CF-Connecting-IP": ip, ...headers }) }, { bindings });
    }
    expect(calls.map((c) => c.key)).toEqual([`fail:${ip}`, `fail:${ip}`]);
    // The isolate reached the limit (2) on its own: the third failure was refused before the binding.
  });

  it("counts an IPv6 address by its /64: rotating addresses inside one /64 does not escape", async () => {
    await awayFromWindowEdge();
    const prefix = `2001:db8:${(Date.now() & 0xffff).toString(16)}:${(++ipSeq).toString(16)}`;
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const { res } = await call(
        "/v1/charges",
        { headers: authHeaders({ "X-Spot-Api-Secret": wrongSecret(200 + i), "CF-Connecting-IP": `${prefix}::${i + 1}` }) },
        { bindings: throttled },
      );
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
  });

  it.each([["throw" as const], ["hang" as const]])(
    "a binding that fails (%s) does not block or break anything: the failure answers 401 (fail open), logged",
    async (behaviour) => {
      const { limiter, calls } = countingLimiter(null, behaviour);
      const logs = vi.spyOn(console, "log").mockImplementation(() => {});
      const errors = vi.spyOn(console, "error").mockImplementation(() => {});
      const bindings = { AUTH_FAILURE_LIMITER: limiter, AUTH_FAILURE_LIMIT: "50", RATE_LIMIT_TIMEOUT_MS: "50" };
      const ip = freshIp();
      const { res, body } = await call(
        "/v1/charges",
        { headers: authHeaders({ "X-Spot-Api-Secret": wrongSecret(300), "CF-Connecting-IP": ip }) },
        { bindings },
      );
      expect(res.status).toBe(401);
      expect(codeOf(body)).toBe("invalid_credentials");
      expect(calls).toHaveLength(1);
      const lines = [...logs.mock.calls, ...errors.mock.calls].map((args) => String(args[0]));
      expect(lines.some((line) => line.includes("rate_limit_unavailable"))).toBe(true);
      expect((await call("/v1/charges", { headers: authHeaders({ "CF-Connecting-IP": ip }) }, { bindings })).res.status).toBe(200);
    },
  );
});

describe("per-key rate limit", { timeout: WINDOW_EDGE_TIMEOUT_MS }, () => {
  it("a key over its own limit (its tier's binding) gets 429 with Retry-After and the RateLimit fields; the origin is not called", async () => {
    await awayFromWindowEdge();
    const keyId = `key_rl${Date.now()}`;
    await putKey(SECRET, keyRecord({ key_id: keyId, policy: { rate_limit_per_minute: 60 } }));
    const { limiter, calls } = countingLimiter(env.KEY_RATE_LIMIT_60);
    const bindings = { KEY_RATE_LIMIT_60: limiter };
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 62; i++) {
      const result = await call("/v1/charges", { headers: authHeaders() }, { bindings });
      statuses.push(result.res.status);
      if (result.res.status === 429) limited ??= result;
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(60);
    expect(statuses.slice(60)).toEqual([429, 429]);
    expect(origin.received).toHaveLength(60);
    expect(codeOf(limited?.body)).toBe("rate_limited");
    expect((limited?.body as Envelope | undefined)?.error.type).toBe("rate_limit_error");
    const retryAfter = Number(limited?.res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited?.res.headers.get("ratelimit-policy")).toBe('"key";q=60;w=60');
    expect(limited?.res.headers.get("ratelimit")).toBe(`"key";r=0;t=${retryAfter}`);
    expect(limited?.events[0]).toMatchObject({ outcome: "denied", reason: "rate_limited", key_id: keyId, account_verified: true });
    // The 62nd was refused by this isolate's memory of the block, without a binding call.
    expect(calls).toHaveLength(61);
    expect(calls[0]).toEqual({ key: `key:${keyId}` });
  });

  it("without an override KEY_RATE_LIMIT_PER_MINUTE picks the tier; keys are counted apart", async () => {
    const stamp = Date.now();
    await putKey(SECRET, keyRecord({ key_id: `key_defA${stamp}` }));
    await putKey(TEST_SECRET, keyRecord({ key_id: `key_defB${stamp}`, mode: "test" }));
    const { limiter, calls } = countingLimiter(null);
    const bindings = { KEY_RATE_LIMIT_PER_MINUTE: "120", KEY_RATE_LIMIT_120: limiter };
    expect((await call("/v1/charges", { headers: authHeaders() }, { bindings })).res.status).toBe(200);
    expect((await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Secret": TEST_SECRET }) }, { bindings })).res.status).toBe(200);
    expect(calls).toEqual([{ key: `key:key_defA${stamp}` }, { key: `key:key_defB${stamp}` }]);
  });

  it("a KEY_RATE_LIMIT_PER_MINUTE that is not a tier is a configuration error: 503, never a pass", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(console, "log").mockImplementation(() => {});
    const { res, body } = await call("/v1/charges", { headers: authHeaders() }, { bindings: { KEY_RATE_LIMIT_PER_MINUTE: "100" } });
    expect(res.status).toBe(503);
    expect(codeOf(body)).toBe("authorizer_unavailable");
    expect(origin.received).toHaveLength(0);
  });

  it.each([["throw" as const], ["hang" as const]])(
    "a rate limiter that fails (%s) lets verified requests through (fail open), logged",
    async (behaviour) => {
      const { limiter } = countingLimiter(null, behaviour);
      const errors = vi.spyOn(console, "error").mockImplementation(() => {});
      const logs = vi.spyOn(console, "log").mockImplementation(() => {});
      const bindings = { KEY_RATE_LIMIT_6000: limiter, RATE_LIMIT_TIMEOUT_MS: "50" };
      const { res } = await call("/v1/charges", { headers: authHeaders() }, { bindings });
      expect(res.status).toBe(200);
      const lines = [...logs.mock.calls, ...errors.mock.calls].map((args) => String(args[0]));
      expect(lines.some((line) => line.includes("rate_limit_unavailable"))).toBe(true);
    },
  );

  it("a missing binding is logged once and skipped (the bench and older configurations have none)", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const logs = vi.spyOn(console, "log").mockImplementation(() => {});
    const bindings = { KEY_RATE_LIMIT_6000: undefined as unknown as RateLimit };
    expect((await call("/v1/charges", { headers: authHeaders() }, { bindings })).res.status).toBe(200);
    expect((await call("/v1/charges", { headers: authHeaders() }, { bindings })).res.status).toBe(200);
    const lines = [...logs.mock.calls, ...errors.mock.calls].map((args) => String(args[0]));
    expect(lines.filter((line) => line.includes("rate_limit_binding_missing"))).toHaveLength(1);
  });
});

describe("IP allowlist (connecting IP only)", () => {
  beforeEach(async () => {
    await putKey(SECRET, keyRecord({ policy: { ip_allowlist: ["198.51.100.0/24", "2001:db8::/32"] } }));
  });

  it.each([
    ["198.51.100.23", 200],
    ["::ffff:198.51.100.23", 200],
    ["2001:db8:1::5", 200],
    ["198.51.101.1", 403],
    ["2001:db9::1", 403],
  ])("CF-Connecting-IP %s → %i", async (ip, status) => {
    const { res, body, events } = await call("/v1/charges", { headers: authHeaders({ "CF-Connecting-IP": ip }) });
    expect(res.status).toBe(status);
    if (status === 403) {
      expect(body).toMatchObject({ error: { type: "permission_error", code: "ip_not_allowed" } });
      expect(origin.received).toHaveLength(0);
      expect(events[0]).toMatchObject({ outcome: "denied", reason: "ip_not_allowed", account_verified: true });
    } else {
      expect(origin.received).toHaveLength(1);
    }
  });

  it("an allowed address in X-Forwarded-For does not help; a missing CF-Connecting-IP is refused", async () => {
    const spoofed = await call("/v1/charges", {
      headers: authHeaders({ "CF-Connecting-IP": "192.0.2.1", "X-Forwarded-For": "198.51.100.23" }),
    });
    expect(spoofed.res.status).toBe(403);
    const headers = authHeaders();
    delete (headers as Record<string, string>)["CF-Connecting-IP"];
    const none = await call("/v1/charges", { headers: { ...headers, "X-Forwarded-For": "198.51.100.23" } });
    expect(none.res.status).toBe(403);
  });
});

describe("test mode: sk_test_ keys reach sandbox origins only", () => {
  beforeEach(async () => {
    await putKey(TEST_SECRET, keyRecord({ key_id: "key_test1", mode: "test" }));
  });

  it.each([[undefined], ["2024-06-01"], ["2025-03-01"], ["2023-08-01"]])(
    "version %s → the sandbox, never a live origin",
    async (version) => {
      const headers = authHeaders({ "X-Spot-Api-Secret": TEST_SECRET, ...(version ? { "X-Spot-Api-Version": version } : {}) });
      const { res, events } = await call("/v1/charges", { headers });
      expect(res.status).toBe(200);
      expect(origin.received).toHaveLength(1);
      const got = origin.received[0];
      expect(got?.url.origin).toBe("https://sandbox.origin.test");
      expect(got?.headers.get("x-spot-key-mode")).toBe("test");
      expect(decodeJws(got?.headers.get("x-spot-assertion") ?? "").payload).toMatchObject({ aud: "https://sandbox.origin.test" });
      expect(events[0]).toMatchObject({ mode: "test", origin: "https://sandbox.origin.test", outcome: "allowed" });
    },
  );

  it("a live key never reaches the sandbox", async () => {
    const { res, events } = await call("/v1/charges", { headers: authHeaders() });
    expect(res.status).toBe(200);
    expect(origin.received[0]?.url.origin).toBe("https://v2024-11-15.origin.test");
    expect(events[0]).toMatchObject({ mode: "live", origin: "https://v2024-11-15.origin.test" });
  });

  it("per-version sandbox_origin; a version without one refuses test keys (400, no KV read), live keys still served", async () => {
    const bindings = {
      SANDBOX_ORIGIN: "",
      API_VERSIONS: JSON.stringify([
        { version: "2024-06-01", status: "stable", origin: "https://v2024-06-01.origin.test" },
        {
          version: "2024-11-15",
          status: "stable",
          origin: "https://v2024-11-15.origin.test",
          sandbox_origin: "https://sb-1115.origin.test",
        },
      ]),
    };
    const ok = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Secret": TEST_SECRET }) }, { bindings });
    expect(ok.res.status).toBe(200);
    expect(origin.received[0]?.url.origin).toBe("https://sb-1115.origin.test");

    const refused = await call(
      "/v1/charges",
      { headers: authHeaders({ "X-Spot-Api-Secret": TEST_SECRET, "X-Spot-Api-Version": "2024-06-01" }) },
      { bindings },
    );
    expect(refused.res.status).toBe(400);
    expect(refused.body).toMatchObject({ error: { code: "test_mode_unavailable", type: "invalid_request_error" } });
    expect((refused.body as Envelope).error.message).toContain("2024-11-15");
    expect(refused.kvReads).toHaveLength(0);
    expect(origin.received).toHaveLength(1);
    expect(refused.events[0]).toMatchObject({ outcome: "denied", reason: "test_mode_unavailable", mode: "test" });

    const live = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Version": "2024-06-01" }) }, { bindings });
    expect(live.res.status).toBe(200);
    expect(origin.received[1]?.url.origin).toBe("https://v2024-06-01.origin.test");
  });

  it("a sandbox origin equal to a live origin is a configuration error: 503, nothing forwarded", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const logs = vi.spyOn(console, "log").mockImplementation(() => {});
    const { res, body } = await call(
      "/v1/charges",
      { headers: authHeaders({ "X-Spot-Api-Secret": TEST_SECRET }) },
      { bindings: { SANDBOX_ORIGIN: "https://v2024-11-15.origin.test" } },
    );
    expect(res.status).toBe(503);
    expect(codeOf(body)).toBe("authorizer_unavailable");
    expect(origin.received).toHaveLength(0);
    void errors;
    void logs;
  });
});

describe("wrangler.toml and the code agree", () => {
  const production = JSON.parse(env.TEST_WRANGLER_LIMITS) as {
    ratelimits: { name: string; namespace_id: string; simple: { limit: number; period: number } }[];
    vars: Record<string, string>;
  };
  const binding = (name: string) => production.ratelimits.find((r) => r.name === name);

  it("AUTH_FAILURE_LIMITER's limit is AUTH_FAILURE_LIMIT, its period the code's", () => {
    expect(binding("AUTH_FAILURE_LIMITER")?.simple).toEqual({
      limit: Number(production.vars.AUTH_FAILURE_LIMIT),
      period: RATE_LIMIT_PERIOD_SECONDS,
    });
  });

  it("each rate limit tier of the code has its binding KEY_RATE_LIMIT_<n> with limit n, and nothing else is bound", () => {
    for (const tier of RATE_LIMIT_TIERS_PER_MINUTE) {
      expect(binding(keyLimiterName(tier))?.simple).toEqual({ limit: tier, period: RATE_LIMIT_PERIOD_SECONDS });
    }
    expect(production.ratelimits.map((r) => r.name).sort()).toEqual(
      ["AUTH_FAILURE_LIMITER", ...RATE_LIMIT_TIERS_PER_MINUTE.map((t) => keyLimiterName(t))].sort(),
    );
    expect(isRateLimitTier(Number(production.vars.KEY_RATE_LIMIT_PER_MINUTE))).toBe(true);
  });

  it("every binding counts in its own namespace", () => {
    const ids = production.ratelimits.map((r) => r.namespace_id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
