/**
 * The authorizer's own errors: one closed set of codes, one JSON envelope, one `onError`.
 *
 * Envelope (docs/errors.md, DESIGN §3):
 *   { "error": { "type": "...", "code": "...", "message": "...", "request_id": "..." } }
 * served with `Content-Type: application/json`. Nothing the authorizer returns is a bare 500.
 */
import type { Context } from "hono";
import type { AppEnv } from "./env";
import { errorMessage, log } from "./log";

/** Every error code the authorizer can answer with, mapped to its HTTP status and error type. */
export const ERROR_CODES = {
  missing_api_key: { status: 401, type: "authentication_error" },
  missing_api_secret: { status: 401, type: "authentication_error" },
  invalid_credentials: { status: 401, type: "authentication_error" },
  malformed_api_key: { status: 400, type: "invalid_request_error" },
  malformed_api_secret: { status: 400, type: "invalid_request_error" },
  duplicate_header: { status: 400, type: "invalid_request_error" },
  invalid_api_version: { status: 400, type: "invalid_request_error" },
  unsupported_api_version: { status: 400, type: "invalid_request_error" },
  invalid_path: { status: 400, type: "invalid_request_error" },
  test_mode_unavailable: { status: 400, type: "invalid_request_error" },
  invalid_upgrade_request: { status: 400, type: "invalid_request_error" },
  request_body_incomplete: { status: 400, type: "invalid_request_error" },
  ip_not_allowed: { status: 403, type: "permission_error" },
  not_found: { status: 404, type: "invalid_request_error" },
  method_not_allowed: { status: 405, type: "invalid_request_error" },
  rate_limited: { status: 429, type: "rate_limit_error" },
  upstream_unavailable: { status: 502, type: "upstream_error" },
  upstream_timeout: { status: 504, type: "upstream_error" },
  authorizer_unavailable: { status: 503, type: "api_error" },
  internal_error: { status: 503, type: "api_error" },
  // Admin API (/__spot/admin/v1/, docs/admin-api.md).
  invalid_body: { status: 400, type: "invalid_request_error" },
  invalid_parameter: { status: 400, type: "invalid_request_error" },
  api_key_not_accepted: { status: 401, type: "authentication_error" },
  missing_admin_token: { status: 401, type: "authentication_error" },
  invalid_admin_token: { status: 401, type: "authentication_error" },
  insufficient_permission: { status: 403, type: "permission_error" },
  account_not_found: { status: 404, type: "invalid_request_error" },
  key_not_found: { status: 404, type: "invalid_request_error" },
  // Audit query (/__spot/admin/v1/audit/…, docs/audit.md "Query").
  audit_event_not_found: { status: 404, type: "invalid_request_error" },
  key_revoked: { status: 409, type: "invalid_request_error" },
  key_expired: { status: 409, type: "invalid_request_error" },
  key_already_rotated: { status: 409, type: "invalid_request_error" },
  secret_already_registered: { status: 409, type: "invalid_request_error" },
  admin_unavailable: { status: 503, type: "api_error" },
} as const satisfies Record<string, { status: 400 | 401 | 403 | 404 | 405 | 409 | 429 | 502 | 503 | 504; type: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
export type ErrorType = (typeof ERROR_CODES)[ErrorCode]["type"];

/** Value of `WWW-Authenticate` on every 401: names the header scheme the API expects (RFC 9110 §11.6.1). */
export const WWW_AUTHENTICATE = 'SpotApiKey realm="api.spot-thought.com", key_header="X-Spot-Api-Key", secret_header="X-Spot-Api-Secret"';

/**
 * An error the authorizer answers with. Throw it anywhere in the request path; `onError` turns it
 * into the JSON envelope with the status of its code.
 *
 * @param code     one of {@link ERROR_CODES}
 * @param message  a human sentence for the integrator; never contains a secret
 * @param headers  extra response headers (e.g. `Retry-After`); a `WWW-Authenticate` here replaces the API-key one
 * @param param    the request field the error is about (admin API: `body.label`, `path.account_id`), if any
 */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly headers: Record<string, string>;
  readonly param: string | undefined;
  constructor(code: ErrorCode, message: string, headers: Record<string, string> = {}, param?: string) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.headers = headers;
    this.param = param;
  }
  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

/** The JSON body of an error response; `param` only on admin API errors about one request field. */
export interface ErrorBody {
  error: { type: ErrorType; code: ErrorCode; message: string; request_id: string; param?: string };
}

/** Builds the envelope for `code`; pure, used by {@link errorResponse} and by tests. */
export function errorBody(code: ErrorCode, message: string, requestId: string, param?: string): ErrorBody {
  const body: ErrorBody = { error: { type: ERROR_CODES[code].type, code, message, request_id: requestId } };
  if (param !== undefined) body.error.param = param;
  return body;
}

/** What anything but an {@link ApiError} is answered with: 503 `internal_error`. */
function asApiError(err: unknown): ApiError {
  return err instanceof ApiError
    ? err
    : new ApiError(
        "internal_error",
        "The authorizer could not process this request. Retry later; if it persists, contact support with the request id.",
      );
}

/**
 * Renders an {@link ApiError} (or anything else, as 503 `internal_error`) as the JSON envelope, without
 * a framework (the API request path, src/request-path/errors.ts).
 * Headers: `Content-Type: application/json`, `Cache-Control: no-store`, `X-Content-Type-Options: nosniff`,
 * `X-Request-Id`, `WWW-Authenticate` on 401, then the error's own (e.g. `Retry-After`).
 * @param requestId the request's id; empty: no `X-Request-Id`
 */
export function jsonErrorResponse(requestId: string, err: unknown): Response {
  const apiError = asApiError(err);
  const headers = new Headers({ "content-type": "application/json" });
  return new Response(JSON.stringify(errorBody(apiError.code, apiError.message, requestId, apiError.param)), {
    status: apiError.status,
    headers: withErrorHeaders(headers, apiError, requestId),
  });
}

function withErrorHeaders(headers: Headers, apiError: ApiError, requestId: string): Headers {
  headers.set("Cache-Control", "no-store");
  headers.set("X-Content-Type-Options", "nosniff");
  if (requestId) headers.set("X-Request-Id", requestId);
  if (apiError.status === 401) headers.set("WWW-Authenticate", WWW_AUTHENTICATE);
  for (const name in apiError.headers) headers.set(name, apiError.headers[name] as string);
  return headers;
}

/**
 * {@link jsonErrorResponse} through a Hono context (the admin API, the console, `app.onError`): the
 * same envelope and headers, plus any header the route already set on `c`.
 */
export function errorResponse(c: Context, err: unknown): Response {
  const apiError = asApiError(err);
  const requestId = (c.get("requestId") as string | undefined) ?? "";
  const res = c.json(errorBody(apiError.code, apiError.message, requestId, apiError.param), apiError.status as 400);
  withErrorHeaders(res.headers, apiError, requestId);
  return res;
}

/**
 * The answer to a refusal or a failure, as the request path and `app.onError` give it: sets
 * `c.var.errorCode` (the audit event's reason); anything but an {@link ApiError} is logged as
 * `unhandled_error` with the request id and answered 503 `internal_error`.
 */
export function errorAnswer(c: Context<AppEnv>, err: unknown): Response {
  if (err instanceof ApiError) {
    c.set("errorCode", err.code);
  } else {
    c.set("errorCode", "internal_error");
    log("error", "unhandled_error", { request_id: c.get("requestId"), error: errorMessage(err) });
  }
  return errorResponse(c, err);
}
