/**
 * The signed identity assertion end to end: the Worker forwards a request, the origin stub records
 * it, and the example verifier (examples/verify-assertion.mjs) checks it against the JWKS served by
 * the same Worker. Also: the JWKS route, forged identity headers, and failing closed without a key.
 */
import { env } from "cloudflare:workers";
import { generateKeyPair, SignJWT } from "jose";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AssertionRejectedError } from "../../examples/verify-assertion.mjs";
import { ASSERTION_TTL_SECONDS } from "../../src/assertion/claims";
import { JWKS_PATH } from "../../src/assertion/jwks";
import { clearAssertionSignerCache } from "../../src/assertion/signer";
import { clearKeyCache } from "../../src/keys/store";
import {
  decodeJws,
  encodeJws,
  ISSUER,
  type JwksFetches,
  KEY_1,
  KEY_2,
  publicJwkText,
  verifierFor,
  verifyInput,
} from "../helpers/assertion";
import { ACCOUNT, authHeaders, CONNECTING_IP, KEY_ID, putKey, SECRET } from "../helpers/fixtures";
import { type OriginStub, stubOrigins } from "../helpers/origin";
import { call } from "../helpers/worker";

const ORIGIN_NEW = "https://v2024-11-15.origin.test";
const ORIGIN_OLD = "https://v2024-06-01.origin.test";

let origin: OriginStub;
beforeEach(async () => {
  clearKeyCache();
  await putKey(SECRET);
  origin = stubOrigins();
});
afterEach(() => {
  origin.restore();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Forwards one request and returns what the origin received plus the Worker's response. */
async function forwarded(path = "/v1/charges", init: RequestInit = {}, bindings: Partial<Env> = {}) {
  const before = origin.received.length;
  const result = await call(path, { ...init, headers: authHeaders((init.headers ?? {}) as Record<string, string>) }, { bindings });
  expect(result.res.status).toBe(200);
  const got = origin.received[before];
  return { ...result, got, input: verifyInput(got), token: got?.headers.get("x-spot-assertion") ?? "" };
}

async function rejection(promise: Promise<unknown>): Promise<AssertionRejectedError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AssertionRejectedError);
  return err as AssertionRejectedError;
}

describe("the assertion the origin receives", () => {
  it("verifies, and its claims match the request", async () => {
    const { res, got, input, events } = await forwarded("/v1/charges?limit=2", {
      method: "POST",
      body: '{"amount":1}',
      headers: { "X-Spot-Api-Version": "2024-06-01", "X-Forwarded-For": "203.0.113.9, 10.0.0.1" },
    });
    const { claims, header } = await verifierFor(ORIGIN_OLD).verify(input);
    const now = Math.floor(Date.now() / 1000);
    expect(header).toEqual({ alg: "EdDSA", kid: KEY_1.kid, typ: "spot-assertion+jwt" });
    expect(claims).toEqual({
      iss: ISSUER,
      aud: ORIGIN_OLD,
      sub: ACCOUNT,
      jti: res.headers.get("x-request-id"),
      iat: expect.any(Number),
      exp: claims.iat + ASSERTION_TTL_SECONDS,
      htm: "POST",
      htu: `${ORIGIN_OLD}/v1/charges`,
      key_id: KEY_ID,
      key_mode: "live",
      api_version: "2024-06-01",
      connecting_ip: CONNECTING_IP,
      source_ip: "203.0.113.9",
      source_ip_from: "x-forwarded-for",
    });
    expect(Math.abs(claims.iat - now)).toBeLessThanOrEqual(2);
    // The plain headers say the same as the signed claims.
    expect(got?.headers.get("x-spot-account-id")).toBe(claims.sub);
    expect(got?.headers.get("x-spot-key-id")).toBe(claims.key_id);
    expect(got?.headers.get("x-request-id")).toBe(claims.jti);
    expect(events[0]?.request_id).toBe(claims.jti);
  });

  it("names the connecting address as the source when there is no X-Forwarded-For, and the default version's origin as audience", async () => {
    const { input } = await forwarded("/graphql", { method: "GET" });
    const { claims } = await verifierFor(ORIGIN_NEW).verify(input);
    expect(claims).toMatchObject({ aud: ORIGIN_NEW, api_version: "2024-11-15", htm: "GET", htu: `${ORIGIN_NEW}/graphql` });
    expect(claims).toMatchObject({ connecting_ip: CONNECTING_IP, source_ip: CONNECTING_IP, source_ip_from: "cf-connecting-ip" });
  });

  it("binds the path exactly as forwarded, percent-encoding kept", async () => {
    const { input } = await forwarded("/v1/customers/a%2Fb/%C3%A9?x=%20");
    const { claims } = await verifierFor(ORIGIN_NEW).verify(input);
    expect(claims.htu).toBe(`${ORIGIN_NEW}/v1/customers/a%2Fb/%C3%A9`);
  });

  it("is a different token for every request (jti = request id)", async () => {
    const a = await forwarded();
    const b = await forwarded();
    expect(a.token).not.toBe(b.token);
    const verifier = verifierFor(ORIGIN_NEW);
    expect((await verifier.verify(a.input)).claims.jti).not.toBe((await verifier.verify(b.input)).claims.jti);
  });

  it("rides along on a WebSocket handshake", async () => {
    origin.restore();
    origin = stubOrigins(() => {
      const pair = new WebSocketPair();
      pair[1].accept();
      return new Response(null, { status: 101, webSocket: pair[0] });
    });
    const { res } = await call("/v1/stream", { headers: authHeaders({ Upgrade: "websocket", Connection: "Upgrade" }) });
    expect(res.status).toBe(101);
    res.webSocket?.accept();
    res.webSocket?.close();
    const { claims } = await verifierFor(ORIGIN_NEW).verify(verifyInput(origin.received[0]));
    expect(claims).toMatchObject({ htm: "GET", htu: `${ORIGIN_NEW}/v1/stream` });
  });

  it("imports the signing key once per isolate, then only signs", async () => {
    clearAssertionSignerCache();
    const importKey = vi.spyOn(crypto.subtle, "importKey");
    await forwarded();
    const afterFirst = importKey.mock.calls.length;
    expect(afterFirst).toBeGreaterThan(0);
    await forwarded();
    await forwarded();
    // SECRET_HASH_KEY and the key store are cached too: nothing imports a key after the first request.
    expect(importKey.mock.calls.length).toBe(afterFirst);
  });
});

describe("the example verifier refuses", () => {
  it("a request without the header, or with two", async () => {
    const verifier = verifierFor(ORIGIN_NEW);
    expect((await rejection(verifier.verify({ method: "GET", target: "/v1/charges", assertion: null }))).reason).toBe("missing");
    const { input } = await forwarded();
    const twice = `${input.assertion}, ${input.assertion}`;
    expect((await rejection(verifier.verify({ ...input, assertion: twice }))).reason).toBe("malformed");
    expect((await rejection(verifier.verify({ ...input, assertion: [String(input.assertion), String(input.assertion)] }))).reason).toBe(
      "malformed",
    );
    // The same token alone is fine: the refusals above are about the duplicate.
    await expect(verifier.verify(input)).resolves.toBeTruthy();
  });

  const TAMPERED: [string, unknown][] = [
    ["iss", "https://evil.example"],
    ["aud", ORIGIN_OLD],
    ["sub", "acct_other"],
    ["jti", "00000000-0000-4000-8000-000000000000"],
    ["iat", 1],
    ["exp", 4_102_444_800],
    ["htm", "DELETE"],
    ["htu", `${ORIGIN_NEW}/v1/admin`],
    ["key_id", "key_other"],
    ["key_mode", "test"],
    ["api_version", "2025-03-01"],
    ["connecting_ip", "192.0.2.1"],
    ["source_ip", "192.0.2.1"],
    ["source_ip_from", "none"],
  ];
  it.each(TAMPERED)("a token whose %s was changed", async (claim, value) => {
    const { input, token } = await forwarded();
    const { header, payload, signature } = decodeJws(token);
    expect(payload).toHaveProperty(claim);
    expect(payload[claim]).not.toEqual(value);
    const tampered = encodeJws(header, { ...payload, [claim]: value }, signature);
    const verifier = verifierFor(ORIGIN_NEW);
    expect((await rejection(verifier.verify({ ...input, assertion: tampered }))).reason).toBe("invalid");
    // Control: re-encoding without a change still verifies.
    await expect(verifier.verify({ ...input, assertion: encodeJws(header, payload, signature) })).resolves.toBeTruthy();
  });

  it("a token whose header was changed (kid, typ)", async () => {
    const { input, token } = await forwarded();
    const { header, payload, signature } = decodeJws(token);
    const verifier = verifierFor(ORIGIN_NEW);
    for (const changed of [
      { ...header, kid: KEY_2.kid },
      { ...header, typ: "JWT" },
    ]) {
      expect((await rejection(verifier.verify({ ...input, assertion: encodeJws(changed, payload, signature) }))).reason).toBe("invalid");
    }
  });

  it("a token replayed for another path or method", async () => {
    const { input } = await forwarded("/v1/charges", { method: "POST", body: "{}" });
    const verifier = verifierFor(ORIGIN_NEW);
    await expect(verifier.verify(input)).resolves.toBeTruthy();
    for (const replay of [
      { ...input, target: "/v1/refunds" },
      { ...input, target: "/v1/charges/ch_1" },
      { ...input, target: "/v1/charges/" },
      { ...input, target: "/V1/charges" },
      { ...input, method: "GET" },
      { ...input, method: "DELETE" },
    ]) {
      expect((await rejection(verifier.verify(replay))).reason).toBe("binding_mismatch");
    }
    // Like DPoP's htu, the binding leaves out the query: the same path with another query verifies.
    await expect(verifier.verify({ ...input, target: "/v1/charges?other=1" })).resolves.toBeTruthy();
  });

  it("a token after its expiry (60 s, 5 s clock tolerance)", async () => {
    const { input } = await forwarded();
    const verifier = verifierFor(ORIGIN_NEW);
    const issuedMs = Date.now();
    vi.setSystemTime(issuedMs + 50_000);
    await expect(verifier.verify(input)).resolves.toBeTruthy();
    vi.setSystemTime(issuedMs + (ASSERTION_TTL_SECONDS + 7) * 1000);
    expect((await rejection(verifier.verify(input))).reason).toBe("expired");
  });

  it("a token the origin's own JWKS keys did not sign (another key, same kid or unknown kid)", async () => {
    const { input, token } = await forwarded();
    const { payload } = decodeJws(token);
    const { privateKey } = await generateKeyPair("EdDSA");
    const verifier = verifierFor(ORIGIN_NEW);
    for (const kid of [KEY_1.kid, "attacker-key"]) {
      const forged = await new SignJWT(payload).setProtectedHeader({ alg: "EdDSA", kid, typ: "spot-assertion+jwt" }).sign(privateKey);
      expect((await rejection(verifier.verify({ ...input, assertion: forged }))).reason).toBe("invalid");
    }
  });

  it("a token with another algorithm, even signed with the real key or keyed with the public key", async () => {
    const { input, token } = await forwarded();
    const { payload } = decodeJws(token);
    const verifier = verifierFor(ORIGIN_NEW);
    const realKey = await crypto.subtle.importKey("jwk", { ...KEY_1, key_ops: ["sign"] } as JsonWebKey, { name: "Ed25519" }, false, [
      "sign",
    ]);
    const header = { kid: KEY_1.kid, typ: "spot-assertion+jwt" };
    // Control: the real key with the pinned alg verifies.
    await expect(
      verifier.verify({ ...input, assertion: await new SignJWT(payload).setProtectedHeader({ ...header, alg: "EdDSA" }).sign(realKey) }),
    ).resolves.toBeTruthy();
    // RFC 9864's "Ed25519" name for the same signature is not the pinned alg.
    const renamed = await new SignJWT(payload).setProtectedHeader({ ...header, alg: "Ed25519" }).sign(realKey);
    expect((await rejection(verifier.verify({ ...input, assertion: renamed }))).reason).toBe("invalid");
    // Algorithm confusion: HMAC keyed with the published public key.
    const hs256 = await new SignJWT(payload)
      .setProtectedHeader({ ...header, alg: "HS256" })
      .sign(new TextEncoder().encode(publicJwkText(KEY_1)));
    expect((await rejection(verifier.verify({ ...input, assertion: hs256 }))).reason).toBe("invalid");
    const { privateKey: p256 } = await generateKeyPair("ES256");
    const es256 = await new SignJWT(payload).setProtectedHeader({ ...header, alg: "ES256" }).sign(p256);
    expect((await rejection(verifier.verify({ ...input, assertion: es256 }))).reason).toBe("invalid");
    const { header: h } = decodeJws(token);
    const unsigned = `${encodeJws({ ...h, alg: "none" }, payload, "").slice(0, -1)}.`;
    expect((await rejection(verifier.verify({ ...input, assertion: unsigned }))).reason).toBe("malformed");
  });

  it("another algorithm even when the JWKS a verifier gets lists keys without their alg: the verifier's own pin refuses it", async () => {
    const { input, token } = await forwarded();
    const { payload } = decodeJws(token);
    const { createAssertionVerifier } = await import("../../examples/verify-assertion.mjs");
    const { alg: _alg, ...withoutAlg } = JSON.parse(publicJwkText(KEY_1)) as Record<string, unknown>;
    const verifier = createAssertionVerifier({
      jwksUrl: "https://api.spot-thought.com/.well-known/spot-authorizer/jwks.json",
      issuer: ISSUER,
      audience: ORIGIN_NEW,
      fetch: async () => Response.json({ keys: [withoutAlg] }),
    });
    const realKey = await crypto.subtle.importKey("jwk", { ...KEY_1, alg: undefined } as JsonWebKey, { name: "Ed25519" }, false, ["sign"]);
    const header = { kid: KEY_1.kid, typ: "spot-assertion+jwt" };
    await expect(verifier.verify(input)).resolves.toBeTruthy();
    const renamed = await new SignJWT(payload).setProtectedHeader({ ...header, alg: "Ed25519" }).sign(realKey);
    const refused = await rejection(verifier.verify({ ...input, assertion: renamed }));
    expect(refused.reason).toBe("invalid");
    expect(refused.message).toContain("alg");
  });

  it("a token signed with the real key but untyped, living too long, or missing a claim", async () => {
    const { input, token } = await forwarded();
    const { payload } = decodeJws(token);
    const verifier = verifierFor(ORIGIN_NEW);
    const realKey = await crypto.subtle.importKey("jwk", { ...KEY_1, key_ops: ["sign"] } as JsonWebKey, { name: "Ed25519" }, false, [
      "sign",
    ]);
    const sign = (claims: Record<string, unknown>, typ = "spot-assertion+jwt") =>
      new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", kid: KEY_1.kid, typ }).sign(realKey);
    await expect(verifier.verify({ ...input, assertion: await sign(payload) })).resolves.toBeTruthy();
    expect((await rejection(verifier.verify({ ...input, assertion: await sign(payload, "JWT") }))).reason).toBe("invalid");
    const now = Math.floor(Date.now() / 1000);
    const longLived = await sign({ ...payload, iat: now - 120, exp: now + 3600 });
    expect((await rejection(verifier.verify({ ...input, assertion: longLived }))).reason).toBe("expired");
    for (const claim of ["sub", "jti", "key_id", "key_mode", "api_version", "htm", "htu", "exp"]) {
      const { [claim]: _gone, ...rest } = payload;
      expect((await rejection(verifier.verify({ ...input, assertion: await sign(rest) }))).reason, claim).toBe("invalid");
    }
  });

  it("a token for another origin (audience), or checked against another issuer", async () => {
    const { input } = await forwarded("/v1/charges", { headers: { "X-Spot-Api-Version": "2024-06-01" } });
    await expect(verifierFor(ORIGIN_OLD).verify(input)).resolves.toBeTruthy();
    const atOtherOrigin = await rejection(verifierFor(ORIGIN_NEW).verify(input));
    expect(atOtherOrigin.reason).toBe("invalid");
    expect(atOtherOrigin.message).toContain('"aud"');
    const { createAssertionVerifier } = await import("../../examples/verify-assertion.mjs");
    const otherIssuer = createAssertionVerifier({
      jwksUrl: "https://api.spot-thought.com/.well-known/spot-authorizer/jwks.json",
      issuer: "https://other-authorizer.example",
      audience: ORIGIN_OLD,
      fetch: async () => Response.json({ keys: [JSON.parse(publicJwkText(KEY_1))] }),
    });
    expect((await rejection(otherIssuer.verify(input))).reason).toBe("invalid");
  });

  it("with jwks_unavailable (not a 401) when the JWKS cannot be fetched", async () => {
    const { input } = await forwarded();
    const { createAssertionVerifier } = await import("../../examples/verify-assertion.mjs");
    const down = createAssertionVerifier({
      jwksUrl: "https://api.spot-thought.com/.well-known/spot-authorizer/jwks.json",
      issuer: ISSUER,
      audience: ORIGIN_NEW,
      fetch: async () => new Response("unavailable", { status: 503 }),
    });
    expect((await rejection(down.verify(input))).reason).toBe("jwks_unavailable");
  });
});

describe("client-sent identity headers never reach the origin", () => {
  const SPELLINGS = [
    ["X-Spot-Assertion", "x-spot-assertion"],
    ["x-spot-assertion", "x-spot-assertion"],
    ["X_Spot_Assertion", "x-spot-assertion"],
    ["X.Spot.Assertion", "x-spot-assertion"],
    ["X-Spot-Account-Id", "x-spot-account-id"],
    ["X-SPOT-ACCOUNT-ID", "x-spot-account-id"],
    ["X_Spot_Account_Id", "x-spot-account-id"],
    ["x.spot.account.id", "x-spot-account-id"],
    ["X-Spot-Key-Id", "x-spot-key-id"],
    ["X_SPOT_KEY_ID", "x-spot-key-id"],
    ["X-Spot-Key-Mode", "x-spot-key-mode"],
    ["x_spot_key_mode", "x-spot-key-mode"],
    ["X-Spot-Account_Id", "x-spot-account-id"],
  ] as const;

  it.each(SPELLINGS)("%s: stripped silently, ours sent instead, recorded in the audit event", async (name, canonical) => {
    const { got, input, events } = await forwarded("/v1/charges", { headers: { [name]: "forged-value" } });
    for (const [, value] of got?.headers ?? []) expect(value).not.toContain("forged-value");
    expect(got?.headers.get("x-spot-account-id")).toBe(ACCOUNT);
    expect(got?.headers.get("x-spot-key-id")).toBe(KEY_ID);
    expect(got?.headers.get("x-spot-key-mode")).toBe("live");
    await expect(verifierFor(ORIGIN_NEW).verify(input)).resolves.toBeTruthy();
    expect(events[0]).toMatchObject({ outcome: "allowed", forged_headers: [canonical], forged_headers_count: 1 });
    expect(JSON.stringify(events)).not.toContain("forged-value");
  });

  it("the client's own version header in another spelling is stripped, the resolved version sent", async () => {
    const { got, events } = await forwarded("/v1/charges", { headers: { X_Spot_Api_Version: "2025-03-01" } });
    expect(got?.headers.get("x-spot-api-version")).toBe("2024-11-15");
    expect(events[0]?.forged_headers).toEqual([]);
  });

  it("a forged assertion plus Connection naming ours: the origin gets exactly one assertion, ours", async () => {
    const fake = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhY2N0X2FkbWluIn0.";
    const { got, input, events } = await forwarded("/v1/charges", {
      headers: { "X-Spot-Assertion": fake, "X-Spot-Account-Id": "acct_admin", Connection: "X-Spot-Assertion, X-Spot-Account-Id" },
    });
    expect(input.assertion).not.toContain(",");
    expect(input.assertion).not.toBe(fake);
    expect(got?.headers.get("x-spot-account-id")).toBe(ACCOUNT);
    expect((await verifierFor(ORIGIN_NEW).verify(input)).claims.sub).toBe(ACCOUNT);
    expect(events[0]?.forged_headers).toEqual(["x-spot-account-id", "x-spot-assertion"]);
  });

  it("attempts are recorded on denied requests too", async () => {
    const { res, events } = await call("/v1/charges", { headers: { "X-Spot-Account-Id": ACCOUNT, X_Spot_Key_Id: KEY_ID } });
    expect(res.status).toBe(401);
    expect(origin.received).toHaveLength(0);
    expect(events[0]).toMatchObject({ outcome: "denied", forged_headers: ["x-spot-account-id", "x-spot-key-id"], forged_headers_count: 2 });
  });
});

describe("fail closed without a usable signing key", () => {
  const GOOD = env.ASSERTION_SIGNING_KEY;
  const BAD: [string, Partial<Env>][] = [
    ["missing", { ASSERTION_SIGNING_KEY: undefined as unknown as string }],
    ["empty", { ASSERTION_SIGNING_KEY: "" }],
    ["not JSON (a PEM)", { ASSERTION_SIGNING_KEY: `-----BEGIN PRIVATE KEY-----${KEY_1.d}` }],
    ["truncated JSON", { ASSERTION_SIGNING_KEY: GOOD.slice(0, -2) }],
    ["a public key only", { ASSERTION_SIGNING_KEY: publicJwkText(KEY_1) }],
    ["no kid", { ASSERTION_SIGNING_KEY: JSON.stringify({ ...KEY_1, kid: undefined }) }],
    ["an EC key", { ASSERTION_SIGNING_KEY: JSON.stringify({ ...KEY_1, kty: "EC", crv: "P-256" }) }],
    ["another alg", { ASSERTION_SIGNING_KEY: JSON.stringify({ ...KEY_1, alg: "ES256" }) }],
    ["x not the public key of d", { ASSERTION_SIGNING_KEY: JSON.stringify({ ...KEY_1, x: KEY_2.x }) }],
    ["a short d", { ASSERTION_SIGNING_KEY: JSON.stringify({ ...KEY_1, d: KEY_1.d.slice(0, 20) }) }],
    ["an extra public key with its private part", { ASSERTION_EXTRA_PUBLIC_KEY: JSON.stringify(KEY_2) }],
    ["an extra public key with the signing kid", { ASSERTION_EXTRA_PUBLIC_KEY: publicJwkText({ ...KEY_2, kid: KEY_1.kid }) }],
    ["no issuer", { ASSERTION_ISSUER: "" }],
    ["an issuer that is not a URL", { ASSERTION_ISSUER: "spot authorizer" }],
  ];

  it.each(BAD)("%s: 503 authorizer_unavailable, nothing forwarded, one log line without key material", async (_what, bindings) => {
    const logs = vi.spyOn(console, "error").mockImplementation(() => {});
    const { res, body, events } = await call("/v1/charges", { headers: authHeaders() }, { bindings });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("30");
    expect(body).toMatchObject({ error: { type: "api_error", code: "authorizer_unavailable" } });
    expect(origin.received).toHaveLength(0);
    expect(events[0]).toMatchObject({ outcome: "error", reason: "authorizer_unavailable", account_verified: true });
    const lines = logs.mock.calls.map((args) => JSON.parse(String(args[0])) as Record<string, unknown>);
    const line = lines.find((l) => l.msg === "assertion_key_invalid");
    expect(line).toMatchObject({ level: "error", request_id: res.headers.get("x-request-id") });
    expect(String(line?.error)).toMatch(/ASSERTION_(SIGNING_KEY|EXTRA_PUBLIC_KEY|ISSUER)/);
    for (const l of lines) {
      expect(JSON.stringify(l)).not.toContain(KEY_1.d);
      expect(JSON.stringify(l)).not.toContain(KEY_2.d);
    }
    // The JWKS is refused the same way.
    const jwks = await call(JWKS_PATH, {}, { bindings });
    expect(jwks.res.status).toBe(503);
  });

  it("caches the failure per isolate (no re-import per request) and recovers when the setting changes", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const broken = { ASSERTION_SIGNING_KEY: JSON.stringify({ ...KEY_1, x: KEY_2.x }) };
    clearAssertionSignerCache();
    const importKey = vi.spyOn(crypto.subtle, "importKey");
    expect((await call("/v1/charges", { headers: authHeaders() }, { bindings: broken })).res.status).toBe(503);
    const tried = importKey.mock.calls.filter(([format]) => format === "jwk").length;
    expect(tried).toBeGreaterThan(0);
    expect((await call("/v1/charges", { headers: authHeaders() }, { bindings: broken })).res.status).toBe(503);
    expect(importKey.mock.calls.filter(([format]) => format === "jwk").length).toBe(tried);
    // A new deployment with a good key: the next request imports it and goes through.
    expect((await call("/v1/charges", { headers: authHeaders() })).res.status).toBe(200);
    expect(origin.received).toHaveLength(1);
  });
});

describe("the JWKS route", () => {
  it("answers without credentials, with cache headers, public members only, and is never forwarded or audited", async () => {
    const { res, body, events, kvReads } = await call(JWKS_PATH);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/jwk-set+json");
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(String(body))).toEqual({
      keys: [{ kty: "OKP", crv: "Ed25519", x: KEY_1.x, kid: KEY_1.kid, alg: "EdDSA", use: "sig" }],
    });
    expect(String(body)).not.toContain(KEY_1.d);
    expect(origin.received).toHaveLength(0);
    expect(kvReads).toEqual([]);
    expect(events).toEqual([]);
  });

  it("with valid credentials it is still the JWKS, not a proxied path", async () => {
    const { res } = await call(JWKS_PATH, { headers: authHeaders() });
    expect(res.status).toBe(200);
    expect(origin.received).toHaveLength(0);
  });

  it("HEAD has the headers and no body; other methods are 405; other reserved paths are 404; none is forwarded", async () => {
    const head = await call(JWKS_PATH, { method: "HEAD" });
    expect(head.res.status).toBe(200);
    expect(head.res.headers.get("content-type")).toBe("application/jwk-set+json");
    expect(head.body).toBe("");
    const post = await call(JWKS_PATH, { method: "POST", body: "{}", headers: authHeaders() });
    expect(post.res.status).toBe(405);
    expect(post.res.headers.get("allow")).toBe("GET, HEAD");
    expect(post.body).toMatchObject({ error: { code: "method_not_allowed", request_id: post.res.headers.get("x-request-id") } });
    for (const path of ["/.well-known/spot-authorizer", "/.well-known/spot-authorizer/", "/.well-known/spot-authorizer/keys.json"]) {
      const other = await call(path, { headers: authHeaders() });
      expect(other.res.status).toBe(404);
    }
    expect(origin.received).toHaveLength(0);
  });

  it("publishes two keys during a rotation, and no assertion fails across the switch", async () => {
    const pub1 = publicJwkText(KEY_1);
    const pub2 = publicJwkText(KEY_2);
    // Phase 1: sign with key 1, publish key 2 ahead. An origin fetches (and caches) the JWKS now.
    const phase1 = { ASSERTION_EXTRA_PUBLIC_KEY: pub2 };
    const jwks1 = await call(JWKS_PATH, {}, { bindings: phase1 });
    expect((JSON.parse(String(jwks1.body)) as { keys: { kid: string }[] }).keys.map((k) => k.kid)).toEqual([KEY_1.kid, KEY_2.kid]);
    const fetches: JwksFetches = { urls: [] };
    const cachedVerifier = verifierFor(ORIGIN_NEW, phase1, fetches);
    const before = await forwarded("/v1/charges", {}, phase1);
    await expect(cachedVerifier.verify(before.input)).resolves.toBeTruthy();
    expect(fetches.urls).toHaveLength(1);

    // Phase 2 (one deployment: `wrangler secret bulk`): sign with key 2, keep key 1 published.
    const phase2 = { ASSERTION_SIGNING_KEY: env.TEST_ASSERTION_KEY_2, ASSERTION_EXTRA_PUBLIC_KEY: pub1 };
    const after = await forwarded("/v1/charges", {}, phase2);
    expect(decodeJws(after.token).header.kid).toBe(KEY_2.kid);
    // The origin's cached JWKS already knows key 2: no refetch needed.
    await expect(cachedVerifier.verify(after.input)).resolves.toBeTruthy();
    expect(fetches.urls).toHaveLength(1);
    // An origin fetching the JWKS now still verifies assertions signed just before the switch.
    const fresh = verifierFor(ORIGIN_NEW, phase2);
    await expect(fresh.verify(before.input)).resolves.toBeTruthy();
    await expect(fresh.verify(after.input)).resolves.toBeTruthy();

    // Phase 3: key 1 removed; its assertions (long expired by then) no longer verify anywhere.
    const phase3 = { ASSERTION_SIGNING_KEY: env.TEST_ASSERTION_KEY_2 };
    const jwks3 = await call(JWKS_PATH, {}, { bindings: phase3 });
    expect((JSON.parse(String(jwks3.body)) as { keys: { kid: string }[] }).keys.map((k) => k.kid)).toEqual([KEY_2.kid]);
    const afterRemoval = verifierFor(ORIGIN_NEW, phase3);
    expect((await rejection(afterRemoval.verify(before.input))).reason).toBe("invalid");
    await expect(afterRemoval.verify(after.input)).resolves.toBeTruthy();
  });
});
