/**
 * The upstream URL (DESIGN §6). Pure. The origin's scheme and host come only from the version
 * table; the client's path is appended as text, never resolved as a URL reference, so
 * `//evil.example/x` or `/\evil.example/x` stays a path on the configured origin
 * (WHATWG URL: `new URL("//x/y", base)` would change the host).
 */

/** The built URL would not stay on the configured origin (defence in depth; should not happen). */
export class UpstreamUrlError extends Error {
  override name = "UpstreamUrlError";
}

interface ParsedOrigin {
  protocol: string;
  host: string;
  /** The origin's path prefix without trailing slashes ("" for none). */
  prefix: string;
}

/** Origins come from the version table, a handful per deployment: parsed once per isolate. */
const parsedOrigins = new Map<string, ParsedOrigin>();
const MAX_PARSED_ORIGINS = 256;

function parseOrigin(origin: string): ParsedOrigin {
  let parsed = parsedOrigins.get(origin);
  if (parsed === undefined) {
    const base = new URL(origin);
    parsed = { protocol: base.protocol, host: base.host, prefix: base.pathname.replace(/\/+$/, "") };
    if (parsedOrigins.size >= MAX_PARSED_ORIGINS) parsedOrigins.clear();
    parsedOrigins.set(origin, parsed);
  }
  return parsed;
}

/**
 * @param origin     absolute origin URL from the version table, optionally with a path prefix and no trailing slash
 * @param requestUrl the client's request URL as the runtime received it (path still percent-encoded),
 *                   as text or already parsed
 * @returns origin + the request's path and query, on the origin's scheme, host and port
 * @throws UpstreamUrlError when the result would leave the origin or its path prefix
 * @throws TypeError when `origin` or `requestUrl` is not an absolute URL
 */
export function buildUpstreamUrl(origin: string, requestUrl: string | URL): URL {
  const base = parseOrigin(origin);
  const incoming = typeof requestUrl === "string" ? new URL(requestUrl) : requestUrl;
  const { prefix } = base;
  const path = incoming.pathname.startsWith("/") ? incoming.pathname : `/${incoming.pathname}`;
  const target = new URL(`${base.protocol}//${base.host}${prefix}${path}${incoming.search}`);
  if (target.protocol !== base.protocol || target.host !== base.host || !target.pathname.startsWith(`${prefix}/`)) {
    throw new UpstreamUrlError("the request path would leave the configured origin");
  }
  return target;
}
