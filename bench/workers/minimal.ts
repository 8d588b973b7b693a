/**
 * The `minimal` reference arm of `npm run bench` (issue 16, "the floor"): the contract's essential work
 * per request and nothing else, without a framework, so the authorizer can be judged against what
 * its job costs at the least rather than against a bare proxy hop:
 *
 *   1. read X-Spot-Api-Key, X-Spot-Api-Secret, X-Spot-Api-Version (400 when one is missing or the
 *      version is not served, 401 when the key does not match);
 *   2. HMAC-SHA-256 of the secret (crypto.subtle, the key imported once per isolate), lowercase hex;
 *   3. look the hash up in an in-isolate Map (seeded at the first request from BENCH_KV_KEY and
 *      BENCH_RECORD: the same key record the bench seeds into the authorizer's KV), check account and
 *      status;
 *   4. sign one Ed25519 JWT (crypto.subtle.sign; the protected header is encoded once per isolate) with
 *      the assertion's claim shape: iss, sub, aud, iat, exp, jti, htm, htu, key_id, api_version;
 *   5. copy the request headers without the secret, add X-Spot-Account-Id, X-Spot-Key-Id,
 *      X-Spot-Api-Version, X-Forwarded-For, X-Request-Id and X-Spot-Assertion, fetch the origin and
 *      return its response.
 *
 * No audit, no KV, no revocation feed, no rate limits, no client-IP parsing, no header hygiene beyond
 * dropping the secret: a floor, not a product.
 *
 * Bindings (text): ORIGIN, SECRET_HASH_KEY (base64), ASSERTION_SIGNING_KEY (Ed25519 private JWK),
 * ASSERTION_ISSUER, BENCH_KV_KEY (`secret:<hash>`), BENCH_RECORD (the record, JSON). The other
 * bindings the bench gives every Worker (KEYS, AUDIT_QUEUE, …) are left unused.
 */

interface MinimalEnv {
  ORIGIN: string;
  SECRET_HASH_KEY: string;
  ASSERTION_SIGNING_KEY: string;
  ASSERTION_ISSUER: string;
  BENCH_KV_KEY: string;
  BENCH_RECORD: string;
}

interface KeyRecord {
  key_id: string;
  account_id: string;
  mode: string;
  status: string;
}

interface Isolate {
  hashKey: CryptoKey;
  signingKey: CryptoKey;
  /** base64url of the protected header, and the "." after it. */
  headerPart: string;
  keys: Map<string, KeyRecord>;
}

const VERSIONS = new Set(["2024-06-01", "2024-11-15", "2025-03-01"]);
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const encoder = new TextEncoder();

let isolate: Promise<Isolate> | null = null;

function base64ToBytes(text: string): Uint8Array {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function bytesToBase64url(bytes: Uint8Array): string {
  let raw = "";
  for (let i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i] as number);
  return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** base64url of an ASCII string (the claims here are ASCII: ids, URLs with percent-encoding, numbers). */
const textToBase64url = (text: string) => btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

async function setUp(env: MinimalEnv): Promise<Isolate> {
  const jwk = JSON.parse(env.ASSERTION_SIGNING_KEY) as { kid: string; x: string; d: string };
  const [hashKey, signingKey] = await Promise.all([
    crypto.subtle.importKey("raw", base64ToBytes(env.SECRET_HASH_KEY), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
    crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x, d: jwk.d }, { name: "Ed25519" }, false, ["sign"]),
  ]);
  const headerPart = `${textToBase64url(JSON.stringify({ alg: "EdDSA", kid: jwk.kid, typ: "spot-assertion+jwt" }))}.`;
  const keys = new Map<string, KeyRecord>([[env.BENCH_KV_KEY.slice("secret:".length), JSON.parse(env.BENCH_RECORD) as KeyRecord]]);
  return { hashKey, signingKey, headerPart, keys };
}

const refuse = (status: number, code: string) => Response.json({ error: { code } }, { status });

async function handle(request: Request, env: MinimalEnv): Promise<Response> {
  const account = request.headers.get("X-Spot-Api-Key");
  const secret = request.headers.get("X-Spot-Api-Secret");
  const version = request.headers.get("X-Spot-Api-Version");
  if (account === null || secret === null || version === null) return refuse(400, "missing_credentials");
  if (!VERSIONS.has(version)) return refuse(400, "unsupported_api_version");

  isolate ??= setUp(env);
  const { hashKey, signingKey, headerPart, keys } = await isolate;
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", hashKey, encoder.encode(secret)));
  let hash = "";
  for (let i = 0; i < mac.length; i++) hash += HEX[mac[i] as number];
  const record = keys.get(hash);
  if (record === undefined || record.account_id !== account || record.status !== "active") return refuse(401, "invalid_credentials");

  const url = new URL(request.url);
  const requestId = crypto.randomUUID();
  const iat = Math.floor(Date.now() / 1000);
  const claims = JSON.stringify({
    iss: env.ASSERTION_ISSUER,
    sub: record.account_id,
    aud: env.ORIGIN,
    iat,
    exp: iat + 60,
    jti: requestId,
    htm: request.method,
    htu: `${env.ORIGIN}${url.pathname}`,
    key_id: record.key_id,
    api_version: version,
  });
  const signingInput = headerPart + textToBase64url(claims);
  const signature = new Uint8Array(await crypto.subtle.sign("Ed25519", signingKey, encoder.encode(signingInput)));

  const headers = new Headers(request.headers);
  headers.delete("X-Spot-Api-Secret");
  headers.set("X-Spot-Account-Id", record.account_id);
  headers.set("X-Spot-Key-Id", record.key_id);
  headers.set("X-Spot-Api-Version", version);
  headers.set("X-Forwarded-For", request.headers.get("CF-Connecting-IP") ?? request.headers.get("X-Forwarded-For") ?? "");
  headers.set("X-Request-Id", requestId);
  headers.set("X-Spot-Assertion", `${signingInput}.${bytesToBase64url(signature)}`);
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  return fetch(`${env.ORIGIN}${url.pathname}${url.search}`, {
    method: request.method,
    headers,
    body: hasBody ? request.body : null,
    redirect: "manual",
  });
}

export default {
  fetch: handle,
  // The bench wires a queue consumer to every Worker under Miniflare; this one sends nothing.
  async queue() {},
};
