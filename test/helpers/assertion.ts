/**
 * The origin side of the signed identity assertion in tests: the example verifier
 * (examples/verify-assertion.mjs) fetching the JWKS through the Worker's real fetch handler.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { base64url } from "jose";
import { createAssertionVerifier } from "../../examples/verify-assertion.mjs";
import { JWKS_PATH } from "../../src/assertion/jwks";
import worker from "../../src/index";
import { API } from "./fixtures";
import type { ReceivedRequest } from "./origin";

export const ISSUER = "https://api.spot-thought.com";
export const JWKS_URL = `${API}${JWKS_PATH}`;

/** The test signing key (vitest.config.mts) and the second key of the rotation tests, as parsed JWKs. */
export const KEY_1 = JSON.parse(env.ASSERTION_SIGNING_KEY) as { kty: string; crv: string; kid: string; x: string; d: string; alg: string };
export const KEY_2 = JSON.parse(env.TEST_ASSERTION_KEY_2) as typeof KEY_1;

/** The public half of a private JWK, as a setting value. */
export function publicJwkText(jwk: typeof KEY_1): string {
  const { d: _d, ...pub } = jwk;
  return JSON.stringify(pub);
}

export interface JwksFetches {
  urls: string[];
}

/**
 * A verifier for one origin whose JWKS requests go to the Worker's fetch handler with `bindings`
 * (default: the test env), counting them in `fetches`.
 */
export function verifierFor(audience: string, bindings: Partial<Env> = {}, fetches: JwksFetches = { urls: [] }) {
  return createAssertionVerifier({
    jwksUrl: JWKS_URL,
    issuer: ISSUER,
    audience,
    fetch: async (url, init) => {
      fetches.urls.push(url);
      const ctx = createExecutionContext();
      const res = await worker.fetch(new Request(url, init), { ...env, ...bindings } as Env, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    },
  });
}

/** What the example verifier is given for a request the origin stub received. */
export function verifyInput(got: ReceivedRequest | undefined) {
  if (!got) throw new Error("the origin received nothing");
  return { method: got.method, target: `${got.url.pathname}${got.url.search}`, assertion: got.headers.get("x-spot-assertion") };
}

/** Splits a compact JWS into its decoded header and payload and its encoded signature. */
export function decodeJws(token: string): { header: Record<string, unknown>; payload: Record<string, unknown>; signature: string } {
  const [h, p, s] = token.split(".");
  const text = (part: string | undefined) => new TextDecoder().decode(base64url.decode(part ?? ""));
  return { header: JSON.parse(text(h)), payload: JSON.parse(text(p)), signature: s ?? "" };
}

/** Re-encodes a header and payload around an existing signature: what a tamperer can produce. */
export function encodeJws(header: Record<string, unknown>, payload: Record<string, unknown>, signature: string): string {
  const enc = (value: unknown) => base64url.encode(JSON.stringify(value));
  return `${enc(header)}.${enc(payload)}.${signature}`;
}
