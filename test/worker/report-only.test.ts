/**
 * Report-only mode (`ENFORCEMENT = "report-only"`, docs/operations.md "Report-only mode"): requests a
 * credential or key-policy check would refuse are forwarded anyway, marked for the origin and in the
 * audit event; an unauthenticated caller never gets identity headers or an assertion; everything the
 * origin cannot use is still answered; enforce mode is unchanged.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { generateSecret } from "../../src/keys/secret";
import { clearKeyCache } from "../../src/keys/store";
import { clearFailedAuthLedger } from "../../src/request-path/failed-auth";
import { resetEnforcementMode } from "../../src/request-path/report-only";
import { ACCOUNT, authHeaders, CONNECTING_IP, KEY_ID, keyRecord, putKey, SECRET } from "../helpers/fixtures";
import { type OriginStub, stubOrigins } from "../helpers/origin";
import { type CallOptions, call } from "../helpers/worker";

const REPORT_ONLY: CallOptions = { bindings: { ENFORCEMENT: "report-only" } };
/** A well-formed, correctly checksummed secret that no key has: a KV miss, 401 invalid_credentials in enforcement. */
const UNKNOWN_SECRET = generateSecret("live");

let origin: OriginStub;
beforeEach(async () => {
  clearKeyCache();
  clearFailedAuthLedger();
  resetEnforcementMode();
  await putKey(SECRET);
  origin = stubOrigins();
  // The once-per-isolate report_only_mode line; individual tests look at it.
  vi.spyOn(console, "warn").mockImplementation(() => {});
});
afterEach(() => {
  origin.restore();
  vi.restoreAllMocks();
});

type ErrorEnvelope = { error: { code: string } };
const errorOf = (body: unknown) => (body as ErrorEnvelope).error;

/** Headers only the authorizer may set on an identified request. */
const IDENTITY_HEADERS = ["x-spot-account-id", "x-spot-key-id", "x-spot-key-mode", "x-spot-assertion"];

describe("report-only: requests that would be refused", () => {
  it("forwards an unknown key without identity or assertion, marked invalid_credentials, and audits it", async () => {
    const { res, body, events } = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Secret": UNKNOWN_SECRET }) }, REPORT_ONLY);
    expect(res.status).toBe(200);
    expect(body).toEqual({ origin: "v2024-11-15.origin.test", path: "/v1/charges" });

    expect(origin.received).toHaveLength(1);
    const got = origin.received[0];
    expect(got?.headers.get("x-spot-enforcement")).toBe("report-only");
    expect(got?.headers.get("x-spot-would-refuse")).toBe("invalid_credentials");
    for (const name of IDENTITY_HEADERS) expect(got?.headers.has(name), name).toBe(false);
    expect(got?.headers.has("x-spot-api-secret")).toBe(false);
    expect(got?.headers.has("x-spot-api-key")).toBe(false);
    expect(got?.headers.get("x-request-id")).toBe(res.headers.get("x-request-id"));
    expect(got?.headers.get("x-spot-api-version")).toBe("2024-11-15");

    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      outcome: "allowed",
      reason: "ok",
      status: 200,
      would_refuse: "invalid_credentials",
      account_id: ACCOUNT,
      account_verified: false,
      key_id: null,
    });
    expect(JSON.stringify(events[0])).not.toContain(UNKNOWN_SECRET);
  });

  it("forwards a request without credentials, marked missing_api_key", async () => {
    const { res, events } = await call("/v1/charges", { headers: { "CF-Connecting-IP": CONNECTING_IP } }, REPORT_ONLY);
    expect(res.status).toBe(200);
    const got = origin.received[0];
    expect(got?.headers.get("x-spot-would-refuse")).toBe("missing_api_key");
    for (const name of IDENTITY_HEADERS) expect(got?.headers.has(name), name).toBe(false);
    expect(events[0]).toMatchObject({ outcome: "allowed", would_refuse: "missing_api_key", account_id: null, account_verified: false });
  });

  it("sends an unknown sk_test_ secret only to the sandbox", async () => {
    const { res } = await call(
      "/v1/charges",
      { headers: authHeaders({ "X-Spot-Api-Secret": generateSecret("test"), "X-Spot-Api-Version": "2024-11-15" }) },
      REPORT_ONLY,
    );
    expect(res.status).toBe(200);
    expect(origin.received[0]?.url.host).toBe("sandbox.origin.test");
    expect(origin.received[0]?.headers.get("x-spot-would-refuse")).toBe("invalid_credentials");
  });

  it("forwards a verified key outside its IP allowlist with its identity and assertion, marked ip_not_allowed", async () => {
    await putKey(SECRET, keyRecord({ policy: { ip_allowlist: ["192.0.2.0/24"] } }));
    const { res, events } = await call("/v1/charges", { headers: authHeaders() }, REPORT_ONLY);
    expect(res.status).toBe(200);
    const got = origin.received[0];
    expect(got?.headers.get("x-spot-would-refuse")).toBe("ip_not_allowed");
    expect(got?.headers.get("x-spot-account-id")).toBe(ACCOUNT);
    expect(got?.headers.get("x-spot-key-id")).toBe(KEY_ID);
    expect(got?.headers.get("x-spot-assertion")).toMatch(/^ey/);
    expect(events[0]).toMatchObject({ outcome: "allowed", would_refuse: "ip_not_allowed", account_verified: true, key_id: KEY_ID });
  });

  it("still counts credential failures: a blocked address is forwarded unchecked, marked rate_limited", async () => {
    const limiter = { limit: async () => ({ success: false }) } as unknown as RateLimit;
    const options: CallOptions = { bindings: { ENFORCEMENT: "report-only", AUTH_FAILURE_LIMITER: limiter } };
    const first = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Secret": UNKNOWN_SECRET }) }, options);
    // The origin's answer stands; the block applies from the next request.
    expect(first.res.status).toBe(200);
    const second = await call("/v1/charges", { headers: authHeaders() }, options);
    expect(second.res.status).toBe(200);
    expect(second.kvReads).toEqual([]);
    const got = origin.received[1];
    expect(got?.headers.get("x-spot-would-refuse")).toBe("rate_limited");
    for (const name of IDENTITY_HEADERS) expect(got?.headers.has(name), name).toBe(false);
    expect(second.events[0]).toMatchObject({ would_refuse: "rate_limited", account_verified: false });
  });
});

describe("report-only: requests that pass, and what is still answered", () => {
  it("forwards a valid key as usual, with X-Spot-Enforcement: report-only and no X-Spot-Would-Refuse", async () => {
    const { res, events } = await call("/v1/charges", { headers: authHeaders() }, REPORT_ONLY);
    expect(res.status).toBe(200);
    const got = origin.received[0];
    expect(got?.headers.get("x-spot-enforcement")).toBe("report-only");
    expect(got?.headers.has("x-spot-would-refuse")).toBe(false);
    expect(got?.headers.get("x-spot-account-id")).toBe(ACCOUNT);
    expect(got?.headers.get("x-spot-assertion")).toMatch(/^ey/);
    expect(events[0]).toMatchObject({ outcome: "allowed", reason: "ok", would_refuse: null, account_verified: true });
  });

  it("answers a version it cannot route, as in enforcement", async () => {
    const { res, body } = await call("/v1/charges", { headers: { "X-Spot-Api-Version": "2099-01-01" } }, REPORT_ONLY);
    expect(res.status).toBe(400);
    expect(errorOf(body).code).toBe("unsupported_api_version");
    expect(origin.received).toHaveLength(0);
  });

  it("fails closed when KV cannot be read (503), as in enforcement", async () => {
    const failing = { get: async () => Promise.reject(new Error("kv down")) } as unknown as KVNamespace;
    const { res, body } = await call(
      "/v1/charges",
      { headers: authHeaders({ "X-Spot-Api-Secret": UNKNOWN_SECRET }) },
      { bindings: { ENFORCEMENT: "report-only", KEYS: failing } },
    );
    expect(res.status).toBe(503);
    expect(errorOf(body).code).toBe("authorizer_unavailable");
    expect(origin.received).toHaveLength(0);
  });

  it("logs report_only_mode at warn once per isolate", async () => {
    const lines: Record<string, unknown>[] = [];
    vi.spyOn(console, "warn").mockImplementation((line: string) => {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    });
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    await call("/v1/charges", { headers: authHeaders() }, REPORT_ONLY);
    await call("/v1/charges", { headers: authHeaders() }, REPORT_ONLY);
    await call("/v1/charges", {}, REPORT_ONLY);
    const announced = lines.filter((l) => l.msg === "report_only_mode");
    expect(announced).toHaveLength(1);
    expect(announced[0]?.level).toBe("warn");
    expect(errors).not.toHaveBeenCalledWith(expect.stringContaining("report_only_mode"));
  });
});

describe("enforce mode", () => {
  it("is the default: an unknown key is refused 401, nothing is forwarded, nothing is marked", async () => {
    const { res, body, events } = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Secret": UNKNOWN_SECRET }) });
    expect(res.status).toBe(401);
    expect(errorOf(body).code).toBe("invalid_credentials");
    expect(origin.received).toHaveLength(0);
    expect(events[0]).toMatchObject({ outcome: "denied", reason: "invalid_credentials", would_refuse: null });
  });

  it("says enforce explicitly the same way, and never adds the report-only headers", async () => {
    const { res } = await call("/v1/charges", { headers: authHeaders() }, { bindings: { ENFORCEMENT: "enforce" } });
    expect(res.status).toBe(200);
    expect(origin.received[0]?.headers.has("x-spot-enforcement")).toBe(false);
    expect(origin.received[0]?.headers.has("x-spot-would-refuse")).toBe(false);
  });

  it("strips client-sent report-only headers and records them as forged", async () => {
    const { res, events } = await call("/v1/charges", {
      headers: authHeaders({ "X-Spot-Enforcement": "report-only", "X-Spot-Would-Refuse": "invalid_credentials" }),
    });
    expect(res.status).toBe(200);
    expect(origin.received[0]?.headers.has("x-spot-enforcement")).toBe(false);
    expect(origin.received[0]?.headers.has("x-spot-would-refuse")).toBe(false);
    expect(events[0]?.forged_headers).toEqual(expect.arrayContaining(["x-spot-enforcement", "x-spot-would-refuse"]));
  });

  it("answers 503 authorizer_unavailable for an unknown ENFORCEMENT value, and forwards nothing", async () => {
    const { res, body } = await call("/v1/charges", { headers: authHeaders() }, { bindings: { ENFORCEMENT: "report_only" } });
    expect(res.status).toBe(503);
    expect(errorOf(body).code).toBe("authorizer_unavailable");
    expect(origin.received).toHaveLength(0);
  });
});
