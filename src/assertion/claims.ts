/**
 * The signed identity assertion's claims (DESIGN §6, docs/assertion.md). Pure: what the request path
 * decided → the JWT claims set (RFC 7519) the origin receives in `X-Spot-Assertion`.
 *
 * Registered claims (RFC 7519 §4.1): `iss` (the authorizer), `aud` (the origin the request is
 * forwarded to), `sub` (the verified account id), `jti` (the request id), `iat` and `exp` (seconds
 * since the epoch, {@link ASSERTION_TTL_SECONDS} apart).
 *
 * Request binding as in DPoP (RFC 9449 §4.2): `htm` is the HTTP method and `htu` the upstream target
 * URI without query and fragment, so an assertion taken from one request is refused on another path
 * or method. The query and the body are not bound (as in DPoP).
 *
 * Private claims (RFC 7519 §4.3), snake_case like the audit event: `key_id`, `key_mode`,
 * `api_version`, `connecting_ip`, `source_ip`, `source_ip_from`.
 */
import type { ClientIp } from "../client-ip/resolve";
import type { KeyMode } from "../keys/format";

/** Request header that carries the assertion to the origin (in the stripped `x-spot-*` namespace). */
export const ASSERTION_HEADER = "X-Spot-Assertion";
/** JWS algorithm (RFC 8037 §3.1: EdDSA with an Ed25519 key). Pinned: the only one signed and the only one verifiers accept. */
export const ASSERTION_ALG = "EdDSA";
/** JWS `typ` header (explicit typing, RFC 8725 §3.11), so no other JWT can pass for an assertion. */
export const ASSERTION_TYP = "spot-assertion+jwt";
/** Seconds from `iat` to `exp`. */
export const ASSERTION_TTL_SECONDS = 60;

/** The claims set of one assertion. Every member is always present; an unknown address is `null`. */
export interface AssertionClaims {
  /** Issuer: `ASSERTION_ISSUER`, e.g. `https://api.spot-thought.com`. */
  iss: string;
  /** Audience: the origin the request is forwarded to, exactly as normalised in the version table. */
  aud: string;
  /** Subject: the verified account id (`acct_…`). */
  sub: string;
  /** JWT id: the request id (also `X-Request-Id` and the audit event's `request_id`). */
  jti: string;
  /** Issued at, whole seconds since the epoch. */
  iat: number;
  /** Expiry, whole seconds since the epoch: `iat` + {@link ASSERTION_TTL_SECONDS}. */
  exp: number;
  /** HTTP method of the forwarded request, as sent (RFC 9449 `htm`). */
  htm: string;
  /** Upstream target URI without query and fragment (RFC 9449 `htu`): origin + path, percent-encoding as sent. */
  htu: string;
  /** Id of the API key that authenticated the request. */
  key_id: string;
  /** `live` or `test`. */
  key_mode: KeyMode;
  /** The resolved API version (`YYYY-MM-DD`). */
  api_version: string;
  /** `CF-Connecting-IP`, normalised: the only address the authorizer trusts; null when absent. */
  connecting_ip: string | null;
  /** The original caller: asserted by the customer's proxies when `source_ip_from` is `x-forwarded-for`. */
  source_ip: string | null;
  /** Where `source_ip` came from. */
  source_ip_from: ClientIp["sourceIpFrom"];
}

/** What the request path knows when it forwards an authorized request. */
export interface AssertionInput {
  issuer: string;
  /** The version entry's normalised origin URL (the audience). */
  origin: string;
  accountId: string;
  keyId: string;
  mode: KeyMode;
  /** Resolved version. */
  version: string;
  method: string;
  /** The URL the request is forwarded to (src/forwarding/url.ts). */
  upstreamUrl: URL;
  requestId: string;
  clientIp: ClientIp;
  /** Now, milliseconds since the epoch. */
  nowMs: number;
}

/**
 * The `htu` of an upstream URL (RFC 9449 §4.2): scheme, host, port and path, without query and
 * fragment; the path exactly as it will be sent (percent-encoding kept).
 */
export function htuOf(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** Builds the claims set; pure and total (no validation: every input was validated upstream). */
export function buildAssertionClaims(input: AssertionInput): AssertionClaims {
  const iat = Math.floor(input.nowMs / 1000);
  return {
    iss: input.issuer,
    aud: input.origin,
    sub: input.accountId,
    jti: input.requestId,
    iat,
    exp: iat + ASSERTION_TTL_SECONDS,
    htm: input.method,
    htu: htuOf(input.upstreamUrl),
    key_id: input.keyId,
    key_mode: input.mode,
    api_version: input.version,
    connecting_ip: input.clientIp.connectingIp,
    source_ip: input.clientIp.sourceIp,
    source_ip_from: input.clientIp.sourceIpFrom,
  };
}
