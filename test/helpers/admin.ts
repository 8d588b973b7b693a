/**
 * Admin API helpers: tokens signed with the test admin key of vitest.config.mts, and calls through
 * the Worker's real fetch handler (test/helpers/worker.ts), each answer checked against the committed
 * OpenAPI document (test/helpers/openapi-contract.ts).
 */
import { env } from "cloudflare:workers";
import { CompactSign, importJWK, type JWTPayload, SignJWT } from "jose";
import committedDocument from "../../docs/admin-openapi.json";
import type { AdminAuditEvent } from "../../src/audit/admin-event";
import { type ContractMatch, type ResponseContract, responseContract } from "./openapi-contract";
import { type CallOptions, type CallResult, call } from "./worker";

export const ADMIN = "/__spot/admin/v1";
export const ISSUER = "https://issuer.test";
export const AUDIENCE = "spot-admin-test";

let signingKey: Promise<CryptoKey> | null = null;
function testKey(): Promise<CryptoKey> {
  signingKey ??= importJWK(JSON.parse(env.TEST_ADMIN_PRIVATE_JWK), "ES256") as Promise<CryptoKey>;
  return signingKey;
}

export interface TokenOptions {
  claims?: JWTPayload;
  /** Seconds from now; negative: already expired. Default 300. */
  expiresIn?: number;
  issuer?: string;
  audience?: string;
  /** A key other than the trusted one (with its alg and kid). */
  key?: { key: CryptoKey | Uint8Array; alg: string; kid?: string };
  sub?: string | null;
  /** `iat` in seconds from now (negative: in the past); null: no `iat` claim. Default 0 (now). */
  issuedAt?: number | null;
}

/** An admin token; by default valid, with `permissions: ["keys:read", "keys:write"]`. */
export async function adminToken(options: TokenOptions = {}): Promise<string> {
  const signer = options.key ?? { key: await testKey(), alg: "ES256", kid: "test-admin" };
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ permissions: ["keys:read", "keys:write"], email: "ops@spot-thought.test", ...options.claims })
    .setProtectedHeader({ alg: signer.alg, ...(signer.kid ? { kid: signer.kid } : {}) })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setExpirationTime(now + (options.expiresIn ?? 300));
  if (options.issuedAt !== null) jwt.setIssuedAt(now + (options.issuedAt ?? 0));
  if (options.sub !== null) jwt.setSubject(options.sub ?? "ops@spot-thought.test");
  return jwt.sign(signer.key);
}

/**
 * A token whose claims set is exactly `claimsJson` (JSON text, sent as written), signed with the
 * trusted test key: for claim values SignJWT refuses to write, such as `"iat": 1e400` (a JSON number
 * that parses to Infinity) or an `iat` that is not a number.
 */
export async function adminTokenFromClaimsText(claimsJson: string): Promise<string> {
  return new CompactSign(new TextEncoder().encode(claimsJson))
    .setProtectedHeader({ alg: "ES256", kid: "test-admin" })
    .sign(await testKey());
}

export interface AdminCallResult extends CallResult {
  adminEvents: AdminAuditEvent[];
  /** What docs/admin-openapi.json declares for this answer; null when the call was made with `contract: false`. */
  contract: ContractMatch | null;
}

let contract: ResponseContract | null = null;
/** docs/admin-openapi.json, prepared once per test file; a document that cannot be used fails every call. */
export function adminContract(): ResponseContract {
  contract ??= responseContract(committedDocument);
  return contract;
}

/**
 * Calls the admin API. `token: null` sends no Authorization header; default: a valid write token.
 * A body object is sent as JSON. The answer must be one that docs/admin-openapi.json declares, with a
 * body that matches it (else the call throws a ContractViolation); `contract: false` skips that, for a
 * request the document is not meant to describe.
 */
export async function adminCall(
  method: string,
  path: string,
  options: { body?: unknown; token?: string | null; headers?: Record<string, string>; call?: CallOptions; contract?: false } = {},
): Promise<AdminCallResult> {
  const headers = new Headers(options.headers);
  const token = options.token === undefined ? await adminToken() : options.token;
  if (token !== null) headers.set("Authorization", `Bearer ${token}`);
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    if (!headers.has("content-type")) headers.set("Content-Type", "application/json");
  }
  const result = await call(`${ADMIN}${path}`, { method, headers, body }, options.call);
  const adminEvents = result.events.filter((e) => (e as unknown as { kind?: string }).kind === "admin") as unknown as AdminAuditEvent[];
  const match =
    options.contract === false
      ? null
      : adminContract().check({
          method,
          path: `${ADMIN}${path}`,
          status: result.res.status,
          contentType: result.res.headers.get("content-type"),
          body: result.body,
        });
  return { ...result, adminEvents, contract: match };
}

type Envelope = { error: { type: string; code: string; message: string; request_id: string; param?: string } };
export const errorOf = (body: unknown) => (body as Envelope).error;

/** Creates a key through the admin API and returns its id and secret. */
export async function createKey(account: string, body: Record<string, unknown> = {}): Promise<{ keyId: string; secret: string }> {
  const { res, body: out } = await adminCall("POST", `/accounts/${account}/keys`, { body });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(out)}`);
  const created = out as { key: { key_id: string }; secret: string };
  return { keyId: created.key.key_id, secret: created.secret };
}
