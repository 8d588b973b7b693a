/**
 * Forwards an authorized request to its upstream origin (DESIGN §6): same method, path and query,
 * body streamed, `redirect: "manual"`, secret and hop-by-hop headers removed, the authorizer's
 * identity headers and the signed identity assertion (`X-Spot-Assertion`, src/assertion/) added.
 * HTTP goes through `hono/proxy`; a WebSocket handshake is fetched directly because `hono/proxy`
 * drops `Upgrade` and rebuilds the response without its `webSocket`.
 */
import type { Context } from "hono";
import { proxy } from "hono/proxy";
import { buildAssertionClaims } from "../assertion/claims";
import { requireAssertionSigner } from "../assertion/signer";
import { upstreamForwardedFor } from "../client-ip/resolve";
import { type AppEnv, requireConfig, UNAVAILABLE_MESSAGE } from "../env";
import { ApiError } from "../errors";
import { errorMessage, log } from "../log";
import { buildUpstreamHeaders, isWebSocketUpgrade, UPSTREAM_HEADERS } from "./headers";
import { buildUpstreamUrl, UpstreamUrlError } from "./url";

/**
 * The last step of every authenticated request (src/request-path/handler.ts).
 * @param requestUrl the client's request URL, parsed once by the handler
 * @returns the origin's response as is (status, headers and streamed body), or
 *          400 `invalid_path`, 502 `upstream_unavailable`, 504 `upstream_timeout` (after
 *          `UPSTREAM_TIMEOUT_MS` milliseconds without response headers), 503 `authorizer_unavailable`
 *          when the assertion cannot be signed (the request is never forwarded without it)
 */
export async function forward(c: Context<AppEnv>, requestUrl: URL): Promise<Response> {
  // c.get() reads one variable; c.var would copy all of them on every access (Hono builds it anew).
  const caller = c.get("caller");
  const version = c.get("version");
  const clientIp = c.get("clientIp");
  const requestId = c.get("requestId");
  if (!caller?.verified || !caller.keyId || !caller.mode || !version) {
    // Unreachable when the handler's order is right; fail closed if it is not.
    throw new ApiError("authorizer_unavailable", "The request was not authenticated.");
  }
  // The origin follows the verified mode: a test-mode key only ever reaches a sandbox origin.
  const origin = caller.mode === "test" ? version.entry.sandboxOrigin : version.entry.origin;
  if (origin === null || origin !== version.origin) {
    // Unreachable when api-version chose the origin for the same mode; fail closed if it did not.
    throw new ApiError("authorizer_unavailable", "The request was not routed.");
  }
  const { upstreamTimeoutMs } = requireConfig(c.env, requestId);
  // Fail closed before anything else: no assertion, no forwarding.
  const signer = await requireAssertionSigner(c.env, requestId);
  const raw = c.req.raw;

  let url: URL;
  try {
    url = buildUpstreamUrl(origin, requestUrl);
  } catch (err) {
    if (err instanceof UpstreamUrlError) throw new ApiError("invalid_path", "The request path cannot be forwarded.");
    throw err;
  }

  const added: Record<string, string> = {
    [UPSTREAM_HEADERS.accountId]: caller.accountId,
    [UPSTREAM_HEADERS.keyId]: caller.keyId,
    [UPSTREAM_HEADERS.keyMode]: caller.mode,
    [UPSTREAM_HEADERS.apiVersion]: version.entry.version,
    [UPSTREAM_HEADERS.forwardedProto]: requestUrl.protocol.slice(0, -1),
    [UPSTREAM_HEADERS.forwardedHost]: requestUrl.host,
    [UPSTREAM_HEADERS.requestId]: requestId,
  };
  const forwardedFor = upstreamForwardedFor(c.req.header("x-forwarded-for"), clientIp.connectingIp);
  if (forwardedFor) added[UPSTREAM_HEADERS.forwardedFor] = forwardedFor;
  const claims = buildAssertionClaims({
    issuer: signer.issuer,
    origin,
    accountId: caller.accountId,
    keyId: caller.keyId,
    mode: caller.mode,
    version: version.entry.version,
    method: raw.method,
    upstreamUrl: url,
    requestId,
    clientIp,
    nowMs: Date.now(),
  });
  try {
    added[UPSTREAM_HEADERS.assertion] = await signer.sign(claims);
  } catch (err) {
    log("error", "assertion_sign_failed", { request_id: requestId, error: errorMessage(err) });
    throw new ApiError("authorizer_unavailable", UNAVAILABLE_MESSAGE, { "Retry-After": "30" });
  }
  const webSocket = isWebSocketUpgrade(raw);
  const { headers, strippedReserved } = buildUpstreamHeaders(raw.headers, added, webSocket);
  // The audit event reuses these names instead of walking the request headers a second time.
  c.set("forgedHeaders", strippedReserved);

  if (webSocket) {
    // A GET handshake has no body; never follow a redirect (it would carry our identity headers elsewhere).
    return await fetchUpstream((signal) => fetch(url, { method: "GET", headers, redirect: "manual", signal }), upstreamTimeoutMs);
  }
  const hasBody = raw.method !== "GET" && raw.method !== "HEAD";
  return await fetchUpstream(
    (signal) =>
      proxy(url, {
        method: raw.method,
        headers,
        body: hasBody ? raw.body : null,
        redirect: "manual",
        signal,
      }),
    upstreamTimeoutMs,
  );
}

/**
 * Runs an upstream fetch with a deadline for the response headers; the body then streams without one
 * (the timer is cleared once the headers are in, so the abort signal can never cut a long body).
 * @param timeoutMs milliseconds
 * @throws ApiError `upstream_timeout` (504) or `upstream_unavailable` (502)
 */
async function fetchUpstream(send: (signal: AbortSignal) => Promise<Response>, timeoutMs: number): Promise<Response> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  try {
    return await send(controller.signal);
  } catch {
    if (timedOut) throw new ApiError("upstream_timeout", `The upstream origin did not answer within ${timeoutMs} ms.`);
    throw new ApiError("upstream_unavailable", "The upstream origin could not be reached.");
  } finally {
    clearTimeout(timer);
  }
}
