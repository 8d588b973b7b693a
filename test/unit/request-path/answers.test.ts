/**
 * The shared answers of the request path: errorAnswer (refusals and unexpected failures, also
 * app.onError) and the audit batch bounds read from AUDIT_BATCH_DELAY_MS.
 */
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_BATCH_LIMITS } from "../../../src/audit/producer";
import type { AppEnv } from "../../../src/env";
import { ApiError, errorAnswer } from "../../../src/errors";
import { batchLimits } from "../../../src/request-path/audit";

afterEach(() => vi.restoreAllMocks());

function appThrowing(err: unknown) {
  const app = new Hono<AppEnv>();
  let recorded: string | undefined;
  app.use(async (c, next) => {
    c.set("requestId", "req_answers");
    await next();
    recorded = c.get("errorCode");
  });
  app.get("/", () => {
    throw err;
  });
  app.onError((e, c) => errorAnswer(c, e));
  return { app, recorded: () => recorded };
}

describe("errorAnswer", () => {
  it("an ApiError: its status, code and headers, the code recorded, nothing logged", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const { app, recorded } = appThrowing(new ApiError("rate_limited", "Slow down.", { "Retry-After": "7" }));
    const res = await app.request("/");
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("7");
    expect(res.headers.get("x-request-id")).toBe("req_answers");
    expect(await res.json()).toMatchObject({ error: { code: "rate_limited", message: "Slow down.", request_id: "req_answers" } });
    expect(recorded()).toBe("rate_limited");
    expect(logged).not.toHaveBeenCalled();
  });

  it("anything else: 503 internal_error in the JSON envelope, one unhandled_error line with the request id", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const { app, recorded } = appThrowing(new TypeError("boom"));
    const res = await app.request("/");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: "internal_error", request_id: "req_answers" } });
    expect(recorded()).toBe("internal_error");
    expect(logged).toHaveBeenCalledTimes(1);
    expect(JSON.parse(String(logged.mock.calls[0]?.[0]))).toMatchObject({
      msg: "unhandled_error",
      request_id: "req_answers",
      error: expect.stringContaining("boom"),
    });
  });
});

describe("batchLimits", () => {
  const env = (value: string | undefined) => ({ AUDIT_BATCH_DELAY_MS: value }) as unknown as Env;

  // First in this file on purpose: the first read of an isolate, with the setting absent.
  it("an absent setting on the first read means the defaults", () => {
    expect(batchLimits(env(undefined))).toEqual(DEFAULT_BATCH_LIMITS);
    expect(batchLimits(env(undefined))).toEqual(DEFAULT_BATCH_LIMITS);
  });

  it("takes a whole number of milliseconds from 0 to 1000, and follows a changed setting", () => {
    expect(batchLimits(env("20"))).toEqual({ ...DEFAULT_BATCH_LIMITS, maxDelayMs: 20 });
    expect(batchLimits(env("20"))).toBe(batchLimits(env("20")));
    expect(batchLimits(env("0")).maxDelayMs).toBe(0);
    expect(batchLimits(env("1000")).maxDelayMs).toBe(1000);
  });

  it.each([undefined, "", "-1", "1001", "2.5", "soon"])("%j means the defaults", (value) => {
    expect(batchLimits(env(value))).toEqual(DEFAULT_BATCH_LIMITS);
  });
});
