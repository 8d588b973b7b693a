/**
 * Property-based tests (fast-check) of header parsing: whatever the client sends in the headers the
 * authorizer reads, no answer is a 500 (or any status outside the documented set), every error is the
 * JSON envelope with a code of the closed set at its own status, and the presented secret never shows
 * up in the response, the upstream request, the audit events or the logs. Plus the pure parsers with
 * many more runs: none of them throws on any string.
 */

import { env } from "cloudflare:workers";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseForwardedFor } from "../../src/client-ip/forwarded";
import { resolveClientIp } from "../../src/client-ip/resolve";
import { getConfig } from "../../src/env";
import { ERROR_CODES, type ErrorCode } from "../../src/errors";
import { findDuplicateHeader, readCredentials } from "../../src/keys/credentials";
import { isIpAllowed, normalizeCidr } from "../../src/keys/policy";
import { clearKeyCache } from "../../src/keys/store";
import { failedAuthKey } from "../../src/ratelimit/limits";
import { clearFailedAuthLedger } from "../../src/request-path/failed-auth";
import { resolveVersion } from "../../src/versioning/resolve";
import { ACCOUNT, putKey, SECRET } from "../helpers/fixtures";
import { type OriginStub, stubOrigins } from "../helpers/origin";
import { call } from "../helpers/worker";

/**
 * Characters of a header value: HTAB and SP..~ (never NUL, CR, LF). Latin-1 bytes are covered by the
 * matrix rows (test/worker/bad-input-matrix.test.ts); here they would only make workerd print a
 * warning per request.
 */
const headerChar = fc.oneof(fc.constant(0x09), fc.integer({ min: 0x20, max: 0x7e }));
const headerText = (maxLength: number) => fc.array(headerChar, { maxLength }).map((codes) => String.fromCharCode(...codes));
const alnum = (min: number, max: number) =>
  fc
    .array(fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), { minLength: min, maxLength: max })
    .map((a) => a.join(""));

/** Every presented secret carries this marker, so a leak anywhere is found by a plain search. */
const MARKER = "Zq9LeakCheck";

const keyValue = fc.oneof(
  fc.constant(ACCOUNT),
  alnum(1, 70).map((s) => `acct_${s}`),
  headerText(80),
  fc.constant(`${ACCOUNT}, acct_999`),
  fc.constant(""),
);
const secretValue = fc.oneof(
  fc.constant(SECRET),
  fc.tuple(fc.constantFrom("sk_live_", "sk_test_", "pk_live_", "sk_", ""), alnum(0, 130)).map(([p, s]) => `${p}${MARKER}${s}`),
  headerText(60).map((s) => `sk_live_${MARKER}${s}`),
  headerText(60).map((s) => `${s}${MARKER}`),
  fc.constant(`sk_live_${MARKER}a, sk_live_${MARKER}b`),
);
const versionValue = fc.oneof(
  fc.constantFrom("2024-06-01", "2024-11-15", "2025-03-01", "2023-08-01", "2023-01-01", "2024-02-29", "2024-02-30", ""),
  fc.date({ min: new Date("1900-01-01"), max: new Date("2200-01-01"), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
  headerText(40),
);
const ipValue = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), headerText(50));
const xffValue = fc.oneof(
  fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), headerText(20)), { maxLength: 30 }).map((a) => a.join(", ")),
  headerText(200),
);

const requestHeaders = fc.record(
  {
    "X-Spot-Api-Key": keyValue,
    "X-Spot-Api-Secret": secretValue,
    "X-Spot-Api-Version": versionValue,
    "CF-Connecting-IP": ipValue,
    "X-Forwarded-For": xffValue,
    "User-Agent": headerText(300),
    "X-Spot-Account-Id": headerText(40),
    Connection: headerText(60),
  },
  { requiredKeys: [] },
);

const ALLOWED_STATUSES = new Set([200, 400, 401, 403, 429]);

let origin: OriginStub;
beforeEach(async () => {
  clearKeyCache();
  clearFailedAuthLedger();
  await putKey(SECRET);
  origin = stubOrigins();
});
afterEach(() => {
  origin.restore();
  vi.restoreAllMocks();
});

describe("through the fetch handler", () => {
  it("no header combination gives a 500, an error outside the closed set, or a leaked secret", async () => {
    const logged: string[] = [];
    const capture = (...args: unknown[]) => {
      logged.push(args.map(String).join(" "));
    };
    vi.spyOn(console, "error").mockImplementation(capture);
    vi.spyOn(console, "log").mockImplementation(capture);
    await fc.assert(
      fc.asyncProperty(requestHeaders, fc.constantFrom("GET", "POST", "PUT", "DELETE"), async (headers, method) => {
        logged.length = 0;
        origin.received.length = 0;
        const { res, body, events } = await call("/v1/charges", { method, headers });
        expect(ALLOWED_STATUSES.has(res.status)).toBe(true);
        if (res.status !== 200) {
          const error = (body as { error: { code: ErrorCode; type: string; request_id: string } }).error;
          expect(res.headers.get("content-type")).toContain("application/json");
          expect(ERROR_CODES[error.code]?.status).toBe(res.status);
          expect(error.type).toBe(ERROR_CODES[error.code].type);
          expect(error.request_id).toBe(res.headers.get("x-request-id"));
        }
        expect(events).toHaveLength(1);
        const seen = [
          JSON.stringify(body),
          JSON.stringify([...res.headers]),
          JSON.stringify(events),
          logged.join("\n"),
          ...origin.received.map((r) => JSON.stringify([...r.headers])),
        ].join("\n");
        expect(seen).not.toContain(MARKER);
        expect(seen).not.toContain(SECRET);
        for (const got of origin.received) expect(got.headers.has("x-spot-api-secret")).toBe(false);
      }),
      { numRuns: 200, seed: 7007 },
    );
  });
});

describe("pure parsers never throw", () => {
  const anyText = fc.oneof(headerText(200), fc.string({ maxLength: 200 }), fc.string({ unit: "grapheme", maxLength: 50 }));
  const config = () => getConfig(env);

  it("credentials, duplicates, version resolution", () => {
    fc.assert(
      fc.property(anyText, anyText, anyText, (key, secret, version) => {
        const headers = new Headers();
        try {
          headers.set("X-Spot-Api-Key", key);
          headers.set("X-Spot-Api-Secret", secret);
          headers.set("X-Spot-Api-Version", version);
        } catch {
          return; // Not a valid header value: the runtime never hands such a request to the Worker.
        }
        findDuplicateHeader(headers);
        const presented = readCredentials(headers);
        if (!("code" in presented)) expect(presented.secret.secret).toBe(headers.get("X-Spot-Api-Secret"));
        const resolution = resolveVersion(version, config().versions, "2026-06-01");
        if (!resolution.ok) expect(resolution.message).not.toContain(secret.length >= 8 ? secret : "\u0000");
      }),
      { numRuns: 2000, seed: 7008 },
    );
  });

  it("client addresses, allowlists and the failure counter key", () => {
    fc.assert(
      fc.property(anyText, anyText, anyText, (connecting, forwarded, cidr) => {
        const chain = parseForwardedFor(forwarded);
        expect(chain.count).toBeGreaterThanOrEqual(chain.entries.length);
        const ip = resolveClientIp(connecting, forwarded);
        expect(failedAuthKey(ip.connectingIp)).toMatch(/^fail:/);
        const normal = normalizeCidr(cidr);
        if (normal.ok) {
          expect(normalizeCidr(normal.cidr)).toEqual(normal);
          isIpAllowed(ip.connectingIp, [normal.cidr]);
        }
      }),
      { numRuns: 2000, seed: 7009 },
    );
  });

  it("a range always contains its own network address, and an IPv4 range never matches IPv6", () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.ipV6(), (address, prefix, v6) => {
        const probe = normalizeCidr(`${address}/${prefix}`);
        const cidr = probe.ok ? probe.cidr : (probe.reason.match(/did you mean (\S+)\?/)?.[1] ?? "");
        const network = cidr.split("/")[0] ?? "";
        expect(isIpAllowed(network, [cidr])).toBe(true);
        expect(isIpAllowed(address, [cidr])).toBe(true);
        expect(isIpAllowed(v6, [cidr])).toBe(false);
      }),
      { numRuns: 1000, seed: 7010 },
    );
  });
});
