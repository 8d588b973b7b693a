// scripts/demo-origin.mjs in report-only: a request the authorizer marks X-Spot-Would-Refuse shows
// that in the echo's `report_only` member and in its log line, for an unauthenticated caller (no
// assertion) and for a verified one refused by its key's policy (e.g. ip_not_allowed). npm start's
// demo key check (scripts/start/demo-key.mjs) reads these echoes: a key forwarded unauthenticated in
// report-only mode does not authenticate, and is replaced.

import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { ASSERTION_TYP, JWKS_PATH } from "../../examples/verify-assertion.mjs";
import { startDemoOrigins } from "../../scripts/demo-origin.mjs";
import { demoKeyAuthenticated } from "../../scripts/start/demo-key.mjs";

const HOST = "127.0.0.1";
const ISSUER = "https://api.spot-thought.test";

/** A port free right now (bound and released). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = http.createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

describe("demo origin: report-only marks", () => {
  let jwksServer;
  let origins;
  let privateKey;
  let originUrl;
  const lines = [];

  before(async () => {
    const pair = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "test-1", alg: "EdDSA", use: "sig" };
    jwksServer = http.createServer((req, res) => {
      if (req.url !== JWKS_PATH) return res.writeHead(404).end();
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise((resolve) => jwksServer.listen(0, HOST, resolve));
    const port = await freePort();
    originUrl = `http://${HOST}:${port}`;
    origins = await startDemoOrigins({
      origins: [{ version: "2024-11-15", port }],
      authorizerUrl: `http://${HOST}:${jwksServer.address().port}`,
      issuer: ISSUER,
      log: (line) => lines.push(line),
    });
  });
  after(async () => {
    await origins?.close();
    jwksServer?.close();
  });

  const assertion = (path) =>
    new SignJWT({
      htm: "GET",
      htu: `${originUrl}${path}`,
      key_id: "key_1",
      key_mode: "live",
      api_version: "2024-11-15",
      source_ip_from: "cf-connecting-ip",
    })
      .setProtectedHeader({ alg: "EdDSA", kid: "test-1", typ: ASSERTION_TYP })
      .setIssuer(ISSUER)
      .setAudience(originUrl)
      .setSubject("acct_1")
      .setJti("jti-1")
      .setIssuedAt()
      .setExpirationTime("60s")
      .sign(privateKey);

  const get = async (path, headers) => {
    const res = await fetch(`${originUrl}${path}`, { headers });
    return { status: res.status, body: await res.json() };
  };

  it("a verified caller that its key's policy would refuse: report_only in the echo and the log line", async () => {
    const { status, body } = await get("/v1/charges", {
      "x-spot-assertion": await assertion("/v1/charges"),
      "x-spot-enforcement": "report-only",
      "x-spot-would-refuse": "ip_not_allowed",
    });
    assert.equal(status, 200);
    assert.equal(body.report_only.would_refuse, "ip_not_allowed");
    assert.match(body.report_only.caller, /^verified/);
    assert.equal(body.verified_assertion.claims.sub, "acct_1");
    assert.equal(lines.at(-1), "[origin 2024-11-15] GET /v1/charges → 200 (report-only: would refuse ip_not_allowed)");
    assert.equal(demoKeyAuthenticated(status, body), true);
  });

  it("a verified caller without a mark: no report_only member", async () => {
    const { status, body } = await get("/v1/ok", { "x-spot-assertion": await assertion("/v1/ok"), "x-spot-enforcement": "report-only" });
    assert.equal(status, 200);
    assert.equal(body.report_only, undefined);
    assert.equal(lines.at(-1), "[origin 2024-11-15] GET /v1/ok → 200");
    assert.equal(demoKeyAuthenticated(status, body), true);
  });

  it("an unauthenticated caller that would be refused: report_only, as before", async () => {
    const { status, body } = await get("/v1/anon", { "x-spot-enforcement": "report-only", "x-spot-would-refuse": "missing_api_key" });
    assert.equal(status, 200);
    assert.equal(body.report_only.would_refuse, "missing_api_key");
    assert.equal(lines.at(-1), "[origin 2024-11-15] GET /v1/anon → 200 (report-only: would refuse missing_api_key)");
    // npm start's demo key check: a kept key that is forwarded only because of report-only is replaced.
    assert.equal(demoKeyAuthenticated(status, body), false);
  });

  it("a mark without report-only enforcement is ignored", async () => {
    const { body } = await get("/v1/marked", {
      "x-spot-assertion": await assertion("/v1/marked"),
      "x-spot-would-refuse": "ip_not_allowed",
    });
    assert.equal(body.report_only, undefined);
  });
});

describe("npm start's demo key check: the answer of GET / with the kept key", () => {
  it("401 means the key does not authenticate, whatever the body", () => {
    assert.equal(demoKeyAuthenticated(401, { error: { code: "invalid_credentials" } }), false);
    assert.equal(demoKeyAuthenticated(401, null), false);
  });
  it("a refusal of the key's policy (403, 429) or any other answer that is not JSON means it does", () => {
    assert.equal(demoKeyAuthenticated(403, { error: { code: "ip_not_allowed" } }), true);
    assert.equal(demoKeyAuthenticated(429, { error: { code: "rate_limited" } }), true);
    assert.equal(demoKeyAuthenticated(200, null), true);
  });
});
