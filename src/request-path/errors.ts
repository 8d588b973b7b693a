/**
 * The authorizer's own answer to a refused or failed API request (docs/errors.md): the JSON envelope
 * of src/errors.ts, and the error code recorded on the call for the audit event's reason.
 */
import { ApiError, jsonErrorResponse } from "../errors";
import { errorMessage, log } from "../log";
import type { ApiCall } from "./call";

/**
 * Sets `call.errorCode`; anything but an {@link ApiError} is logged as `unhandled_error` with the
 * request id and answered 503 `internal_error`.
 * @returns the JSON error response (status of the error code, headers of {@link jsonErrorResponse})
 */
export function refusalAnswer(call: ApiCall, err: unknown): Response {
  if (err instanceof ApiError) {
    call.errorCode = err.code;
  } else {
    call.errorCode = "internal_error";
    log("error", "unhandled_error", { request_id: call.requestId, error: errorMessage(err) });
  }
  return jsonErrorResponse(call.requestId, err);
}
