/**
 * Header hygiene for the upstream request (DESIGN §6). Pure: takes the client's headers and what
 * the authorizer adds, returns the headers the origin receives.
 *
 * Order matters: headers named in `Connection` are removed first, our own are added last, so a
 * client cannot make the authorizer's headers disappear by naming them in `Connection`
 * (RFC 9110 §7.6.1).
 */

/** Hop-by-hop headers (RFC 9110 §7.6.1, RFC 9112 §9.6) plus the non-standard `proxy-connection`. */
export const HOP_BY_HOP_HEADERS = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
] as const;
const HOP_BY_HOP: ReadonlySet<string> = new Set(HOP_BY_HOP_HEADERS);

/**
 * Client-sent headers that assert an identity, a source address, or a URL or method other than the
 * request's own: origin frameworks may trust them (proxy-aware client IP, URL rewrites, method
 * overrides). They are removed under any case and with `_` or `.` in place of `-` (some origins
 * treat `X_Spot_Key_Id` as `X-Spot-Key-Id`). Every `x-spot-*` header is the authorizer's namespace:
 * the credentials, the requested version and the identity headers; the origin gets ours instead.
 */
const RESERVED_PREFIXES = ["x-spot-", "x-forwarded-", "x-original-"] as const;
const RESERVED_HEADERS = new Set([
  "host",
  "forwarded",
  "x-request-id",
  "x-real-ip",
  "true-client-ip",
  "x-client-ip",
  "x-cluster-client-ip",
  "x-rewrite-url",
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
]);
const NAMESPACE_PREFIX = "x-spot-";

/** Header names the authorizer sets on the upstream request. */
export const UPSTREAM_HEADERS = {
  accountId: "X-Spot-Account-Id",
  keyId: "X-Spot-Key-Id",
  keyMode: "X-Spot-Key-Mode",
  apiVersion: "X-Spot-Api-Version",
  forwardedFor: "X-Forwarded-For",
  forwardedProto: "X-Forwarded-Proto",
  forwardedHost: "X-Forwarded-Host",
  requestId: "X-Request-Id",
  /** The signed identity assertion (src/assertion/, docs/assertion.md). */
  assertion: "X-Spot-Assertion",
  /** Report-only mode only, on every forwarded request: `report-only` (docs/upstream.md "Report-only mode"). */
  enforcement: "X-Spot-Enforcement",
  /** Report-only mode only: the error code enforcement would have answered. */
  wouldRefuse: "X-Spot-Would-Refuse",
} as const;

/** Lowercases a header name and folds `_` and `.` into `-`, spellings some origins normalise to. */
export function canonicalHeaderName(name: string): string {
  return name.toLowerCase().replace(/[_.]/g, "-");
}

/** A header name as the runtime lists it (lowercase) that has no `_` or `.`: already canonical. */
const CANONICAL_NAME = /^[^A-Z_.]*$/;

/** {@link canonicalHeaderName} without the copy for a name that is already canonical (the usual case). */
function canonicalOf(name: string): string {
  return CANONICAL_NAME.test(name) ? name : canonicalHeaderName(name);
}

function isReservedCanonical(canonical: string): boolean {
  if (RESERVED_HEADERS.has(canonical)) return true;
  // Every reserved prefix starts with "x-": most names are decided by their first two characters.
  if (canonical.charCodeAt(0) !== 0x78 || canonical.charCodeAt(1) !== 0x2d) return false;
  for (const prefix of RESERVED_PREFIXES) if (canonical.startsWith(prefix)) return true;
  return false;
}

/** True for a header the authorizer owns or that asserts a source: never forwarded as the client sent it. */
export function isReservedHeader(name: string): boolean {
  return isReservedCanonical(canonicalOf(name));
}

/**
 * True when the request is a WebSocket opening handshake: a GET with `Upgrade: websocket`
 * (RFC 6455 §4.1). Any other method with `Upgrade` is an ordinary request and loses the header.
 */
export function isWebSocketUpgrade(request: Request): boolean {
  return request.method === "GET" && request.headers.get("upgrade")?.trim().toLowerCase() === "websocket";
}

/** Result of {@link buildUpstreamHeaders}: the headers and the client-sent reserved names that were dropped. */
export interface UpstreamHeaders {
  headers: Headers;
  /** Canonical names of `x-spot-*` headers the client sent other than its credentials and version: forged identity headers. */
  strippedReserved: string[];
}

/**
 * Builds the origin's request headers.
 * @param incoming the client's headers (not modified)
 * @param added    the authorizer's headers, set after every removal
 * @param webSocket true for a WebSocket handshake ({@link isWebSocketUpgrade}): `Upgrade: websocket` is kept
 * @returns a new Headers: no hop-by-hop header, nothing named in `Connection`, no reserved header
 *          from the client, then `added`
 *
 * Note: workerd consumes `Connection` (and `Keep-Alive`, `TE`) of the client's HTTP request before the
 * Worker runs, except `Connection: Upgrade` of a WebSocket handshake; a header that the client named
 * in `Connection` is then indistinguishable from an ordinary one. Whatever `Connection` reaches the
 * Worker is honoured here.
 */
export function buildUpstreamHeaders(incoming: Headers, added: Record<string, string>, webSocket = false): UpstreamHeaders {
  // Names the client's Connection header lists (usually none: workerd consumes it, see above).
  let named: Set<string> | null = null;
  const connection = incoming.get("connection");
  if (connection !== null) {
    named = new Set<string>();
    for (const token of connection.split(",")) {
      const name = token.trim().toLowerCase();
      if (name) named.add(name);
    }
  }
  // The runtime copies the request's headers in one call; only the names are walked here (no
  // name/value pairs built), and what must not go upstream is deleted from the copy.
  const headers = new Headers(incoming);
  const strippedReserved: string[] = [];
  for (const name of incoming.keys()) {
    const canonical = canonicalOf(name);
    // Reserved first, so a forged identity header is reported even when Connection also names it.
    if (isReservedCanonical(canonical)) {
      if (isForgedIdentityHeader(canonical) && !strippedReserved.includes(canonical)) strippedReserved.push(canonical);
      headers.delete(name);
    } else if (HOP_BY_HOP.has(name) || named?.has(name)) {
      headers.delete(name);
    }
  }
  if (webSocket) headers.set("upgrade", "websocket");
  for (const name in added) headers.set(name, added[name] as string);
  return { headers, strippedReserved };
}

/** The `x-spot-*` headers a client is expected to send: its credentials and the version it asks for. */
const CLIENT_CONTRACT_HEADERS = new Set(["x-spot-api-key", "x-spot-api-secret", "x-spot-api-version"]);

/** True for a canonical name in the authorizer's namespace that a client has no reason to send (an identity header, the assertion, …). */
function isForgedIdentityHeader(canonical: string): boolean {
  return canonical.startsWith(NAMESPACE_PREFIX) && !CLIENT_CONTRACT_HEADERS.has(canonical);
}

/**
 * The client-sent headers that try to pass for the authorizer's own (`X-Spot-Account-Id`,
 * `X-Spot-Assertion`, …, in any case and `_`/`.` spelling): every `x-spot-*` name other than the
 * credentials and the version header. They are stripped silently (never forwarded, never an error)
 * and recorded in the audit event (`forged_headers`). Names named in `Connection` count too: the
 * client sent them.
 * @returns canonical names ({@link canonicalHeaderName}), each once, in the order the runtime lists them
 */
export function forgedIdentityHeaders(incoming: Headers): string[] {
  const names = new Set<string>();
  for (const name of incoming.keys()) {
    const canonical = canonicalOf(name);
    if (isForgedIdentityHeader(canonical)) names.add(canonical);
  }
  return [...names];
}
