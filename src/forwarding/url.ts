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

/**
 * @param origin     absolute origin URL from the version table, optionally with a path prefix and no trailing slash
 * @param requestUrl the client's request URL as the runtime received it (path still percent-encoded)
 * @returns origin + the request's path and query, on the origin's scheme, host and port
 * @throws UpstreamUrlError when the result would leave the origin or its path prefix
 */
export function buildUpstreamUrl(origin: string, requestUrl: string): URL {
  const base = new URL(origin);
  const incoming = new URL(requestUrl);
  const prefix = base.pathname.replace(/\/+$/, "");
  const path = incoming.pathname.startsWith("/") ? incoming.pathname : `/${incoming.pathname}`;
  const target = new URL(`${base.protocol}//${base.host}${prefix}${path}${incoming.search}`);
  if (target.protocol !== base.protocol || target.host !== base.host || !target.pathname.startsWith(`${prefix}/`)) {
    throw new UpstreamUrlError("the request path would leave the configured origin");
  }
  return target;
}
