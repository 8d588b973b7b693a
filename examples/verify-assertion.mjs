// Origin-side verification of the Spot Thought edge authorizer's signed identity assertion
// (docs/assertion.md). Plain ESM JavaScript with JSDoc types, one dependency: `jose` (v6).
// Works in Node.js ≥ 20, Deno, Bun and Workers; used by the demo origins of `npm start` and by the tests.
//
//   import { AssertionRejectedError, createAssertionVerifier } from "./verify-assertion.mjs";
//
//   const verifier = createAssertionVerifier({
//     jwksUrl: "https://api.spot-thought.com/.well-known/spot-authorizer/jwks.json",
//     issuer: "https://api.spot-thought.com",
//     audience: "https://v2024-11-15.origin.spot-thought.com",   // this origin, as in the version table
//   });
//
//   // Node http: req.url is the request target as received ("/v1/charges?limit=2").
//   const { claims } = await verifier.verify({
//     method: req.method, target: req.url, assertion: req.headers["x-spot-assertion"],
//   });
//   // Fetch API (Workers, Deno, Bun): await verifier.verifyRequest(request)
//
// What is checked, in order (any failure throws AssertionRejectedError):
//   1. exactly one X-Spot-Assertion header, a compact JWS;
//   2. the signature, with a key of the authorizer's JWKS chosen by `kid` (fetched and cached by
//      jose's createRemoteJWKSet; an unknown kid refetches it, at most every 30 s);
//   3. `alg` is EdDSA (pinned: never "none", never HMAC, never what the token proposes), `typ` is
//      spot-assertion+jwt (RFC 8725 §3.11: no other JWT passes for an assertion);
//   4. `iss` = the authorizer, `aud` = this origin, `exp` not passed and `iat` at most 60 s ago
//      (each with a few seconds of clock tolerance), every claim of the contract present;
//   5. the request binding (RFC 9449 §4.2 style): `htm` = this request's method and `htu` = this
//      origin + this request's path (query and fragment excluded).
// Then use `claims.sub` (account), `claims.key_id`, `claims.key_mode`, `claims.api_version`, … and
// ignore the plain X-Spot-Account-Id/-Key-Id headers: only the signed claims are proof.

import { createRemoteJWKSet, customFetch, errors, jwtVerify } from "jose";

/** Header carrying the assertion (lower-case, as Node exposes header names). */
export const ASSERTION_HEADER = "x-spot-assertion";
/** The only JWS algorithm accepted (EdDSA with Ed25519, RFC 8037). */
export const ASSERTION_ALGORITHMS = ["EdDSA"];
/** Expected JWS `typ` header. */
export const ASSERTION_TYP = "spot-assertion+jwt";
/** Path of the authorizer's JWKS on its host. */
export const JWKS_PATH = "/.well-known/spot-authorizer/jwks.json";
/** Longest accepted assertion age, in seconds since its `iat` (the authorizer issues them for 60 s). */
export const MAX_AGE_SECONDS = 60;
/** Default clock tolerance, in seconds, for `exp` and `iat`. */
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 5;

/** Claims every assertion carries (besides iss, aud, exp, iat, which jwtVerify checks itself). */
const REQUIRED_CLAIMS = ["sub", "jti", "htm", "htu", "key_id", "key_mode", "api_version", "source_ip_from"];

/**
 * @typedef {"missing" | "malformed" | "invalid" | "expired" | "binding_mismatch" | "jwks_unavailable"} RejectionReason
 *   missing: no header; malformed: not exactly one compact JWS; invalid: signature, key, alg, typ,
 *   iss, aud or a claim wrong; expired: past `exp` or older than MAX_AGE_SECONDS; binding_mismatch:
 *   issued for another method or path; jwks_unavailable: the JWKS could not be fetched (answer 503, not 401).
 */

/**
 * The verified claims set (docs/assertion.md). Times are whole seconds since the epoch.
 * @typedef {object} SpotAssertionClaims
 * @property {string} iss            the authorizer
 * @property {string} aud            this origin
 * @property {string} sub            the verified account id (acct_…)
 * @property {string} jti            the request id (also X-Request-Id)
 * @property {number} iat
 * @property {number} exp
 * @property {string} htm            HTTP method the assertion was issued for
 * @property {string} htu            origin + path the assertion was issued for
 * @property {string} key_id         the API key that authenticated the call
 * @property {"live" | "test"} key_mode
 * @property {string} api_version    the resolved API version (YYYY-MM-DD)
 * @property {string | null} connecting_ip   CF-Connecting-IP: trusted
 * @property {string | null} source_ip       the original caller; asserted by the customer when source_ip_from is "x-forwarded-for"
 * @property {"x-forwarded-for" | "cf-connecting-ip" | "none"} source_ip_from
 */

/**
 * @typedef {object} VerifiedAssertion
 * @property {SpotAssertionClaims} claims
 * @property {{ alg: string, kid: string, typ: string }} header
 */

/** A request was refused; `reason` says why (map it to 401, or 503 for `jwks_unavailable`). */
export class AssertionRejectedError extends Error {
  /**
   * @param {RejectionReason} reason
   * @param {string} message
   * @param {unknown} [cause]
   */
  constructor(reason, message, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "AssertionRejectedError";
    /** @type {RejectionReason} */
    this.reason = reason;
  }
}

/**
 * The request target's path: origin-form ("/a/b?q") or absolute ("https://host/a/b?q"), without
 * query and fragment, exactly as received (percent-encoding kept).
 * @param {string} target
 */
function pathOf(target) {
  let path = target;
  if (!path.startsWith("/")) {
    try {
      path = new URL(target).pathname;
    } catch {
      return null;
    }
  }
  const end = path.search(/[?#]/);
  return end < 0 ? path : path.slice(0, end);
}

/**
 * Maps a jose (or fetch) error to a rejection.
 * @param {unknown} err
 * @returns {AssertionRejectedError}
 */
function rejection(err) {
  if (err instanceof errors.JWTExpired) return new AssertionRejectedError("expired", `assertion expired: ${err.message}`, err);
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) {
    return new AssertionRejectedError("malformed", `assertion is not a valid JWT: ${err.message}`, err);
  }
  if (
    err instanceof errors.JWTClaimValidationFailed ||
    err instanceof errors.JWSSignatureVerificationFailed ||
    err instanceof errors.JOSEAlgNotAllowed ||
    err instanceof errors.JOSENotSupported ||
    err instanceof errors.JWKSNoMatchingKey ||
    err instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return new AssertionRejectedError("invalid", `assertion rejected: ${err.message}`, err);
  }
  // JWKS fetch or parse trouble (timeout, non-200, network error, not a JWK Set).
  const message = err instanceof Error ? err.message : String(err);
  return new AssertionRejectedError("jwks_unavailable", `the authorizer's JWKS could not be used: ${message}`, err);
}

/**
 * Creates a verifier for one origin. Create it once (it caches the JWKS), use it for every request.
 *
 * @param {object} options
 * @param {string | URL} options.jwksUrl   the authorizer's JWKS, e.g. https://api.spot-thought.com/.well-known/spot-authorizer/jwks.json
 * @param {string} options.issuer          expected `iss`, e.g. https://api.spot-thought.com
 * @param {string} options.audience        this origin exactly as in the authorizer's version table
 *                                         (scheme://host[:port][/prefix], no trailing slash): expected `aud`
 * @param {number} [options.clockToleranceSeconds]  default 5
 * @param {(url: string, init: RequestInit) => Promise<Response>} [options.fetch]  how the JWKS is fetched (default: global fetch)
 */
export function createAssertionVerifier({ jwksUrl, issuer, audience, clockToleranceSeconds = DEFAULT_CLOCK_TOLERANCE_SECONDS, fetch }) {
  const jwks = createRemoteJWKSet(new URL(jwksUrl), fetch ? { [customFetch]: fetch } : {});
  const audienceOrigin = new URL(audience).origin;

  /**
   * Verifies the assertion of one request.
   * @param {object} request
   * @param {string | undefined} request.method      the method as received
   * @param {string | undefined} request.target      the request target as received: origin-form (Node `req.url`) or absolute URL
   * @param {string | string[] | null | undefined} request.assertion  the X-Spot-Assertion header value(s)
   * @returns {Promise<VerifiedAssertion>}
   * @throws {AssertionRejectedError}
   */
  async function verify({ method, target, assertion }) {
    if (assertion === undefined || assertion === null || (Array.isArray(assertion) && assertion.length === 0)) {
      throw new AssertionRejectedError("missing", "no X-Spot-Assertion header");
    }
    const token = Array.isArray(assertion) ? (assertion.length === 1 ? assertion[0] : null) : assertion;
    // A compact JWS has no spaces or commas: a header sent twice and joined by the server is refused here.
    if (typeof token !== "string" || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) {
      throw new AssertionRejectedError("malformed", "X-Spot-Assertion must be exactly one compact JWS");
    }
    /** @type {Awaited<ReturnType<typeof jwtVerify>>} */
    let result;
    try {
      result = await jwtVerify(token, jwks, {
        algorithms: ASSERTION_ALGORITHMS,
        typ: ASSERTION_TYP,
        issuer,
        audience,
        maxTokenAge: MAX_AGE_SECONDS,
        clockTolerance: clockToleranceSeconds,
        requiredClaims: ["exp", "iat", ...REQUIRED_CLAIMS],
      });
    } catch (err) {
      throw rejection(err);
    }
    const claims = /** @type {SpotAssertionClaims} */ (/** @type {unknown} */ (result.payload));
    for (const name of REQUIRED_CLAIMS) {
      if (typeof (/** @type {Record<string, unknown>} */ (result.payload)[name]) !== "string") {
        throw new AssertionRejectedError("invalid", `assertion claim "${name}" is not a string`);
      }
    }
    const path = typeof target === "string" ? pathOf(target) : null;
    if (claims.htm !== method) {
      throw new AssertionRejectedError("binding_mismatch", `assertion was issued for method ${claims.htm}, not ${method}`);
    }
    if (path === null || claims.htu !== `${audienceOrigin}${path}`) {
      throw new AssertionRejectedError("binding_mismatch", `assertion was issued for ${claims.htu}, not ${audienceOrigin}${path ?? ""}`);
    }
    const header = result.protectedHeader;
    return { claims, header: { alg: String(header.alg), kid: String(header.kid), typ: String(header.typ) } };
  }

  /**
   * {@link verify} for a Fetch API Request (Workers, Deno, Bun, undici).
   * @param {Request} request
   * @returns {Promise<VerifiedAssertion>}
   */
  function verifyRequest(request) {
    return verify({ method: request.method, target: request.url, assertion: request.headers.get(ASSERTION_HEADER) });
  }

  return { verify, verifyRequest };
}
