/**
 * The admin API (docs/admin-api.md), mounted by src/app.ts at {@link ADMIN_MOUNT} before the
 * API-key chain: nothing under that prefix is ever proxied upstream or authenticated with an API key.
 *
 *   adminAudit (admin audit event on the way out, X-Request-Id, no-store)
 *     → refuseApiKeys (X-Spot-Api-Key / X-Spot-Api-Secret present → 401 api_key_not_accepted)
 *     → per route: action (for the audit event) → requireAdmin(read|write) (jose JWT) → zod validation → handler
 *     → handler: secrets made and hashed here; state changes in the account's Durable Object
 *
 * Routes are @hono/zod-openapi routes, so the served OpenAPI document ({@link OPENAPI_PATH}) is
 * generated from the same zod schemas that validate the requests.
 */
import { createRoute, OpenAPIHono, type z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import { buildAdminAuditEvent } from "../audit/admin-event";
import { ARCHIVE_LOOKUP_LIMITS, type ArchiveLookupResult, archivePlan, findArchivedAuditEvent } from "../audit/archive/lookup";
import {
  type AuditSearchFilters,
  type Cursor,
  decodeCursor,
  findAuditEvent,
  hasKeyedFilter,
  MAX_UNKEYED_WINDOW_MS,
  searchAdminAuditEvents,
  searchAuditEvents,
} from "../audit/query";
import type { AdminAuditTarget, AppEnv } from "../env";
import { ApiError, errorResponse } from "../errors";
import { API_KEY_HEADER, API_SECRET_HEADER } from "../keys/credentials";
import type { KeyMode } from "../keys/format";
import { hashSecret, importHashKey } from "../keys/hash";
import { normalizeCidr } from "../keys/policy";
import { generateSecret, hasValidChecksum, secretFormat, secretHint } from "../keys/secret";
import { errorMessage, log } from "../log";
import { requestIdForLookup } from "../request-id";
import { queueAuditEvent } from "../request-path/audit";
import type { AccountKeys, AccountOpError, NewSecret } from "./account-do";
import { ADMIN_REALM, AdminTokenError, bearerToken, getAdminAuthConfig, verifyAdminToken, WRITE_PERMISSION } from "./auth";
import { applyPolicyChange, checkExpiresAt, type PolicyChange, type StoredKeyPolicy } from "./model";
import {
  AccountParams,
  AccountStateBody,
  AccountSuspensionResponse,
  AdminAuditEventPage,
  AdminEventSearchQuery,
  AuditEventPage,
  AuditEventResponse,
  AuditSearchQuery,
  CreatedKeyResponse,
  CreateKeyBody,
  ErrorResponse,
  ImportedKeyResponse,
  ImportKeyBody,
  KeyListResponse,
  KeyParams,
  KeyResponse,
  OpenApiDocumentResponse,
  type PolicyBody,
  RequestIdParams,
  RevokedKeyResponse,
  RevokeKeyBody,
  RotatedKeyResponse,
  RotateKeyBody,
  UpdatedKeyResponse,
  UpdateKeyBody,
} from "./schemas";

/** Every path under this prefix belongs to the admin API (unknown ones answer the admin 404). */
export const ADMIN_MOUNT = "/__spot/admin";
/** The versioned admin API. */
export const ADMIN_PREFIX = `${ADMIN_MOUNT}/v1`;
/** The OpenAPI 3.0 document of the admin API (GET, no token needed). */
export const OPENAPI_PATH = `${ADMIN_PREFIX}/openapi.json`;

const ADMIN_UNAVAILABLE_MESSAGE = "The admin API cannot serve this request right now. Retry shortly.";
const SECRET_WARNING = "Store this secret now: it is shown only this once and cannot be recovered.";

// ---------------------------------------------------------------------------------------------
// Middleware

/** The admin audit event of every admin request (on the way out; its flush kept alive by waitUntil), and the response stamps. */
const adminAudit = createMiddleware<AppEnv>(async (c, next) => {
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
function bearerChallenge(error?: "invalid_token" | "insufficient_scope"): Record<string, string> {
  const parts = [`Bearer realm="${ADMIN_REALM}"`];
  if (error) parts.push(`error="${error}"`);
  if (error === "insufficient_scope") parts.push(`scope="${WRITE_PERMISSION}"`);
  return { "WWW-Authenticate": parts.join(", ") };
}

/** API keys never authenticate here: a request carrying either API-key header is refused. */
const refuseApiKeys = createMiddleware<AppEnv>(async (c, next) => {
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
function action(name: AdminAuditTarget["action"]): MiddlewareHandler<AppEnv> {
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
function requireAdmin(access: "read" | "write"): MiddlewareHandler<AppEnv> {
  return createMiddleware<AppEnv>(async (c, next) => {
    let config: ReturnType<typeof getAdminAuthConfig>;
    try {
      config = getAdminAuthConfig(c.env);
    } catch (err) {
      log("error", "admin_config_invalid", { request_id: c.get("requestId"), error: errorMessage(err) });
      throw new ApiError("admin_unavailable", ADMIN_UNAVAILABLE_MESSAGE, { "Retry-After": "30" });
    }
    const header = c.req.header("authorization");
    const token = bearerToken(header);
    if (token === null) {
      throw new ApiError(
        header ? "invalid_admin_token" : "missing_admin_token",
        header ? "Send the admin token as Authorization: Bearer <token>." : "This needs an admin token in Authorization: Bearer <token>.",
        bearerChallenge(header ? "invalid_token" : undefined),
      );
    }
    try {
      c.set("adminActor", await verifyAdminToken(token, config));
    } catch (err) {
      if (err instanceof AdminTokenError) {
        throw new ApiError("invalid_admin_token", `The admin token was refused: ${err.message}.`, bearerChallenge("invalid_token"));
      }
      log("error", "admin_jwks_unavailable", { request_id: c.get("requestId"), error: errorMessage(err) });
      throw new ApiError("admin_unavailable", ADMIN_UNAVAILABLE_MESSAGE, { "Retry-After": "30" });
    }
    if (access === "write" && !c.get("adminActor")?.permissions.includes(WRITE_PERMISSION)) {
      throw new ApiError(
        "insufficient_permission",
        `This admin token may read keys but not change them: it needs the "${WRITE_PERMISSION}" permission.`,
        bearerChallenge("insufficient_scope"),
      );
    }
    await next();
  });
}

// ---------------------------------------------------------------------------------------------
// Errors

/** Zod validation failures → 400 naming the field (`body.label`, `path.account_id`, `query.since`). */
function validationHook(result: { success: true } | { success: false; error: z.ZodError; target: string }, _c: Context<AppEnv>): undefined {
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
function adminOnError(err: Error, c: Context<AppEnv>): Response {
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

function throwIfRefused<T extends { ok: boolean }>(result: T | AccountOpError): asserts result is T {
  if (!result.ok) {
    const refusal = result as AccountOpError;
    throw new ApiError(refusal.code, refusal.message);
  }
}

// ---------------------------------------------------------------------------------------------
// Storage

/** The RPC methods of an account's Durable Object, as plain promises (the stub's own types are unions of RPC wrappers). */
type AccountKeysRpc = {
  [K in "listKeys" | "getKey" | "createKey" | "rotateKey" | "revokeKey" | "updateKey" | "suspendAccount" | "resumeAccount"]: (
    ...args: Parameters<AccountKeys[K]>
  ) => Promise<Awaited<ReturnType<AccountKeys[K]>>>;
};

function accountKeys(env: Env, accountId: string): AccountKeysRpc {
  return env.KEY_ACCOUNTS.get(env.KEY_ACCOUNTS.idFromName(accountId)) as unknown as AccountKeysRpc;
}

/** Calls the account's Durable Object; its unavailability is a 503, never a pass or a bare 500. */
async function storage<T>(c: Context<AppEnv>, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    log("error", "key_storage_unavailable", { request_id: c.get("requestId"), error: errorMessage(err) });
    throw new ApiError("admin_unavailable", ADMIN_UNAVAILABLE_MESSAGE, { "Retry-After": "5" });
  }
}

/** Hashes a secret with the current HMAC key and claims the hash for the account (409 if another account has it). */
async function registerSecret(c: Context<AppEnv>, accountId: string, secret: string): Promise<NewSecret> {
  let secretHash: string;
  try {
    secretHash = await hashSecret(await importHashKey(c.env.SECRET_HASH_KEY), secret);
  } catch (err) {
    log("error", "admin_hash_key_unusable", { request_id: c.get("requestId"), error: errorMessage(err) });
    throw new ApiError("admin_unavailable", ADMIN_UNAVAILABLE_MESSAGE, { "Retry-After": "30" });
  }
  const owned = await storage(c, () => c.env.SECRET_CLAIMS.get(c.env.SECRET_CLAIMS.idFromName(secretHash)).claim(accountId));
  if (!owned) throw new ApiError("secret_already_registered", "This secret is already registered to another account.");
  return { secretHash, hashKeyId: c.env.SECRET_HASH_KEY_ID, secretHint: secretHint(secret), secretFormat: secretFormat(secret) };
}

/**
 * `expires_at` of a body (create, import, rotate, update): in the future and at most MAX_EXPIRES_AHEAD_DAYS
 * ahead ({@link checkExpiresAt}), else 400 `invalid_body` naming `param` and the bound.
 * @returns ISO 8601 UTC, or null for no expiry
 */
function expiresAtOf(value: string | null | undefined, param: string): string | null {
  const checked = checkExpiresAt(value, Date.now(), param);
  if (!checked.ok) throw new ApiError("invalid_body", checked.message, {}, param);
  return checked.expiresAt;
}

/** Reads the audit trail; D1 trouble is a 503 (the caller retries), never a bare 500. */
async function auditDb<T>(c: Context<AppEnv>, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    log("error", "audit_query_failed", { request_id: c.get("requestId"), error: errorMessage(err) });
    throw new ApiError("admin_unavailable", "The audit trail cannot be read right now. Retry shortly.", { "Retry-After": "5" });
  }
}

/** Reads the R2 archive; R2 trouble is a 503 like D1's (the event may be there: never a 404), never a bare 500. */
async function auditArchive<T>(c: Context<AppEnv>, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    log("error", "audit_archive_read_failed", { request_id: c.get("requestId"), error: errorMessage(err) });
    throw new ApiError("admin_unavailable", "The audit archive cannot be read right now. Retry shortly.", { "Retry-After": "5" });
  }
}

/** The 404 of a lookup found neither in D1 nor in the archive, saying how far it looked. */
function auditEventNotFound(why: "too_recent" | "no_time" | ArchiveLookupResult): ApiError {
  const recent = "Events are stored a few seconds after the response: retry shortly if it is that recent.";
  let message: string;
  if (why === "too_recent") {
    message = `No audit event has this request id (yet). ${recent}`;
  } else if (why === "no_time") {
    message =
      "No audit event has this request id in D1 (the searchable trail of recent events), and the id is not a UUIDv7, " +
      'so it does not tell which hour of the archive to read; search the archive itself (docs/audit.md "Analytics on the archive"). ' +
      recent;
  } else if (why.outcome === "bounded") {
    const limits = ARCHIVE_LOOKUP_LIMITS;
    const stop =
      why.why === "listing"
        ? `its hour holds more objects than one lookup lists (${limits.maxListCalls} pages)`
        : why.why === "objects"
          ? `${why.candidates} objects may hold it, more than one lookup reads (${limits.maxObjects})`
          : `an object that may hold it is larger than one lookup reads (${limits.maxObjectBytes / 1_048_576} MiB)`;
    message =
      `No audit event has this request id in D1, nor in the ${why.objectsRead} archive objects read around its time, but the ` +
      `lookup stopped short: ${stop}. Search the archive itself (docs/audit.md "Analytics on the archive").`;
  } else {
    message =
      "No audit event has this request id: not in D1 (the searchable trail of recent events), nor in the archive objects of its time. " +
      "A denied request folded into a flood event is stored under the request id of the fold's last request.";
  }
  return new ApiError("audit_event_not_found", message);
}

/** `since`/`until` as epoch ms; `until` must lie after `since` (400 `query.until`). */
function timeRange(query: { since?: string; until?: string }): { sinceMs?: number; untilMs?: number } {
  const sinceMs = query.since === undefined ? undefined : Date.parse(query.since);
  const untilMs = query.until === undefined ? undefined : Date.parse(query.until);
  if (sinceMs !== undefined && untilMs !== undefined && untilMs <= sinceMs) {
    throw new ApiError("invalid_parameter", "query.until must be later than query.since.", {}, "query.until");
  }
  return { ...(sinceMs === undefined ? {} : { sinceMs }), ...(untilMs === undefined ? {} : { untilMs }) };
}

/** The position of a `cursor` parameter (400 `query.cursor` when it is not one of this search's cursors). */
function cursorParam(kind: "r" | "a", text: string | undefined): { after?: Cursor } {
  if (text === undefined) return {};
  const after = decodeCursor(kind, text);
  if (after === null) {
    throw new ApiError(
      "invalid_parameter",
      "query.cursor is not a cursor of this search: pass the next_cursor of the previous page unchanged.",
      {},
      "query.cursor",
    );
  }
  return { after };
}

/** The validated search parameters as a canonical query string for the admin event (fixed order; never the cursor). */
function canonicalQuery(values: Record<string, string | number | undefined>, order: readonly string[]): string {
  const params = new URLSearchParams();
  for (const name of order) {
    const value = values[name];
    if (value !== undefined) params.append(name, String(value));
  }
  return params.toString();
}

const AUDIT_QUERY_ORDER = [
  "request_id",
  "account_id",
  "key_id",
  "source_ip",
  "connecting_ip",
  "outcome",
  "since",
  "until",
  "limit",
] as const;
const ADMIN_QUERY_ORDER = ["account_id", "key_id", "actor", "action", "since", "until", "limit"] as const;

/** A policy of a request body in stored form: ranges normalised and de-duplicated (order kept). */
function policyChangeOf(body: z.infer<typeof PolicyBody> | undefined): PolicyChange {
  if (body === undefined) return {};
  const change: PolicyChange = {};
  if (body.ip_allowlist !== undefined) {
    change.ip_allowlist =
      body.ip_allowlist === null
        ? null
        : [
            ...new Set(
              body.ip_allowlist.map((text) => {
                const result = normalizeCidr(text);
                // Validated by the schema already; unreachable.
                if (!result.ok)
                  throw new ApiError("invalid_body", `body.policy.ip_allowlist: ${result.reason}.`, {}, "body.policy.ip_allowlist");
                return result.cidr;
              }),
            ),
          ];
  }
  if (body.rate_limit_per_minute !== undefined) change.rate_limit_per_minute = body.rate_limit_per_minute;
  return change;
}

/** The stored policy of a new key (null when the body sets none). */
function newKeyPolicy(body: z.infer<typeof PolicyBody> | undefined): StoredKeyPolicy | null {
  return applyPolicyChange(null, policyChangeOf(body)).policy;
}

function actorOf(c: Context<AppEnv>): string {
  return c.get("adminActor")?.sub ?? "";
}

function setTarget(c: Context<AppEnv>, patch: Partial<AdminAuditTarget>): void {
  const current = c.get("adminAudit") ?? { action: "unknown", accountId: null, keyId: null, newKeyId: null };
  c.set("adminAudit", { ...current, ...patch });
}

// ---------------------------------------------------------------------------------------------
// Routes

const errors = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: ERROR_DESCRIPTIONS[status], content: { "application/json": { schema: ErrorResponse } } },
    ]),
  );

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Bad path or query parameter or body: `invalid_parameter` / `invalid_body`, with `param` naming the field.",
  401: "No, or an unacceptable, admin token (`missing_admin_token`, `invalid_admin_token`), or API-key headers sent (`api_key_not_accepted`).",
  403: "A valid admin token without the `keys:write` permission (`insufficient_permission`).",
  404: "`account_not_found` (no key in that account) or `key_not_found`.",
  409: "`key_revoked`, `key_expired`, `key_already_rotated`, `secret_already_registered`.",
  503: "`admin_unavailable`: admin settings, JWKS or key storage unusable (fail closed), with Retry-After; `internal_error`: an unexpected failure.",
};

const security = [{ adminBearer: [] }];

const listRoute = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/keys",
  operationId: "listKeys",
  summary: "List an account's keys (metadata only)",
  security,
  middleware: [action("key.list"), requireAdmin("read")] as const,
  request: { params: AccountParams },
  responses: {
    200: { description: "Every key of the account, oldest first.", content: { "application/json": { schema: KeyListResponse } } },
    ...errors(400, 401, 404, 503),
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/keys/{key_id}",
  operationId: "getKey",
  summary: "Show one key (metadata only)",
  security,
  middleware: [action("key.get"), requireAdmin("read")] as const,
  request: { params: KeyParams },
  responses: { 200: { description: "The key.", content: { "application/json": { schema: KeyResponse } } }, ...errors(400, 401, 404, 503) },
});

const createKeyRoute = createRoute({
  method: "post",
  path: "/v1/accounts/{account_id}/keys",
  operationId: "createKey",
  summary: "Create a key; the answer holds its secret, shown only this once",
  security,
  middleware: [action("key.create"), requireAdmin("write")] as const,
  request: { params: AccountParams, body: { required: false, content: { "application/json": { schema: CreateKeyBody } } } },
  responses: {
    201: { description: "Created. Store `secret` now.", content: { "application/json": { schema: CreatedKeyResponse } } },
    ...errors(400, 401, 403, 409, 503),
  },
});

const importRoute = createRoute({
  method: "post",
  path: "/v1/accounts/{account_id}/keys/import",
  operationId: "importKey",
  summary: "Register an existing (legacy) secret as a key",
  security,
  middleware: [action("key.import"), requireAdmin("write")] as const,
  request: { params: AccountParams, body: { required: true, content: { "application/json": { schema: ImportKeyBody } } } },
  responses: {
    201: { description: "Imported. The secret is not echoed.", content: { "application/json": { schema: ImportedKeyResponse } } },
    ...errors(400, 401, 403, 409, 503),
  },
});

const rotateRoute = createRoute({
  method: "post",
  path: "/v1/accounts/{account_id}/keys/{key_id}/rotate",
  operationId: "rotateKey",
  summary: "Rotate a key: a new key and secret; the old secret works until the overlap ends",
  security,
  middleware: [action("key.rotate"), requireAdmin("write")] as const,
  request: { params: KeyParams, body: { required: false, content: { "application/json": { schema: RotateKeyBody } } } },
  responses: {
    200: { description: "Rotated. Store `secret` now.", content: { "application/json": { schema: RotatedKeyResponse } } },
    ...errors(400, 401, 403, 404, 409, 503),
  },
});

const revokeRoute = createRoute({
  method: "post",
  path: "/v1/accounts/{account_id}/keys/{key_id}/revoke",
  operationId: "revokeKey",
  summary: "Revoke a key (idempotent); it stops working within the revocation bound",
  security,
  middleware: [action("key.revoke"), requireAdmin("write")] as const,
  request: { params: KeyParams, body: { required: false, content: { "application/json": { schema: RevokeKeyBody } } } },
  responses: {
    200: { description: "Revoked (or already revoked).", content: { "application/json": { schema: RevokedKeyResponse } } },
    ...errors(400, 401, 403, 404, 503),
  },
});

const auditSearchRoute = createRoute({
  method: "get",
  path: "/v1/audit/events",
  operationId: "searchAuditEvents",
  summary: "Search request events, newest first",
  description:
    "Request events of the audit trail (D1 `audit_events`, docs/audit.md) matching every given filter, newest first " +
    "(by time, then event id), one page at a time. Events are stored a few seconds after their response. " +
    "Each search is itself recorded as an admin event (`audit.search`).",
  security,
  middleware: [action("audit.search"), requireAdmin("read")] as const,
  request: { query: AuditSearchQuery },
  responses: {
    200: { description: "One page of events; `next_cursor` continues.", content: { "application/json": { schema: AuditEventPage } } },
    ...errors(400, 401, 503),
  },
});

const auditGetRoute = createRoute({
  method: "get",
  path: "/v1/audit/requests/{request_id}",
  operationId: "getAuditEvent",
  summary: "The request event of one X-Request-Id",
  description:
    "The event of the response that carried this `X-Request-Id`, from D1 (the recent trail) or, when it has left D1, from the " +
    "R2 archive: a UUIDv7 request id carries its time, and only the archive objects whose time bounds cover it are read " +
    '(docs/audit.md "Past the D1 window"). A few seconds pass between a response and its event in D1; a denied request ' +
    "folded into a flood event is found only under the request id of the fold's last request. " +
    "Recorded as an admin event (`audit.get`).",
  security,
  middleware: [action("audit.get"), requireAdmin("read")] as const,
  request: { params: RequestIdParams },
  responses: {
    200: {
      description: "The event, and whether it came from D1 or the archive.",
      content: { "application/json": { schema: AuditEventResponse } },
    },
    ...errors(400, 401),
    404: {
      description:
        "`audit_event_not_found`: no event has this request id in D1 (yet) nor in the archive objects of its time; the message " +
        "says how far the lookup went (not a UUIDv7, so the archive was not searched; more archive objects than one lookup reads).",
      content: { "application/json": { schema: ErrorResponse } },
    },
    503: {
      description:
        "`admin_unavailable`: the audit trail (D1) or the archive (R2) cannot be read, or the admin settings or JWKS are unusable, " +
        "with Retry-After; `internal_error`: an unexpected failure.",
      content: { "application/json": { schema: ErrorResponse } },
    },
  },
});

const adminSearchRoute = createRoute({
  method: "get",
  path: "/v1/audit/admin-events",
  operationId: "searchAdminAuditEvents",
  summary: "Search admin events, newest first",
  description:
    "Admin events (D1 `admin_audit_events`: one per admin API request, searches included) matching every given filter, " +
    "newest first, one page at a time. Recorded as an admin event itself (`audit.admin_search`).",
  security,
  middleware: [action("audit.admin_search"), requireAdmin("read")] as const,
  request: { query: AdminEventSearchQuery },
  responses: {
    200: { description: "One page of admin events.", content: { "application/json": { schema: AdminAuditEventPage } } },
    ...errors(400, 401, 503),
  },
});

const updateRoute = createRoute({
  method: "patch",
  path: "/v1/accounts/{account_id}/keys/{key_id}",
  operationId: "updateKey",
  summary: "Change a key's label, expiry or policy (IP allowlist, rate limit); omitted fields stay, null removes",
  security,
  middleware: [action("key.update"), requireAdmin("write")] as const,
  request: { params: KeyParams, body: { required: true, content: { "application/json": { schema: UpdateKeyBody } } } },
  responses: {
    200: {
      description:
        "Updated (or unchanged: `changed` is empty). The edge enforces it within the revocation bound; a changed expiry is " +
        "published to the revocation feed (`revocation_published`).",
      content: { "application/json": { schema: UpdatedKeyResponse } },
    },
    ...errors(400, 401, 403, 404),
    409: {
      description: "`key_revoked` / `key_expired`: `expires_at` given for a revoked or expired key (an ended key is not revived).",
      content: { "application/json": { schema: ErrorResponse } },
    },
    ...errors(503),
  },
});

const accountStateRoute = (suspend: boolean) =>
  createRoute({
    method: "post",
    path: suspend ? "/v1/accounts/{account_id}/suspend" : "/v1/accounts/{account_id}/resume",
    operationId: suspend ? "suspendAccount" : "resumeAccount",
    summary: suspend
      ? "Suspend an account: every key of it answers 401 until resumed (idempotent)"
      : "Resume a suspended account: its keys work again as each key's own state allows (idempotent)",
    description: suspend
      ? "Publishes the suspension to the revocation feed (every isolate refuses the account's keys within 5 s of the answer while " +
        "`revocation_published` is true) and rewrites every key's lookup record in Workers KV as a v3 record carrying " +
        "`account_suspended_at` (docs/storage.md), which the edge refuses with 401 `invalid_credentials`. The keys themselves are " +
        "unchanged: they can still be listed, rotated, revoked or updated; keys created or rotated meanwhile are suspended too. " +
        "Suspending a suspended account changes nothing (`already: true`). Recorded as an admin event (`account.suspend`)."
      : "Publishes the end of the suspension to the revocation feed and rewrites every key's lookup record back to v1/v2; a " +
        "revoked or expired key stays refused. Resuming an account that is not suspended changes nothing (`already: true`). " +
        "Recorded as an admin event (`account.resume`).",
    security,
    middleware: [action(suspend ? "account.suspend" : "account.resume"), requireAdmin("write")] as const,
    request: { params: AccountParams, body: { required: false, content: { "application/json": { schema: AccountStateBody } } } },
    responses: {
      200: {
        description: suspend ? "Suspended (or already suspended)." : "Resumed (or not suspended).",
        content: { "application/json": { schema: AccountSuspensionResponse } },
      },
      ...errors(400, 401, 403),
      404: {
        description: "`account_not_found`: the account has no keys.",
        content: { "application/json": { schema: ErrorResponse } },
      },
      ...errors(503),
    },
  });
const suspendRoute = accountStateRoute(true);
const resumeRoute = accountStateRoute(false);

const openApiRoute = createRoute({
  method: "get",
  path: OPENAPI_PATH.slice(ADMIN_MOUNT.length),
  operationId: "getOpenApiDocument",
  summary: "This OpenAPI document",
  description:
    "The OpenAPI 3.0 document of the admin API, as committed in docs/admin-openapi.json. No token needed; " +
    "API-key headers are refused here too. Recorded as an admin event (`openapi.get`).",
  security: [],
  middleware: [action("openapi.get")] as const,
  responses: {
    200: { description: "The document.", content: { "application/json": { schema: OpenApiDocumentResponse } } },
    401: {
      description: "API-key headers sent (`api_key_not_accepted`).",
      content: { "application/json": { schema: ErrorResponse } },
    },
    503: {
      description: "`internal_error`: the document could not be built.",
      content: { "application/json": { schema: ErrorResponse } },
    },
  },
});

/** The admin API as a Hono app; mount it at {@link ADMIN_MOUNT}. */
export function createAdminApp(): OpenAPIHono<AppEnv> {
  const admin = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  admin.use(adminAudit);
  admin.use(refuseApiKeys);

  admin.openapi(listRoute, async (c) => {
    const { account_id } = c.req.valid("param");
    const { keys, suspendedAt } = await storage(c, () => accountKeys(c.env, account_id).listKeys(account_id));
    if (keys.length === 0) throw new ApiError("account_not_found", "This account has no keys.");
    return c.json({ account_id, account: { suspended: suspendedAt !== null, suspended_at: suspendedAt }, keys }, 200);
  });

  admin.openapi(getRoute, async (c) => {
    const { account_id, key_id } = c.req.valid("param");
    const result = await storage(c, () => accountKeys(c.env, account_id).getKey(account_id, key_id));
    throwIfRefused(result);
    return c.json({ key: result.key }, 200);
  });

  admin.openapi(createKeyRoute, async (c) => {
    const { account_id } = c.req.valid("param");
    const body = c.req.valid("json") as Partial<z.infer<typeof CreateKeyBody>>;
    const mode: KeyMode = body.mode ?? "live";
    const expiresAt = expiresAtOf(body.expires_at, "body.expires_at");
    const secret = generateSecret(mode);
    const registered = await registerSecret(c, account_id, secret);
    const result = await storage(c, () =>
      accountKeys(c.env, account_id).createKey({
        ...registered,
        accountId: account_id,
        mode,
        label: body.label ?? null,
        expiresAt,
        source: "generated",
        actor: actorOf(c),
        policy: newKeyPolicy(body.policy),
      }),
    );
    throwIfRefused(result);
    setTarget(c, { keyId: result.key.key_id });
    c.header("X-Spot-Secret-Warning", SECRET_WARNING);
    return c.json({ key: result.key, secret, kv_synced: result.kvSynced, revocation_published: result.revocationPublished }, 201);
  });

  admin.openapi(importRoute, async (c) => {
    const { account_id } = c.req.valid("param");
    const body = c.req.valid("json");
    if (!hasValidChecksum(body.secret)) {
      throw new ApiError(
        "invalid_body",
        "body.secret has 39 characters after its prefix, so it is read as a checksummed secret, and its checksum does not match: it could never authenticate.",
        {},
        "body.secret",
      );
    }
    const expiresAt = expiresAtOf(body.expires_at, "body.expires_at");
    const registered = await registerSecret(c, account_id, body.secret);
    const result = await storage(c, () =>
      accountKeys(c.env, account_id).createKey({
        ...registered,
        accountId: account_id,
        mode: body.secret.startsWith("sk_test_") ? "test" : "live",
        label: body.label ?? null,
        expiresAt,
        source: "imported",
        actor: actorOf(c),
        policy: newKeyPolicy(body.policy),
      }),
    );
    throwIfRefused(result);
    setTarget(c, { keyId: result.key.key_id });
    return c.json({ key: result.key, kv_synced: result.kvSynced, revocation_published: result.revocationPublished }, 201);
  });

  admin.openapi(rotateRoute, async (c) => {
    const { account_id, key_id } = c.req.valid("param");
    const body = c.req.valid("json") as Partial<z.infer<typeof RotateKeyBody>>;
    const expiresAt = expiresAtOf(body.expires_at, "body.expires_at");
    // The old key decides the mode; read it first so a refusal costs no secret.
    const current = await storage(c, () => accountKeys(c.env, account_id).getKey(account_id, key_id));
    throwIfRefused(current);
    const secret = generateSecret(current.key.mode);
    const registered = await registerSecret(c, account_id, secret);
    const result = await storage(c, () =>
      accountKeys(c.env, account_id).rotateKey({
        ...registered,
        accountId: account_id,
        keyId: key_id,
        overlapSeconds: body.overlap_seconds ?? 86_400,
        expiresAt,
        label: body.label,
        actor: actorOf(c),
      }),
    );
    throwIfRefused(result);
    setTarget(c, { newKeyId: result.key.key_id });
    c.header("X-Spot-Secret-Warning", SECRET_WARNING);
    return c.json(
      {
        key: result.key,
        previous: result.previous,
        secret,
        kv_synced: result.kvSynced,
        revocation_published: result.revocationPublished,
      },
      200,
    );
  });

  admin.openapi(revokeRoute, async (c) => {
    const { account_id, key_id } = c.req.valid("param");
    const result = await storage(c, () =>
      accountKeys(c.env, account_id).revokeKey({ accountId: account_id, keyId: key_id, actor: actorOf(c) }),
    );
    throwIfRefused(result);
    return c.json(
      {
        key: result.key,
        already_revoked: result.alreadyRevoked,
        kv_synced: result.kvSynced,
        revocation_published: result.revocationPublished,
      },
      200,
    );
  });

  for (const [route, suspend] of [
    [suspendRoute, true],
    [resumeRoute, false],
  ] as const) {
    admin.openapi(route, async (c) => {
      const { account_id } = c.req.valid("param");
      const input = { accountId: account_id, actor: actorOf(c) };
      const stub = accountKeys(c.env, account_id);
      const result = await storage(c, () => (suspend ? stub.suspendAccount(input) : stub.resumeAccount(input)));
      throwIfRefused(result);
      return c.json(
        {
          account_id,
          suspended: result.suspendedAt !== null,
          suspended_at: result.suspendedAt,
          already: result.already,
          keys_rewritten: result.keysRewritten,
          kv_synced: result.kvSynced,
          revocation_published: result.revocationPublished,
        },
        200,
      );
    });
  }

  admin.openapi(auditSearchRoute, async (c) => {
    const q = c.req.valid("query");
    setTarget(c, { accountId: q.account_id ?? null, keyId: q.key_id ?? null });
    const filters: AuditSearchFilters = {
      ...(q.account_id === undefined ? {} : { accountId: q.account_id }),
      ...(q.key_id === undefined ? {} : { keyId: q.key_id }),
      ...(q.request_id === undefined ? {} : { requestId: q.request_id }),
      ...(q.source_ip === undefined ? {} : { sourceIp: q.source_ip }),
      ...(q.connecting_ip === undefined ? {} : { connectingIp: q.connecting_ip }),
      ...(q.outcome === undefined ? {} : { outcome: q.outcome }),
      ...timeRange(q),
      ...cursorParam("r", q.cursor),
      limit: q.limit,
    };
    // An outcome alone is tested row by row along the time index: bounded by the range, so the range is bounded.
    if (filters.outcome !== undefined && !hasKeyedFilter(filters)) {
      const span = (filters.untilMs ?? Date.now()) - (filters.sinceMs ?? Number.NEGATIVE_INFINITY);
      if (span > MAX_UNKEYED_WINDOW_MS) {
        throw new ApiError(
          "invalid_parameter",
          `query.since: a search by outcome without account_id, key_id, request_id, source_ip or connecting_ip needs since, at most ${MAX_UNKEYED_WINDOW_MS / 3_600_000} hours before until (or now).`,
          {},
          "query.since",
        );
      }
    }
    setTarget(c, { query: canonicalQuery(q, AUDIT_QUERY_ORDER) });
    return c.json(await auditDb(c, () => searchAuditEvents(c.env.AUDIT_DB, filters)), 200);
  });

  admin.openapi(auditGetRoute, async (c) => {
    const requestId = requestIdForLookup(c.req.valid("param").request_id);
    setTarget(c, { query: canonicalQuery({ request_id: requestId }, ["request_id"]) });
    // D1 first: the recent trail. Then, for a UUIDv7 id old enough to have left D1, the archive objects of its time.
    let event = await auditDb(c, () => findAuditEvent(c.env.AUDIT_DB, requestId));
    let source: "d1" | "archive" = "d1";
    if (event === null) {
      const plan = archivePlan(requestId, Date.now());
      if (!plan.search) throw auditEventNotFound(plan.why);
      const archived = await auditArchive(c, () => findArchivedAuditEvent(c.env.AUDIT_ARCHIVE, requestId, plan.idTimeMs));
      if (archived.unreadable.length > 0) {
        log("error", "audit_archive_object_unreadable", { request_id: c.get("requestId"), keys: archived.unreadable });
      }
      if (archived.outcome === "bounded") {
        log("warn", "audit_archive_lookup_bounded", {
          request_id: c.get("requestId"),
          why: archived.why,
          candidates: archived.candidates,
          objects_read: archived.objectsRead,
          list_calls: archived.listCalls,
        });
      }
      if (archived.outcome !== "found") throw auditEventNotFound(archived);
      event = archived.event;
      source = "archive";
    }
    // Whose trail was read: the event's account and key.
    setTarget(c, { accountId: event.account_id, keyId: event.key_id });
    return c.json({ event, source }, 200);
  });

  admin.openapi(adminSearchRoute, async (c) => {
    const q = c.req.valid("query");
    setTarget(c, { accountId: q.account_id ?? null, keyId: q.key_id ?? null });
    const filters = {
      ...(q.account_id === undefined ? {} : { accountId: q.account_id }),
      ...(q.key_id === undefined ? {} : { keyId: q.key_id }),
      ...(q.actor === undefined ? {} : { actor: q.actor }),
      ...(q.action === undefined ? {} : { action: q.action }),
      ...timeRange(q),
      ...cursorParam("a", q.cursor),
      limit: q.limit,
    };
    setTarget(c, { query: canonicalQuery(q, ADMIN_QUERY_ORDER) });
    return c.json(await auditDb(c, () => searchAdminAuditEvents(c.env.AUDIT_DB, filters)), 200);
  });

  admin.openapi(updateRoute, async (c) => {
    const { account_id, key_id } = c.req.valid("param");
    const body = c.req.valid("json");
    const expiresAt = body.expires_at === undefined ? undefined : expiresAtOf(body.expires_at, "body.expires_at");
    const result = await storage(c, () =>
      accountKeys(c.env, account_id).updateKey({
        accountId: account_id,
        keyId: key_id,
        ...(body.label !== undefined ? { label: body.label } : {}),
        ...(expiresAt !== undefined ? { expiresAt } : {}),
        ...(body.policy !== undefined ? { policy: policyChangeOf(body.policy) } : {}),
        actor: actorOf(c),
      }),
    );
    throwIfRefused(result);
    setTarget(c, { changes: result.changed });
    return c.json(
      { key: result.key, changed: result.changed, kv_synced: result.kvSynced, revocation_published: result.revocationPublished },
      200,
    );
  });

  admin.openAPIRegistry.registerComponent("securitySchemes", "adminBearer", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: `A JWT verified against the configured JWKS (issuer, audience and algorithms pinned). Writes need "${WRITE_PERMISSION}" in the permissions claim.`,
  });

  // Built on the first request, once every route above is registered.
  let document: z.infer<typeof OpenApiDocumentResponse> | null = null;
  admin.openapi(openApiRoute, (c) => {
    document ??= adminOpenApiDocument(admin);
    return c.json(document, 200);
  });

  // Everything else under the prefix: the admin 404, never the API-key chain.
  admin.all("*", () => {
    throw new ApiError("not_found", "No such admin route. The admin API is described at GET /__spot/admin/v1/openapi.json.");
  });
  admin.onError(adminOnError);
  return admin;
}

/** The OpenAPI 3.0 document of the admin API, with full paths (docs/admin-openapi.json is this, committed). */
export function adminOpenApiDocument(admin: OpenAPIHono<AppEnv> = createAdminApp()): z.infer<typeof OpenApiDocumentResponse> {
  const doc = admin.getOpenAPIDocument({
    openapi: "3.0.3",
    info: {
      title: "Spot Thought edge authorizer: admin API",
      version: "1.0.0",
      description:
        "Key lifecycle and audit trail search for the edge authorizer (docs/admin-api.md, docs/audit.md). " +
        "Every error uses the authorizer's JSON envelope (docs/errors.md). Secrets are returned only by create and rotate, exactly once. " +
        "Any other path or method under /__spot/admin answers 404 `not_found`.",
    },
    servers: [{ url: "https://api.spot-thought.com" }, { url: "http://127.0.0.1:8787", description: "npm start" }],
  });
  const paths: Record<string, unknown> = {};
  for (const [path, item] of Object.entries(doc.paths ?? {})) paths[`${ADMIN_MOUNT}${path}`] = item;
  return { ...doc, paths };
}
