import { describe, expect, it } from "vitest";
import { ASSERTION_TTL_SECONDS, type AssertionInput, buildAssertionClaims, htuOf } from "../../../src/assertion/claims";

function input(overrides: Partial<AssertionInput> = {}): AssertionInput {
  return {
    issuer: "https://api.spot-thought.com",
    origin: "https://v2024-11-15.origin.test",
    accountId: "acct_123",
    keyId: "key_1",
    mode: "live",
    version: "2024-11-15",
    method: "POST",
    upstreamUrl: new URL("https://v2024-11-15.origin.test/v1/charges?limit=2"),
    requestId: "8d3f5a6e-1c2b-4d5e-9f00-112233445566",
    clientIp: {
      connectingIp: "198.51.100.23",
      sourceIp: "203.0.113.9",
      sourceIpFrom: "x-forwarded-for",
      forwarded: { raw: "203.0.113.9", rawLength: 11, entries: [], count: 1, truncated: false },
    },
    nowMs: Date.UTC(2026, 0, 2, 3, 4, 5, 999),
    ...overrides,
  };
}

describe("buildAssertionClaims", () => {
  it("maps the request to the claims, iat in whole seconds and exp 60 s later", () => {
    const iat = Math.floor(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000);
    expect(buildAssertionClaims(input())).toEqual({
      iss: "https://api.spot-thought.com",
      aud: "https://v2024-11-15.origin.test",
      sub: "acct_123",
      jti: "8d3f5a6e-1c2b-4d5e-9f00-112233445566",
      iat,
      exp: iat + 60,
      htm: "POST",
      htu: "https://v2024-11-15.origin.test/v1/charges",
      key_id: "key_1",
      key_mode: "live",
      api_version: "2024-11-15",
      connecting_ip: "198.51.100.23",
      source_ip: "203.0.113.9",
      source_ip_from: "x-forwarded-for",
    });
    expect(ASSERTION_TTL_SECONDS).toBe(60);
  });

  it("keeps unknown addresses as null, never drops the claim", () => {
    const claims = buildAssertionClaims(
      input({
        clientIp: {
          connectingIp: null,
          sourceIp: null,
          sourceIpFrom: "none",
          forwarded: { raw: null, rawLength: 0, entries: [], count: 0, truncated: false },
        },
      }),
    );
    expect(claims).toMatchObject({ connecting_ip: null, source_ip: null, source_ip_from: "none" });
    expect(Object.keys(claims)).toContain("connecting_ip");
  });
});

describe("htuOf (RFC 9449 §4.2: no query, no fragment)", () => {
  it.each([
    ["https://o.example/v1/charges?limit=2#x", "https://o.example/v1/charges"],
    ["https://o.example/base/v1/charges", "https://o.example/base/v1/charges"],
    ["http://127.0.0.1:8702/graphql?query=%7B%7D", "http://127.0.0.1:8702/graphql"],
    ["https://o.example:8443/a%2Fb/%C3%A9", "https://o.example:8443/a%2Fb/%C3%A9"],
    ["https://o.example//evil.example/x", "https://o.example//evil.example/x"],
    ["https://o.example/", "https://o.example/"],
  ])("%s → %s", (url, expected) => {
    expect(htuOf(new URL(url))).toBe(expected);
  });
});
