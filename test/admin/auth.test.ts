/**
 * Admin authentication through the Worker: the JWT checks (jose), the write permission, API keys
 * refused, the configuration failing closed, a remote JWKS, and the audit trail of refusals.
 */
import { env } from "cloudflare:workers";
import { exportJWK, generateKeyPair } from "jose";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { bearerToken, CLOCK_TOLERANCE_SECONDS, getAdminAuthConfig, issuedAtProblem, permissionsOf } from "../../src/admin/auth";
import { clearKeyCache } from "../../src/keys/store";
import { ADMIN, AUDIENCE, adminCall, adminToken, adminTokenFromClaimsText, createKey, errorOf, ISSUER } from "../helpers/admin";
import { type OriginStub, stubOrigins } from "../helpers/origin";
import { call } from "../helpers/worker";

let origin: OriginStub;
beforeEach(() => {
  clearKeyCache();
  origin = stubOrigins();
});
afterEach(() => {
  origin.restore();
  vi.restoreAllMocks();
});

let otherEs256: { privateKey: CryptoKey; publicKey: CryptoKey };
let rs256: { privateKey: CryptoKey; publicKey: CryptoKey };
beforeAll(async () => {
  otherEs256 = await generateKeyPair("ES256", { extractable: true });
  rs256 = await generateKeyPair("RS256", { extractable: true });
});

describe("tokens", () => {
  it("no Authorization header → 401 missing_admin_token with a Bearer challenge", async () => {
    const { res, body, adminEvents } = await adminCall("GET", "/accounts/acct_1/keys", { token: null });
    expect(res.status).toBe(401);
    expect(errorOf(body)).toMatchObject({ type: "authentication_error", code: "missing_admin_token" });
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="spot-admin"');
    expect(adminEvents[0]).toMatchObject({ action: "key.list", outcome: "denied", reason: "missing_admin_token", actor_sub: null });
  });

  it.each([
    ["the wrong audience", () => adminToken({ audience: "someone-else" }), '"aud"'],
    ["the wrong issuer", () => adminToken({ issuer: "https://evil.test" }), '"iss"'],
    ["an expired token", () => adminToken({ expiresIn: -120 }), "expired"],
    ["no sub", () => adminToken({ sub: null }), '"sub"'],
    [
      "a signature by another key with the trusted kid",
      () => adminToken({ key: { key: otherEs256.privateKey, alg: "ES256", kid: "test-admin" } }),
      "signature",
    ],
    ["a key the JWKS does not have", () => adminToken({ key: { key: otherEs256.privateKey, alg: "ES256", kid: "stranger" } }), "no key"],
    ["an algorithm not pinned (RS256)", () => adminToken({ key: { key: rs256.privateKey, alg: "RS256", kid: "test-admin" } }), "algorithm"],
    ["HS256 with a shared secret", () => adminToken({ key: { key: new TextEncoder().encode("x".repeat(32)), alg: "HS256" } }), "algorithm"],
    ["garbage", async () => "not.a.jwt", "not a valid"],
  ])("%s → 401 invalid_admin_token", async (_name, make, reason) => {
    const { res, body } = await adminCall("GET", "/accounts/acct_1/keys", { token: await make() });
    expect(res.status).toBe(401);
    expect(errorOf(body)).toMatchObject({ type: "authentication_error", code: "invalid_admin_token" });
    expect(errorOf(body).message).toContain(reason);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="spot-admin", error="invalid_token"');
  });

  it("an unsigned token (alg none) → 401", async () => {
    const header = btoa(JSON.stringify({ alg: "none" })).replace(/=+$/, "");
    const claims = btoa(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: "x", exp: Math.floor(Date.now() / 1000) + 60 })).replace(
      /=+$/,
      "",
    );
    const { res, body } = await adminCall("GET", "/accounts/acct_1/keys", { token: `${header}.${claims}.` });
    expect(res.status).toBe(401);
    expect(errorOf(body).code).toBe("invalid_admin_token");
  });

  it.each([["Basic dXNlcjpwYXNz"], ["Bearer"], ["Bearer a b"], ["Token abc"]])(
    "Authorization %j → 401 invalid_admin_token",
    async (value) => {
      const { res, body } = await adminCall("GET", "/accounts/acct_1/keys", { token: null, headers: { Authorization: value } });
      expect(res.status).toBe(401);
      expect(errorOf(body).code).toBe("invalid_admin_token");
    },
  );

  it("the scheme is case-insensitive", async () => {
    await createKey("acct_case");
    const { res } = await adminCall("GET", "/accounts/acct_case/keys", {
      token: null,
      headers: { Authorization: `bearer ${await adminToken()}` },
    });
    expect(res.status).toBe(200);
  });
});

describe("issued at (iat)", () => {
  /** A write token's claims set as JSON text with `iat` written as given (any JSON value, even 1e400). */
  const claimsWithIat = (iatJson: string) => {
    const now = Math.floor(Date.now() / 1000);
    const rest = JSON.stringify({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: "ops@spot-thought.test",
      permissions: ["keys:read", "keys:write"],
      exp: now + 300,
    });
    return `${rest.slice(0, -1)},"iat":${iatJson}}`;
  };

  it.each([
    ["10 minutes ahead", 600],
    ["past the clock tolerance", CLOCK_TOLERANCE_SECONDS + 5],
  ])("an iat %s → 401 invalid_admin_token naming iat, on reads and writes; nothing created", async (_name, ahead) => {
    const token = await adminToken({ issuedAt: ahead });
    for (const method of ["GET", "POST"]) {
      const { res, body, adminEvents } = await adminCall(method, "/accounts/acct_iat1/keys", { token });
      expect(res.status).toBe(401);
      expect(errorOf(body)).toMatchObject({ type: "authentication_error", code: "invalid_admin_token" });
      expect(errorOf(body).message).toContain('"iat"');
      expect(errorOf(body).message).toContain("future");
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="spot-admin", error="invalid_token"');
      expect(adminEvents[0]).toMatchObject({ outcome: "denied", reason: "invalid_admin_token", actor_sub: null });
    }
    expect((await adminCall("GET", "/accounts/acct_iat1/keys")).res.status).toBe(404);
  });

  it.each([
    ["within the clock tolerance ahead", { issuedAt: CLOCK_TOLERANCE_SECONDS - 5 }],
    ["an hour ago (exp bounds a token's life, not iat)", { issuedAt: -3600 }],
    ["absent (iat is checked only when present)", { issuedAt: null }],
  ])("an iat %s → accepted", async (_name, options) => {
    const token = await adminToken(options);
    expect((await adminCall("POST", "/accounts/acct_iat2/keys", { token })).res.status).toBe(201);
  });

  it.each([
    ["a string", '"2026-11-30T14:00:00Z"'],
    ["a numeric string", '"1700000000"'],
    ["null", "null"],
    ["a boolean", "true"],
    ["an array", "[1700000000]"],
    ["a number too large for a double (JSON 1e400 parses to Infinity)", "1e400"],
  ])("an iat that is %s → 401 invalid_admin_token naming iat", async (_name, iatJson) => {
    const token = await adminTokenFromClaimsText(claimsWithIat(iatJson));
    const { res, body } = await adminCall("GET", "/accounts/acct_iat3/keys", { token });
    expect(res.status).toBe(401);
    expect(errorOf(body).code).toBe("invalid_admin_token");
    expect(errorOf(body).message).toContain('"iat"');
  });

  it("a token made by the same helper with a valid iat passes (the claims text helper itself is sound)", async () => {
    await createKey("acct_iat4");
    const token = await adminTokenFromClaimsText(claimsWithIat(String(Math.floor(Date.now() / 1000))));
    expect((await adminCall("GET", "/accounts/acct_iat4/keys", { token })).res.status).toBe(200);
  });

  it("an nbf in the future is refused the same way (jose's check)", async () => {
    const token = await adminToken({ claims: { nbf: Math.floor(Date.now() / 1000) + 600 } });
    const { res, body } = await adminCall("GET", "/accounts/acct_iat5/keys", { token });
    expect(res.status).toBe(401);
    expect(errorOf(body).message).toContain('"nbf"');
  });
});

describe("permissions", () => {
  it("a token without keys:write may read but not write → 403 insufficient_permission", async () => {
    const { keyId } = await createKey("acct_p1");
    const reader = await adminToken({ claims: { permissions: ["keys:read"] } });
    expect((await adminCall("GET", "/accounts/acct_p1/keys", { token: reader })).res.status).toBe(200);
    expect((await adminCall("GET", `/accounts/acct_p1/keys/${keyId}`, { token: reader })).res.status).toBe(200);
    for (const [path, body] of [
      ["/accounts/acct_p1/keys", {}],
      ["/accounts/acct_p1/keys/import", { secret: "sk_live_readonly1" }],
      [`/accounts/acct_p1/keys/${keyId}/rotate`, {}],
      [`/accounts/acct_p1/keys/${keyId}/revoke`, {}],
    ] as const) {
      const { res, body: out, adminEvents } = await adminCall("POST", path, { token: reader, body });
      expect(res.status).toBe(403);
      expect(errorOf(out)).toMatchObject({ type: "permission_error", code: "insufficient_permission" });
      expect(res.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
      expect(adminEvents[0]).toMatchObject({ outcome: "denied", reason: "insufficient_permission", actor_sub: "ops@spot-thought.test" });
    }
    // Nothing changed.
    const list = await adminCall("GET", "/accounts/acct_p1/keys");
    expect((list.body as { keys: { status: string }[] }).keys.map((k) => k.status)).toEqual(["active"]);
  });

  it("a space-separated permissions string counts too", async () => {
    const token = await adminToken({ claims: { permissions: "keys:read keys:write" } });
    expect((await adminCall("POST", "/accounts/acct_p2/keys", { token })).res.status).toBe(201);
  });

  it("a token with no permissions claim cannot write", async () => {
    const token = await adminToken({ claims: { permissions: undefined } });
    expect((await adminCall("POST", "/accounts/acct_p3/keys", { token })).res.status).toBe(403);
  });

  it("authentication comes before validation: a bad body without a token is a 401", async () => {
    const { res } = await adminCall("POST", "/accounts/acct_p4/keys", { token: null, body: { mode: "prod" } });
    expect(res.status).toBe(401);
  });
});

describe("writer lists (Cloudflare Access emails, groups, service tokens)", () => {
  const reader = (claims: Record<string, unknown>, sub?: string | null) =>
    adminToken({ claims: { permissions: ["keys:read"], ...claims }, ...(sub === undefined ? {} : { sub }) });
  /** An Access service token: `sub` "", `common_name` = the client id, no email (docs: application token). */
  const serviceToken = (clientId: string) =>
    adminToken({ sub: null, claims: { sub: "", common_name: clientId, email: undefined, permissions: undefined } });
  const create = async (account: string, token: string, bindings: Partial<Env> = {}) =>
    adminCall("POST", `/accounts/${account}/keys`, { token, call: { bindings } });

  it("an email in ADMIN_WRITERS_EMAILS may write (case-insensitive); another email → 403 insufficient_permission", async () => {
    const bindings = { ADMIN_WRITERS_EMAILS: " alice@example.test , bob@example.test" } as Partial<Env>;
    expect((await create("acct_w1", await reader({ email: "Alice@Example.TEST" }), bindings)).res.status).toBe(201);
    const refused = await create("acct_w1", await reader({ email: "mallory@example.test" }), bindings);
    expect(refused.res.status).toBe(403);
    expect(errorOf(refused.body).code).toBe("insufficient_permission");
    // Reading still needs only a valid token.
    const read = await adminCall("GET", "/accounts/acct_w1/keys", {
      token: await reader({ email: "mallory@example.test" }),
      call: { bindings },
    });
    expect(read.res.status).toBe(200);
  });

  it("a service token whose common_name is in ADMIN_WRITERS_SERVICE_TOKENS may write; the admin event names it", async () => {
    const bindings = { ADMIN_WRITERS_SERVICE_TOKENS: "e367826f93b8d71185e03fe518aff3b4.access" } as Partial<Env>;
    const { res, adminEvents } = await create("acct_w2", await serviceToken("e367826f93b8d71185e03fe518aff3b4.access"), bindings);
    expect(res.status).toBe(201);
    expect(adminEvents[0]).toMatchObject({ outcome: "allowed", actor_sub: "e367826f93b8d71185e03fe518aff3b4.access", actor_email: null });
    const other = await create("acct_w2", await serviceToken("0000.access"), bindings);
    expect(other.res.status).toBe(403);
    expect(other.adminEvents[0]).toMatchObject({ reason: "insufficient_permission", actor_sub: "0000.access" });
    // Not listed anywhere: it may still read.
    expect((await adminCall("GET", "/accounts/acct_w2/keys", { token: await serviceToken("0000.access") })).res.status).toBe(200);
  });

  it("an empty sub without a common_name is refused; an email list does not match a service token", async () => {
    const noOne = await adminCall("GET", "/accounts/acct_w3/keys", { token: await adminToken({ sub: null, claims: { sub: "" } }) });
    expect(noOne.res.status).toBe(401);
    expect(errorOf(noOne.body).message).toContain('"sub"');
    const bindings = { ADMIN_WRITERS_EMAILS: "ops@spot-thought.test" } as Partial<Env>;
    const token = await adminToken({
      sub: null,
      claims: { sub: "", common_name: "svc.access", email: "ops@spot-thought.test", permissions: [] },
    });
    expect((await create("acct_w3", token, bindings)).res.status).toBe(403);
  });

  it("Cf-Access-Jwt-Assertion without Authorization is accepted for a service token only", async () => {
    const bindings = { ADMIN_WRITERS_SERVICE_TOKENS: "ci.access" } as Partial<Env>;
    const viaAccess = await adminCall("POST", "/accounts/acct_w4/keys", {
      token: null,
      headers: { "Cf-Access-Jwt-Assertion": await serviceToken("ci.access") },
      call: { bindings },
    });
    expect(viaAccess.res.status).toBe(201);
    expect(viaAccess.adminEvents[0]).toMatchObject({ actor_sub: "ci.access" });
    // A person's token arrives with a browser cookie: it must come as Bearer.
    const person = await adminCall("GET", "/accounts/acct_w4/keys", {
      token: null,
      headers: { "Cf-Access-Jwt-Assertion": await adminToken() },
    });
    expect(person.res.status).toBe(401);
    expect(errorOf(person.body).message).toContain("service tokens only");
    // Authorization, when sent, is what counts.
    const both = await adminCall("GET", "/accounts/acct_w4/keys", { headers: { "Cf-Access-Jwt-Assertion": "garbage" } });
    expect(both.res.status).toBe(200);
  });

  it("a group in ADMIN_WRITERS_GROUPS at the groups claim path (default custom.groups; exact match) may write", async () => {
    const bindings = { ADMIN_WRITERS_GROUPS: "Spot Admins,ops" } as Partial<Env>;
    expect((await create("acct_w5", await reader({ custom: { groups: ["staff", "Spot Admins"] } }), bindings)).res.status).toBe(201);
    expect((await create("acct_w5", await reader({ custom: { groups: "ops" } }), bindings)).res.status).toBe(201);
    expect((await create("acct_w5", await reader({ custom: { groups: ["spot admins"] } }), bindings)).res.status).toBe(403);
    expect((await create("acct_w5", await reader({ groups: ["ops"] }), bindings)).res.status).toBe(403);
    const topLevel = { ...bindings, ADMIN_GROUPS_CLAIM: "groups" } as Partial<Env>;
    expect((await create("acct_w5", await reader({ groups: ["ops"] }), topLevel)).res.status).toBe(201);
  });

  it("ADMIN_PERMISSIONS_CLAIM may be a dotted path, or a top-level name holding dots", async () => {
    const dotted = { ADMIN_PERMISSIONS_CLAIM: "custom.permissions" } as Partial<Env>;
    const nested = await adminToken({ claims: { permissions: undefined, custom: { permissions: ["keys:write"] } } });
    expect((await create("acct_w6", nested, dotted)).res.status).toBe(201);
    const topOnly = await adminToken({ claims: { permissions: ["keys:write"], custom: { permissions: ["keys:read"] } } });
    expect((await create("acct_w6", topOnly, dotted)).res.status).toBe(403);
    const namespaced = { ADMIN_PERMISSIONS_CLAIM: "https://spot-thought.test/permissions" } as Partial<Env>;
    const withNamespaced = await adminToken({ claims: { permissions: undefined, "https://spot-thought.test/permissions": "keys:write" } });
    expect((await create("acct_w6", withNamespaced, namespaced)).res.status).toBe(201);
  });
});

describe("API keys are never accepted", () => {
  it.each([
    [{ "X-Spot-Api-Key": "acct_1", "X-Spot-Api-Secret": "sk_live_abcd" }],
    [{ "X-Spot-Api-Key": "acct_1" }],
    [{ "X-Spot-Api-Secret": "" }],
  ])("API-key headers %j (even with a valid admin token) → 401 api_key_not_accepted, nothing proxied", async (headers) => {
    const { res, body, adminEvents, kvReads } = await adminCall("GET", "/accounts/acct_1/keys", { headers });
    expect(res.status).toBe(401);
    expect(errorOf(body)).toMatchObject({ type: "authentication_error", code: "api_key_not_accepted" });
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="spot-admin"');
    expect(origin.received).toHaveLength(0);
    expect(kvReads).toEqual([]);
    expect(adminEvents[0]).toMatchObject({ action: "unknown", reason: "api_key_not_accepted", actor_sub: null, account_id: "acct_1" });
  });

  it("a working API key does not open the admin API", async () => {
    const { secret } = await createKey("acct_k1");
    const { res, body } = await call(`${ADMIN}/accounts/acct_k1/keys`, {
      headers: { "X-Spot-Api-Key": "acct_k1", "X-Spot-Api-Secret": secret },
    });
    expect(res.status).toBe(401);
    expect(errorOf(body).code).toBe("api_key_not_accepted");
    expect(JSON.stringify(body)).not.toContain(secret);
    expect(origin.received).toHaveLength(0);
  });

  it("the OpenAPI document needs no token but still refuses API keys", async () => {
    expect((await call(`${ADMIN}/openapi.json`)).res.status).toBe(200);
    expect((await call(`${ADMIN}/openapi.json`, { headers: { "X-Spot-Api-Key": "acct_1" } })).res.status).toBe(401);
  });
});

describe("configuration fails closed", () => {
  const adminUnavailable = async (bindings: Partial<Env>) => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { res, body } = await adminCall("GET", "/accounts/acct_1/keys", { call: { bindings } });
    expect(res.status).toBe(503);
    expect(errorOf(body)).toMatchObject({ type: "api_error", code: "admin_unavailable" });
    expect(res.headers.get("retry-after")).toBeTruthy();
  };

  it.each([
    ["both JWKS settings", { ADMIN_JWKS_URL: "https://jwks.test/keys.json" }],
    ["no JWKS setting", { ADMIN_JWKS: "" }],
    ["a JWKS that is not JSON", { ADMIN_JWKS: "{" }],
    ["a JWKS holding a private key", { ADMIN_JWKS: JSON.stringify({ keys: [{ kty: "EC", crv: "P-256", x: "a", y: "b", d: "c" }] }) }],
    ["an http JWKS URL", { ADMIN_JWKS: "", ADMIN_JWKS_URL: "http://jwks.test/keys.json" }],
    ["an empty audience", { ADMIN_JWT_AUDIENCE: "" }],
    ["an empty issuer", { ADMIN_JWT_ISSUER: " " }],
    ["a symmetric algorithm", { ADMIN_JWT_ALGORITHMS: "HS256" }],
    ["no algorithm", { ADMIN_JWT_ALGORITHMS: "" }],
    ["a writer email without @", { ADMIN_WRITERS_EMAILS: "ops@spot-thought.test, ops" }],
    ["a writer service token with whitespace", { ADMIN_WRITERS_SERVICE_TOKENS: "ci.access other.access" }],
    ["a permissions claim path with an empty segment", { ADMIN_PERMISSIONS_CLAIM: "custom..permissions" }],
    ["a groups claim path starting with a dot", { ADMIN_GROUPS_CLAIM: ".groups" }],
  ])("%s → 503 admin_unavailable", async (_name, bindings) => {
    await adminUnavailable(bindings as Partial<Env>);
  });

  it("a hash key that cannot be used → 503 on create, nothing stored", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { res, body } = await adminCall("POST", "/accounts/acct_hk/keys", { call: { bindings: { SECRET_HASH_KEY: "c2hvcnQ=" } } });
    expect(res.status).toBe(503);
    expect(errorOf(body).code).toBe("admin_unavailable");
    expect((await adminCall("GET", "/accounts/acct_hk/keys")).res.status).toBe(404);
  });
});

describe("remote JWKS (createRemoteJWKSet)", () => {
  it("verifies against keys fetched from ADMIN_JWKS_URL; a JWKS that cannot be fetched → 503", async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "remote-1", alg: "ES256" };
    origin.restore();
    let served = true;
    origin = stubOrigins((req) =>
      served && req.url === "https://access.test/cdn-cgi/access/certs"
        ? Response.json({ keys: [jwk] })
        : new Response("down", { status: 500 }),
    );
    const bindings = { ADMIN_JWKS: "", ADMIN_JWKS_URL: "https://access.test/cdn-cgi/access/certs" } as Partial<Env>;
    await createKey("acct_remote");
    const token = await adminToken({ key: { key: pair.privateKey, alg: "ES256", kid: "remote-1" } });
    const ok = await adminCall("GET", "/accounts/acct_remote/keys", { token, call: { bindings } });
    expect(ok.res.status).toBe(200);
    expect(origin.received.map((r) => r.url.href)).toEqual(["https://access.test/cdn-cgi/access/certs"]);

    // Another URL (a fresh key set) that answers 500: fail closed.
    served = false;
    vi.spyOn(console, "error").mockImplementation(() => {});
    const down = await adminCall("GET", "/accounts/acct_remote/keys", {
      token,
      call: { bindings: { ADMIN_JWKS: "", ADMIN_JWKS_URL: "https://access.test/other/certs" } as Partial<Env> },
    });
    expect(down.res.status).toBe(503);
    expect(errorOf(down.body).code).toBe("admin_unavailable");
  });
});

describe("pure helpers", () => {
  it.each([
    ["Bearer abc.def.ghi", "abc.def.ghi"],
    ["bearer   abc", "abc"],
    ["Bearer abc==", "abc=="],
    ["Bearer a,b", null],
    ["Basic abc", null],
    ["", null],
    [undefined, null],
  ])("bearerToken(%j) = %j", (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it("permissionsOf reads arrays and space-separated strings, and ignores anything else", () => {
    expect(permissionsOf({ p: ["a", 1, "b"] }, "p")).toEqual(["a", "b"]);
    expect(permissionsOf({ p: "a  b" }, "p")).toEqual(["a", "b"]);
    expect(permissionsOf({ p: { a: true } }, "p")).toEqual([]);
    expect(permissionsOf({}, "p")).toEqual([]);
  });

  it.each([
    ["absent", undefined, null],
    ["now", 1_000, null],
    ["at the edge of the clock tolerance", 1_000 + CLOCK_TOLERANCE_SECONDS, null],
    ["long ago", 0, null],
    ["1 s past the tolerance", 1_000 + CLOCK_TOLERANCE_SECONDS + 1, "31 s in the future"],
    ["10 minutes ahead", 1_600, "600 s in the future"],
    ["Infinity", Number.POSITIVE_INFINITY, "finite number"],
    ["NaN", Number.NaN, "finite number"],
    ["a numeric string", "1000", "finite number"],
    ["null", null, "finite number"],
  ])("issuedAtProblem: an iat %s (now = 1000 s) → %j", (_name, iat, problem) => {
    const result = issuedAtProblem(iat, 1_000);
    if (problem === null) expect(result).toBeNull();
    else expect(result).toContain(problem);
  });

  it("the test configuration itself is usable", () => {
    expect(getAdminAuthConfig(env).algorithms).toEqual(["ES256"]);
  });
});
