/**
 * The admin API's middleware and error handling (docs/admin-api.md), in the order src/admin/app.ts runs them:
 *
 *   adminAudit (admin audit event on the way out, X-Request-Id, no-store)
 *     → refuseApiKeys (X-Spot-Api-Key / X-Spot-Api-Secret present → 401 api_key_not_accepted)
 *     → per route: action (for the audit event) → requireAdmin(read|write) (jose JWT) → zod validation (validationHook)
 *
 * and adminOnError, which answers every refusal with the authorizer's JSON envelope (docs/errors.md).
 */

import type { Context, MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import type * as z from "zod";
import { buildAdminAuditEvent } from "../audit/admin-event";
import type { AdminAuditTarget, AppEnv } from "../env";
import { ApiError, errorResponse } from "../errors";
import { API_KEY_HEADER, API_SECRET_HEADER } from "../keys/credentials";
import { errorMessage, log } from "../log";
import { queueAuditEvent } from "../request-path/audit";
import { ADMIN_REALM, AdminTokenError, bearerToken, getAdminAuthConfig, verifyAdminToken, WRITE_PERMISSION } from "./auth";

/** The application token Cloudflare Access adds to each request it lets through. */
export const ACCESS_ASSERTION_HEADER = "Cf-Access-Jwt-Assertion";

/** The message of every 503 `admin_unavailable` of settings, JWKS or key storage. */
export const ADMIN_UNAVAILABLE_MESSAGE = "The admin API cannot serve this request right now. Retry shortly.";

/** The admin audit event of every admin request (on the way out; its flush kept alive by waitUntil), and the response stamps. */
export const adminAudit = createMiddleware<AppEnv>(async (c, next) => {
  const startedAtMs = Date.now();
  await next();
  c.res.headers.set("X-Request-Id", c.get("requestId"));
  c.res.headers.set("Cache-Control", "no-store");
  try {
    const target: AdminAuditTarget = c.get("adminAudit") ?? targetFromPath(new URL(c.req.url).pathname);
    const status = c.res.status;
    const event = buildAdminAuditEvent({
      eventId: crypto.randomUUID(),
      timeMs: startedAtMs,
      requestId: c.get("requestId"),
      rayId: c.req.header("cf-ray") ?? null,
      action: target.action,
      outcome: c.get("errorCode") ? (status >= 500 ? "error" : "denied") : "allowed",
      reason: c.get("errorCode") ?? "ok",
      status,
      actorSub: c.get("adminActor")?.sub ?? null,
      actorEmail: c.get("adminActor")?.email ?? null,
      accountId: target.accountId,
      keyId: target.keyId,
      newKeyId: target.newKeyId,
      changes: target.changes ?? [],
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      query: target.query ?? null,
      connectingIp: c.req.header("cf-connecting-ip") ?? null,
      userAgent: c.req.header("user-agent") ?? null,
      durationMs: Date.now() - startedAtMs,
    });
    queueAuditEvent(c, event);
  } catch (err) {
    log("error", "audit_build_failed", { request_id: c.get("requestId"), error: errorMessage(err) });
  }
});

/** For a request refused before routing (API-key headers, unknown path): the account and key named in its path. */
function targetFromPath(path: string): AdminAuditTarget {
  const match = /\/accounts\/([^/]+)(?:\/keys\/([^/]+))?/.exec(path);
  return { action: "unknown", accountId: match?.[1] ?? null, keyId: match?.[2] ?? null, newKeyId: null };
}

/** `WWW-Authenticate` of the admin API's 401s and 403s (RFC 6750 §3). */
export function bearerChallenge(error?: "invalid_token" | "insufficient_scope"): Record<string, string> {
  const parts = [`Bearer realm="${ADMIN_REALM}"`];
  if (error) parts.push(`error="${error}"`);
  if (error === "insufficient_scope") parts.push(`scope="${WRITE_PERMISSION}"`);
  return { "WWW-Authenticate": parts.join(", ") };
}

/** API keys never authenticate here: a request carrying either API-key header is refused. */
export const refuseApiKeys = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.raw.headers.has(API_KEY_HEADER) || c.req.raw.headers.has(API_SECRET_HEADER)) {
    throw new ApiError(
      "api_key_not_accepted",
      `The admin API does not accept API keys: remove ${API_KEY_HEADER} and ${API_SECRET_HEADER} and send an admin token in Authorization: Bearer.`,
      bearerChallenge(),
    );
  }
  await next();
});

/** Names the action and its account/key for the admin audit event; runs first on each route. */
export function action(name: AdminAuditTarget["action"]): MiddlewareHandler<AppEnv> {
  return createMiddleware<AppEnv>(async (c, next) => {
    c.set("adminAudit", {
      action: name,
      accountId: c.req.param("account_id") ?? null,
      keyId: c.req.param("key_id") ?? null,
      newKeyId: null,
    });
    await next();
  });
}

/**
 * Verifies the admin token; `write` also needs {@link WRITE_PERMISSION}.
 * 401 missing/invalid token, 403 without the permission, 503 when the configuration or JWKS is unusable.
 */
export function requireAdmin(access: "read" | "write"): MiddlewareHandler<AppEnv> {
  return createMiddleware<AppEnv>(async (c, next) => {
    let config: ReturnType<typeof getAdminAuthConfig>;
    try {
      config = getAdminAuthConfig(c.env);
    } catch (err) {
      log("error", "admin_config_invalid", { request_id: c.get("requestId"), error: errorMessage(err) });
      throw new ApiError("admin_unavailable", ADMIN_UNAVAILABLE_MESSAGE, { "Retry-After": "30" });
    }
    const header = c.req.header("authorization");
    // Without Authorization: the application token Cloudflare Access adds, for a service token only.
    const accessAssertion = header === undefined ? c.req.header(ACCESS_ASSERTION_HEADER)?.trim() || undefined : undefined;
    const token = accessAssertion ?? bearerToken(header);
    if (token === null) {
      throw new ApiError(
        header ? "invalid_admin_token" : "missing_admin_token",
        header ? "Send the admin token as Authorization: Bearer <token>." : "This needs an admin token in Authorization: Bearer <token>.",
        bearerChallenge(header ? "invalid_token" : undefined),
      );
    }
    try {
      const actor = await verifyAdminToken(token, config);
      if (accessAssertion !== undefined && actor.serviceToken === null) {
        // A person's Access token arrives with the browser's CF_Authorization cookie, which a page of
        // another site can make the browser send: only the Bearer header proves the caller chose to.
        throw new AdminTokenError(
          `${ACCESS_ASSERTION_HEADER} is accepted from Access service tokens only; send a person's token as Authorization: Bearer`,
        );
      }
      c.set("adminActor", actor);
    } catch (err) {
      if (err instanceof AdminTokenError) {
        throw new ApiError("invalid_admin_token", `The admin token was refused: ${err.message}.`, bearerChallenge("invalid_token"));
      }
      log("error", "admin_jwks_unavailable", { request_id: c.get("requestId"), error: errorMessage(err) });
      throw new ApiError("admin_unavailable", ADMIN_UNAVAILABLE_MESSAGE, { "Retry-After": "30" });
    }
    if (access === "write" && !c.get("adminActor")?.canWrite) {
      throw new ApiError(
        "insufficient_permission",
        `This admin token may read keys but not change them: it needs the "${WRITE_PERMISSION}" permission, or its email, group or service token in the admin writer lists.`,
        bearerChallenge("insufficient_scope"),
      );
    }
    await next();
  });
}

/** Zod validation failures → 400 naming the field (`body.label`, `path.account_id`, `query.since`). */
export function validationHook(
  result: { success: true } | { success: false; error: z.ZodError; target: string },
  _c: Context<AppEnv>,
): undefined {
  if (result.success) return undefined;
  const issue = result.error.issues[0];
  const where = result.target === "json" ? "body" : result.target === "param" ? "path" : result.target;
  const path = issue ? issue.path.map(String) : [];
  if (issue?.code === "unrecognized_keys" && issue.keys[0] !== undefined) path.push(issue.keys[0]);
  const param = [where, ...path].join(".");
  const isBody = where === "body";
  const message =
    issue?.code === "unrecognized_keys"
      ? `${param} is not a ${isBody ? "field" : "parameter"} of this request.`
      : `${param}: ${issue?.message ?? "is invalid"}.`;
  throw new ApiError(isBody ? "invalid_body" : "invalid_parameter", message, {}, param);
}

/** The admin app's onError: the same envelope as the request path, HTTP exceptions of the JSON parser included. */
export function adminOnError(err: Error, c: Context<AppEnv>): Response {
  let apiError: ApiError;
  if (err instanceof ApiError) {
    apiError = err;
  } else if (err instanceof HTTPException && err.status < 500) {
    apiError = new ApiError("invalid_body", "The body must be a JSON object sent with Content-Type: application/json.", {}, "body");
  } else {
    log("error", "unhandled_error", { request_id: c.get("requestId"), error: errorMessage(err) });
    apiError = new ApiError(
      "internal_error",
      "The admin API could not process this request. Retry later; if it persists, quote the request id.",
    );
  }
  c.set("errorCode", apiError.code);
  return errorResponse(c, apiError);
}

/** The admin token's `sub` (a service token's `common_name`), recorded as who made a change. */
export function actorOf(c: Context<AppEnv>): string {
  return c.get("adminActor")?.sub ?? "";
}

/** Adds to what the admin audit event names (account, key, new key, changes, query). */
export function setTarget(c: Context<AppEnv>, patch: Partial<AdminAuditTarget>): void {
  const current = c.get("adminAudit") ?? { action: "unknown", accountId: null, keyId: null, newKeyId: null };
  c.set("adminAudit", { ...current, ...patch });
}
