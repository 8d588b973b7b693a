/**
 * Forwards an authorized request to its upstream origin (DESIGN §6): same method, path and query,
 * body streamed, `redirect: "manual"`, secret and hop-by-hop headers removed, the authorizer's
 * identity headers and the signed identity assertion (`X-Spot-Assertion`, src/assertion/) added.
 * The upstream fetch is made directly with the headers built once (src/forwarding/headers.ts); the
 * origin's response is copied once into a response with mutable headers, without its hop-by-hop
 * headers (src/forwarding/response.ts). A WebSocket handshake's response is returned as it is (its
 * `webSocket` must survive). The request body is watched on its
 * way up (src/forwarding/upload.ts) and the response body on its way down (src/forwarding/delivery.ts).
 */
import { buildAssertionClaims } from "../assertion/claims";
import { readyAssertionSigner, requireAssertionSigner } from "../assertion/signer";
import { upstreamForwardedFor } from "../client-ip/resolve";
import { UNAVAILABLE_MESSAGE } from "../env";
import { ApiError, type ErrorCode } from "../errors";
import { errorMessage, log } from "../log";
import type { ApiCall } from "../request-path/call";
import { type Delivery, trackDelivery } from "./delivery";
import { buildUpstreamHeaders, isWebSocketUpgrade, UPSTREAM_HEADERS } from "./headers";
import { downstreamResponse } from "./response";
import { type BodyOutcome, upstreamBody } from "./upload";
import { buildUpstreamUrl, UpstreamUrlError } from "./url";

/** Report-only mode (src/request-path/report-only.ts): what the origin is told about the request. */
export interface ReportOnlyMarks {
  /** The refusal enforcement would have answered; null when the request passed every check. */
  wouldRefuse: ErrorCode | null;
}

/**
 * The last step of every authenticated request (src/request-path/handler.ts), and in report-only mode
 * of every request that is forwarded.
 * @param report report-only mode only: adds `X-Spot-Enforcement: report-only` and, for a request that
 *        would be refused, `X-Spot-Would-Refuse`; a caller that did not authenticate is then forwarded
 *        without identity headers and without an assertion (docs/upstream.md "Report-only mode")
 * @returns the origin's response (status, headers and streamed body; `call.delivery` then
 *          settles with how that body ended), or 400 `invalid_path`, 400 `invalid_upgrade_request` (a
 *          WebSocket handshake carrying a body), 400 `request_body_incomplete` (the client's body broke
 *          off), 502 `upstream_unavailable`, 504 `upstream_timeout` (`UPSTREAM_TIMEOUT_MS` milliseconds
 *          without response headers, counted from the end of the request body), 503
 *          `authorizer_unavailable` when the assertion cannot be signed (nothing is forwarded without it)
 */
export async function forward(call: ApiCall, report?: ReportOnlyMarks): Promise<Response> {
  const { caller, version, clientIp, requestId, url: requestUrl } = call;
  const identity =
    caller?.verified && caller.keyId && caller.mode ? { accountId: caller.accountId, keyId: caller.keyId, mode: caller.mode } : null;
  // Unreachable when the handler's order is right; fail closed if it is not. Only report-only mode
  // forwards a caller that did not authenticate, and only with the refusal it would have had.
  if (!version || !clientIp || (identity === null && !report?.wouldRefuse)) {
    throw new ApiError("authorizer_unavailable", "The request was not authenticated.");
  }
  // The origin follows the verified mode: a test-mode key only ever reaches a sandbox origin. An
  // unauthenticated caller (report-only) goes where api-version sent its secret's prefix (sk_test_: a sandbox).
  const origin = identity === null ? version.origin : identity.mode === "test" ? version.entry.sandboxOrigin : version.entry.origin;
  if (origin === null || origin !== version.origin) {
    // Unreachable when api-version chose the origin for the same mode; fail closed if it did not.
    throw new ApiError("authorizer_unavailable", "The request was not routed.");
  }
  const { upstreamTimeoutMs } = call.config();
  // Fail closed before anything else: no assertion, no forwarding.
  const signer = identity === null ? null : (readyAssertionSigner(call.env) ?? (await requireAssertionSigner(call.env, requestId)));
  const raw = call.request;

  let url: URL;
  try {
    url = buildUpstreamUrl(origin, requestUrl);
  } catch (err) {
    if (err instanceof UpstreamUrlError) throw new ApiError("invalid_path", "The request path cannot be forwarded.");
    throw err;
  }

  const added: Record<string, string> =
    identity === null
      ? {}
      : {
          [UPSTREAM_HEADERS.accountId]: identity.accountId,
          [UPSTREAM_HEADERS.keyId]: identity.keyId,
          [UPSTREAM_HEADERS.keyMode]: identity.mode,
        };
  added[UPSTREAM_HEADERS.apiVersion] = version.entry.version;
  added[UPSTREAM_HEADERS.forwardedProto] = requestUrl.protocol.slice(0, -1);
  added[UPSTREAM_HEADERS.forwardedHost] = requestUrl.host;
  added[UPSTREAM_HEADERS.requestId] = requestId;
  const forwardedFor = upstreamForwardedFor(call.header("x-forwarded-for"), clientIp.connectingIp);
  if (forwardedFor) added[UPSTREAM_HEADERS.forwardedFor] = forwardedFor;
  if (report !== undefined) {
    added[UPSTREAM_HEADERS.enforcement] = "report-only";
    if (report.wouldRefuse !== null) added[UPSTREAM_HEADERS.wouldRefuse] = report.wouldRefuse;
  }
  if (identity !== null && signer !== null) {
    const claims = buildAssertionClaims({
      issuer: signer.issuer,
      origin,
      accountId: identity.accountId,
      keyId: identity.keyId,
      mode: identity.mode,
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
  }
  const webSocket = isWebSocketUpgrade(raw);
  if (webSocket && carriesBody(raw.headers)) {
    // A handshake is a GET without a body (RFC 6455 §4.1). One with a body was most likely sent with
    // another method and turned into a GET by a runtime on the way (workerd's fetch does that to any
    // request with Upgrade: websocket; locally, wrangler dev's proxy and Miniflare's entry worker pass
    // every request on with fetch): never pass it on as a GET.
    throw new ApiError(
      "invalid_upgrade_request",
      "A WebSocket upgrade must be a GET request without a body; send other methods without the Upgrade header.",
    );
  }
  const { headers, strippedReserved } = buildUpstreamHeaders(raw.headers, added, webSocket);
  // The audit event reuses these names instead of walking the request headers a second time.
  call.forgedHeaders = strippedReserved;
  const target = { requestId, origin, timeoutMs: upstreamTimeoutMs };

  if (webSocket) {
    // A GET handshake has no body; never follow a redirect (it would carry our identity headers elsewhere).
    return await fetchUpstream(url, { method: "GET", headers, redirect: "manual" }, null, target);
  }
  // The runtime asks for the encodings it can decode itself (and decodes them: src/forwarding/response.ts).
  headers.delete("accept-encoding");
  const upload = upstreamBody(raw, raw.method);
  const method = raw.method;
  const answer = await fetchUpstream(url, { method, headers, body: upload.body, redirect: "manual" }, upload.outcome, target);
  // Before the copy, which drops Content-Length when the runtime decoded a compressed body: delivery needs the origin's.
  const originLength = answer.headers.get("content-length");
  const res = downstreamResponse(answer);
  const clientGone = raw.signal;
  if (clientGone.aborted) {
    // The client left while the origin was working: nothing can be delivered any more.
    call.delivery = CLIENT_GONE;
    return res;
  }
  const tracked = trackDelivery(res, method, clientGone, originLength);
  if (tracked === null) return res;
  call.delivery = tracked.delivery;
  return tracked.response;
}

const CLIENT_GONE: Promise<Delivery> = Promise.resolve("client_disconnected");

/**
 * True when request headers announce content (RFC 9110 §8): a non-zero `Content-Length`, any
 * `Transfer-Encoding`, or a `Content-Type`, which `wrangler dev`'s proxy keeps when its fetch has
 * already turned a `POST` into a bodyless `GET` handshake (no WebSocket client sends one).
 */
function carriesBody(headers: Headers): boolean {
  const length = headers.get("content-length");
  return (length !== null && length.trim() !== "0") || headers.has("transfer-encoding") || headers.has("content-type");
}

/** Where an upstream fetch goes, for its deadline and its log line. */
interface UpstreamTarget {
  requestId: string;
  origin: string;
  /** Milliseconds the origin has, once the request body is sent, to answer with response headers. */
  timeoutMs: number;
}

/**
 * Runs an upstream fetch with a deadline for the response headers that starts once the request body
 * has been handed to the origin in full (at once for a request without a body): a slow upload is the
 * client's time, not the origin's. The body then streams without a deadline (the timer is cleared once
 * the headers are in, so the abort signal can never cut a long body). When the client's body breaks
 * off before its end, the upload is aborted (the origin sees an unfinished request, never a shorter
 * complete one) and the answer is 400.
 * @param bodyOutcome settles when the request body was sent in full, or broke off (src/forwarding/upload.ts);
 *        null when there is no body
 * @throws ApiError `upstream_timeout` (504), `upstream_unavailable` (502; the cause is logged as
 *         `upstream_failed` with the request id), `request_body_incomplete` (400)
 */
async function fetchUpstream(
  url: URL,
  init: RequestInit,
  bodyOutcome: Promise<BodyOutcome> | null,
  target: UpstreamTarget,
): Promise<Response> {
  const deadline = new UpstreamDeadline(target.timeoutMs);
  if (bodyOutcome === null) deadline.start();
  else bodyOutcome.then((outcome) => deadline.bodyEnded(outcome));
  init.signal = deadline.controller.signal;
  try {
    return await fetch(url, init);
  } catch (err) {
    if (deadline.stopped === "body") {
      throw new ApiError("request_body_incomplete", "The request body ended before it was complete; the upload to the origin was aborted.");
    }
    const failure = deadline.stopped === "timeout" ? "timeout" : "unavailable";
    log("error", "upstream_failed", {
      request_id: target.requestId,
      origin: target.origin,
      failure,
      error: errorMessage(err),
      elapsed_ms: Date.now() - deadline.startedAtMs,
    });
    if (failure === "timeout") throw new ApiError("upstream_timeout", `The upstream origin did not answer within ${target.timeoutMs} ms.`);
    throw new ApiError("upstream_unavailable", "The upstream origin failed to answer.");
  } finally {
    deadline.answered();
  }
}

/**
 * The wait for the origin's response headers (one per upstream fetch): an abort signal, and a timer
 * started once the request body is sent. One object of fixed shape and a timer callback that is not a
 * closure: the request path creates as few objects per request as it can (docs/benchmark.md "Hot path").
 */
class UpstreamDeadline {
  readonly controller = new AbortController();
  readonly startedAtMs = Date.now();
  /** Why the fetch was aborted: the deadline passed, or the client's body broke off. */
  stopped: "timeout" | "body" | undefined = undefined;
  #done = false;
  #timer: ReturnType<typeof setTimeout> | undefined = undefined;
  readonly #timeoutMs: number;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Starts the wait: {@link UpstreamTarget.timeoutMs} milliseconds from now. */
  start(): void {
    if (!this.#done) this.#timer = setTimeout(abortOnDeadline, this.#timeoutMs, this);
  }

  /** The request body was sent in full (the wait starts) or broke off (the upload is aborted). */
  bodyEnded(outcome: BodyOutcome): void {
    if (this.#done) return;
    if (outcome === "sent") this.start();
    else this.stop("body");
  }

  stop(reason: "timeout" | "body"): void {
    if (this.#done) return;
    this.stopped = reason;
    this.controller.abort();
  }

  /** The origin answered (or the fetch failed): the deadline no longer applies, the body streams freely. */
  answered(): void {
    this.#done = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }
}

function abortOnDeadline(deadline: UpstreamDeadline): void {
  deadline.stop("timeout");
}
