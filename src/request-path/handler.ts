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
 * the body has been delivered or broke off). One handler instead of a
 * chain of Hono middleware: the order is visible in one place, and a request pays no per-layer
 * promise and context bookkeeping (docs/benchmark.md).
 */
import type { Context } from "hono";
import { resolveClientIpMemo } from "../client-ip/memo";
import type { AppEnv } from "../env";
import { errorAnswer } from "../errors";
import { forward } from "../forwarding/forward";
import { errorMessage, log } from "../log";
import { resolveApiVersion } from "./api-version";
import { recordAuditEvent, stampResponse } from "./audit";
import { authenticateKey } from "./authenticate";
import { checkCredentials } from "./credentials";
import { countFailedAttempt, refuseBlockedAddress } from "./failed-auth";
import { enforceKeyPolicy } from "./key-policy";
import { checkAndForwardReportOnly, isReportOnly } from "./report-only";

/**
 * Answers one API request: the origin's response, or the authorizer's JSON error (docs/errors.md).
 * Never rejects: an unexpected exception becomes 503 `internal_error`, logged with the request id.
 */
export async function handleApiRequest(c: Context<AppEnv>): Promise<Response> {
  c.set("startedAtMs", Date.now());
  const url = new URL(c.req.url);
  let res: Response;
  try {
    res = await authorizeAndForward(c, url);
  } catch (err) {
    res = errorAnswer(c, err);
  }
  try {
    res = await countFailedAttempt(c, res);
  } catch (err) {
    // The refusal stands as it is; counting it must not turn it into a 500.
    log("error", "failed_auth_count_failed", { request_id: c.get("requestId"), error: errorMessage(err) });
  }
  res = stampResponse(c, res);
  const delivery = c.get("delivery");
  if (delivery === undefined) {
    recordAuditEvent(c, url, res);
  } else {
    // A forwarded body is still streaming: its event says how it ended (docs/audit.md "Delivery"),
    // so it is queued once the body is done, in this request's waitUntil.
    const durationMs = Date.now() - c.get("startedAtMs");
    const stamped = res;
    c.executionCtx.waitUntil(delivery.then((ended) => recordAuditEvent(c, url, stamped, { delivery: ended, durationMs })));
  }
  return res;
}

async function authorizeAndForward(c: Context<AppEnv>, url: URL): Promise<Response> {
  c.set("clientIp", resolveClientIpMemo(c.req.header("cf-connecting-ip") ?? null, c.req.header("x-forwarded-for") ?? null));
  if (isReportOnly(c.env, c.get("requestId"))) return await checkAndForwardReportOnly(c, url);
  refuseBlockedAddress(c);
  const presented = checkCredentials(c);
  resolveApiVersion(c);
  await authenticateKey(c, presented);
  await enforceKeyPolicy(c);
  return await forward(c, url);
}
