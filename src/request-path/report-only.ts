/**
 * Report-only mode (`ENFORCEMENT = "report-only"`, docs/operations.md "Report-only mode"): for a
 * cut-over. Every request is checked and audited exactly as in enforcement, but one that a credential
 * or key-policy check would refuse ({@link WOULD_REFUSE}) is forwarded anyway, marked for the origin
 * (`X-Spot-Enforcement: report-only`, `X-Spot-Would-Refuse: <code>`) and in its audit event
 * (`would_refuse`). An unauthenticated caller is forwarded without any identity header and without
 * an assertion. Everything else is answered as in enforcement: a version the origin cannot be chosen
 * for, a path that cannot be forwarded, the authorizer's own 503 (fail closed), the origin's failures.
 */
import { parseEnforcement, UNAVAILABLE_MESSAGE } from "../env";
import { ApiError, type ErrorCode } from "../errors";
import { forward } from "../forwarding/forward";
import type { PresentedCredentials } from "../keys/credentials";
import { errorMessage, log } from "../log";
import { resolveApiVersion } from "./api-version";
import { authenticateKey } from "./authenticate";
import type { ApiCall } from "./call";
import { checkCredentials } from "./credentials";
import { refuseBlockedAddress } from "./failed-auth";
import { enforceKeyPolicy } from "./key-policy";
import { WOULD_REFUSE } from "./would-refuse";

/** The `ENFORCEMENT` value last read, and whether it is report-only (one per isolate in practice). */
let readMode: { setting: string | undefined; reportOnly: boolean } | undefined;
/** Whether this isolate has logged `report_only_mode` already. */
let announced = false;

/** Tests: forget the mode read and the announcement, as a new isolate would. */
export function resetEnforcementMode(): void {
  readMode = undefined;
  announced = false;
}

/**
 * Whether the request path runs in report-only mode. Read again only when the setting changes; the
 * first time an isolate finds report-only it logs `report_only_mode` at `warn`, once.
 * @throws ApiError `authorizer_unavailable` (503, logged `config_invalid`) for a value that is not a mode
 */
export function isReportOnly(env: Env, requestId: string): boolean {
  const setting = env.ENFORCEMENT;
  if (readMode !== undefined && readMode.setting === setting) return readMode.reportOnly;
  let reportOnly: boolean;
  try {
    reportOnly = parseEnforcement(setting) === "report-only";
  } catch (err) {
    log("error", "config_invalid", { request_id: requestId, error: errorMessage(err) });
    throw new ApiError("authorizer_unavailable", UNAVAILABLE_MESSAGE, { "Retry-After": "30" });
  }
  readMode = { setting, reportOnly };
  if (reportOnly && !announced) {
    announced = true;
    log("warn", "report_only_mode", {
      request_id: requestId,
      detail: "ENFORCEMENT is report-only: requests that would be refused are forwarded, marked X-Spot-Would-Refuse",
    });
  }
  return reportOnly;
}

/** The code of a refusal report-only mode forwards anyway; anything else is thrown on (answered as usual). */
function wouldRefuse(err: unknown): ErrorCode {
  if (err instanceof ApiError && WOULD_REFUSE.has(err.code)) return err.code;
  throw err;
}

/**
 * The request path of report-only mode (after the client IP): the same checks in the same order as
 * src/request-path/handler.ts, the first refusal among {@link WOULD_REFUSE} recorded instead of
 * answered. A credential refusal skips authentication (as in enforcement nothing after it runs); the
 * version is still resolved (the origin is chosen by it, and by the secret's prefix: `sk_test_` only
 * ever reaches a sandbox).
 */
export async function checkAndForwardReportOnly(call: ApiCall): Promise<Response> {
  let refused: ErrorCode | undefined;
  let presented: PresentedCredentials | undefined;
  try {
    refuseBlockedAddress(call);
    presented = checkCredentials(call);
  } catch (err) {
    refused = wouldRefuse(err);
  }
  resolveApiVersion(call);
  if (presented !== undefined) {
    try {
      await authenticateKey(call, presented);
      await enforceKeyPolicy(call);
    } catch (err) {
      refused = wouldRefuse(err);
    }
  }
  call.wouldRefuse = refused;
  return await forward(call, { wouldRefuse: refused ?? null });
}
