/**
 * The one handler behind every API request (README "How a request flows"): the checks run in this
 * order, each a plain function over the pure modules, each refusing by throwing an `ApiError`:
 *
 *   client IP (never fails) → blocked address? (429) → credentials (400/401, no KV)
 *     → version (400, no KV; test mode → sandbox origin) → authenticate (checksum → HMAC → isolate
 *     cache → KV; 401/503) → key policy (403/429) → forward (signed assertion → upstream origin)
 *
 * then, whatever the answer: a credential failure is counted (it may become a 429), the answer is
 * stamped (`X-Request-Id`, version headers) and its audit event is queued (for a forwarded body, once
 * the body has been delivered or broke off). One handler over one {@link ApiCall} instead of a chain
 * of Hono middleware: the order is visible in one place, and a request pays no per-layer promise and
 * context bookkeeping (docs/benchmark.md "Hot path").
 */
import { resolveClientIpMemo } from "../client-ip/memo";
import { forward } from "../forwarding/forward";
import { errorMessage, log } from "../log";
import { resolveApiVersion } from "./api-version";
import { recordAuditEvent, stampResponse } from "./audit";
import { authenticateKey } from "./authenticate";
import { ApiCall, type WaitUntil } from "./call";
import { checkCredentials } from "./credentials";
import { refusalAnswer } from "./errors";
import { countFailedAttempt, refuseBlockedAddress } from "./failed-auth";
import { enforceKeyPolicy } from "./key-policy";
import { checkAndForwardReportOnly, isReportOnly } from "./report-only";

/**
 * Answers one API request: the origin's response, or the authorizer's JSON error (docs/errors.md).
 * Never rejects: an unexpected exception becomes 503 `internal_error`, logged with the request id.
 * @param url `request.url`, parsed by the caller (src/index.ts, which routes on its path)
 * @param requestId a new request id (src/request-id.ts); a client-sent `X-Request-Id` is never trusted
 */
export async function handleApiRequest(
  request: Request,
  env: Env,
  executionCtx: WaitUntil,
  url: URL,
  requestId: string,
): Promise<Response> {
  const call = new ApiCall(request, env, executionCtx, url, requestId, Date.now());
  let res: Response;
  try {
    res = await authorizeAndForward(call);
  } catch (err) {
    res = refusalAnswer(call, err);
  }
  if (call.errorCode !== undefined || call.wouldRefuse !== undefined) {
    try {
      res = await countFailedAttempt(call, res);
    } catch (err) {
      // The refusal stands as it is; counting it must not turn it into a 500.
      log("error", "failed_auth_count_failed", { request_id: requestId, error: errorMessage(err) });
    }
  }
  res = stampResponse(call, res);
  const delivery = call.delivery;
  if (delivery === undefined) {
    recordAuditEvent(call, res);
  } else {
    // A forwarded body is still streaming: its event says how it ended (docs/audit.md "Delivery"),
    // so it is queued once the body is done, in this request's waitUntil.
    const durationMs = Date.now() - call.startedAtMs;
    const stamped = res;
    executionCtx.waitUntil(delivery.then((ended) => recordAuditEvent(call, stamped, { delivery: ended, durationMs })));
  }
  return res;
}

async function authorizeAndForward(call: ApiCall): Promise<Response> {
  call.clientIp = resolveClientIpMemo(call.header("cf-connecting-ip"), call.header("x-forwarded-for"));
  if (isReportOnly(call.env, call.requestId)) return await checkAndForwardReportOnly(call);
  refuseBlockedAddress(call);
  const presented = checkCredentials(call);
  resolveApiVersion(call);
  await authenticateKey(call, presented);
  await enforceKeyPolicy(call);
  return await forward(call);
}
