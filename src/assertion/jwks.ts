/**
 * The JWKS route (RFC 7517 §5): the public keys that verify `X-Spot-Assertion`, for origins using
 * `jose.createRemoteJWKSet(new URL("https://api.spot-thought.com/.well-known/spot-authorizer/jwks.json"))`.
 *
 * Reserved: every path under {@link RESERVED_PREFIX} is answered by the authorizer itself, needs no API
 * key and is never proxied. `GET`/`HEAD` of {@link JWKS_PATH} → 200 with the key set; another method
 * → 405 `method_not_allowed`; any other path under the prefix → 404 `not_found`. No audit event: it
 * is not an API call.
 */
import type { Context, Hono } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { requireAssertionSigner } from "./signer";

/** Prefix of the authorizer's public, credential-free paths. */
export const RESERVED_PREFIX = "/.well-known/spot-authorizer";
/** Where the JWK Set is served. */
export const JWKS_PATH = `${RESERVED_PREFIX}/jwks.json`;
/** Media type of a JWK Set (RFC 7517 §8.5.1). */
export const JWKS_CONTENT_TYPE = "application/jwk-set+json";
/**
 * Seconds a JWKS response may be cached by HTTP caches. The rotation procedure (docs/assertion.md)
 * waits longer than this plus the verifiers' own cache before a key is used or removed.
 */
export const JWKS_MAX_AGE_SECONDS = 300;

async function serveJwks(c: Context<AppEnv>): Promise<Response> {
  if (c.req.method !== "GET" && c.req.method !== "HEAD") {
    throw new ApiError("method_not_allowed", "The JWKS is read with GET.", { Allow: "GET, HEAD" });
  }
  const signer = await requireAssertionSigner(c.env, c.get("requestId"));
  // Hono answers a HEAD with the headers of this GET response and no body.
  return c.body(signer.jwksBody, 200, {
    "Content-Type": JWKS_CONTENT_TYPE,
    "Cache-Control": `public, max-age=${JWKS_MAX_AGE_SECONDS}`,
    "X-Content-Type-Options": "nosniff",
    "X-Request-Id": c.get("requestId"),
  });
}

/**
 * Registers the reserved routes. Call it after the request id middleware and before every other
 * middleware, so no credential check, audit event or proxying ever applies to them.
 */
export function mountJwks(app: Hono<AppEnv>): void {
  app.all(JWKS_PATH, serveJwks);
  app.all(`${RESERVED_PREFIX}/*`, () => {
    throw new ApiError("not_found", "No such route.");
  });
}
