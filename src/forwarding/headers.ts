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

/**
 * Client-sent headers that assert an identity or a source the origin might trust. They are removed
 * under any case and with `_` in place of `-` (some origins treat `X_Spot_Key_Id` as `X-Spot-Key-Id`).
 * Every `x-spot-*` header is in the authorizer's namespace: the credentials, the requested version
 * and the identity headers; the origin gets the authorizer's own values instead.
 */
const SPOOFABLE_HEADERS = new Set([
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "x-request-id",
  "x-real-ip",
  "true-client-ip",
  "forwarded",
  "host",
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
} as const;

/** Lowercases a header name and folds `_` into `-`, the spelling some origins normalise to. */
export function canonicalHeaderName(name: string): string {
  return name.toLowerCase().replaceAll("_", "-");
}

/** True for a header the authorizer owns or that asserts a source: never forwarded as the client sent it. */
export function isReservedHeader(name: string): boolean {
  const canonical = canonicalHeaderName(name);
  return canonical.startsWith(NAMESPACE_PREFIX) || SPOOFABLE_HEADERS.has(canonical);
}

/** True when the request asks for a WebSocket upgrade (RFC 6455 §4.1). */
export function isWebSocketUpgrade(headers: Headers): boolean {
  return headers.get("upgrade")?.trim().toLowerCase() === "websocket";
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
 * @returns a new Headers: no hop-by-hop header, nothing named in `Connection`, no reserved header
 *          from the client, then `added`; `Upgrade: websocket` kept for a WebSocket handshake
 */
export function buildUpstreamHeaders(incoming: Headers, added: Record<string, string>): UpstreamHeaders {
  const webSocket = isWebSocketUpgrade(incoming);
  const named = new Set<string>();
  for (const token of (incoming.get("connection") ?? "").split(",")) {
    const name = token.trim().toLowerCase();
    if (name) named.add(name);
  }
  const headers = new Headers();
  const strippedReserved: string[] = [];
  for (const [name, value] of incoming) {
    if (named.has(name) || (HOP_BY_HOP_HEADERS as readonly string[]).includes(name)) continue;
    if (isReservedHeader(name)) {
      const canonical = canonicalHeaderName(name);
      if (canonical.startsWith(NAMESPACE_PREFIX) && !CLIENT_CONTRACT_HEADERS.has(canonical) && !strippedReserved.includes(canonical)) {
        strippedReserved.push(canonical);
      }
      continue;
    }
    headers.append(name, value);
  }
  if (webSocket) headers.set("Upgrade", "websocket");
  for (const [name, value] of Object.entries(added)) headers.set(name, value);
  return { headers, strippedReserved };
}

/** The `x-spot-*` headers a client is expected to send: its credentials and the version it asks for. */
const CLIENT_CONTRACT_HEADERS = new Set(["x-spot-api-key", "x-spot-api-secret", "x-spot-api-version"]);
