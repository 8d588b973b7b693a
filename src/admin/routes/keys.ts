/**
 * The key routes of the admin API (docs/admin-api.md "Keys"): list, show, create, import, rotate,
 * revoke and update. Secrets are made and hashed here (the account's Durable Object never sees one);
 * every state change happens in the account's Durable Object (src/admin/account-do.ts).
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type * as z from "zod";
import { type LastUse, lastUseOf } from "../../audit/last-used";
import type { AppEnv } from "../../env";
import { ApiError } from "../../errors";
import type { KeyMode } from "../../keys/format";
import { hashSecret, importHashKey } from "../../keys/hash";
import { normalizeCidr } from "../../keys/policy";
import { generateSecret, hasValidChecksum, secretFormat, secretHint } from "../../keys/secret";
import { errorMessage, log } from "../../log";
import type { NewSecret } from "../account-do";
import { ADMIN_UNAVAILABLE_MESSAGE, action, actorOf, requireAdmin, setTarget } from "../middleware";
import { applyPolicyChange, checkExpiresAt, type PolicyChange, type StoredKeyPolicy } from "../model";
import {
  AccountParams,
  CreatedKeyResponse,
  CreateKeyBody,
  ErrorResponse,
  ImportedKeyResponse,
  ImportKeyBody,
  KeyListResponse,
  KeyParams,
  KeyResponse,
  type PolicyBody,
  RevokedKeyResponse,
  RevokeKeyBody,
  RotatedKeyResponse,
  RotateKeyBody,
  UpdatedKeyResponse,
  UpdateKeyBody,
} from "../schemas";
import { accountKeys, errors, security, storage, throwIfRefused } from "./common";

/**
 * The last use of each key of the account (src/audit/last-used.ts), or null when the audit trail cannot
 * be read: the keys are still listed (they live in the account's Durable Object), without the fields,
 * and `key_last_use_unavailable` is logged.
 */
async function lastUses(c: Context<AppEnv>, accountId: string): Promise<Map<string, LastUse> | null> {
  try {
    return await lastUseOf(c.env.AUDIT_DB, accountId);
  } catch (err) {
    log("error", "key_last_use_unavailable", { request_id: c.get("requestId"), account_id: accountId, error: errorMessage(err) });
    return null;
  }
}

/** A key view with `last_used_at`/`last_used_ip` (null: never used); unchanged when `uses` is unknown (null). */
function withLastUse<K extends { key_id: string }>(key: K, uses: Map<string, LastUse> | null): K {
  if (uses === null) return key;
  const use = uses.get(key.key_id);
  return { ...key, last_used_at: use?.last_used_at ?? null, last_used_ip: use?.last_used_ip ?? null };
}

const SECRET_WARNING = "Store this secret now: it is shown only this once and cannot be recovered.";

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

/** Registers the key routes on the admin app, in the order of the OpenAPI document. */
export function registerKeyRoutes(admin: OpenAPIHono<AppEnv>): void {
  admin.openapi(listRoute, async (c) => {
    const { account_id } = c.req.valid("param");
    const { keys, suspendedAt } = await storage(c, () => accountKeys(c.env, account_id).listKeys(account_id));
    if (keys.length === 0) throw new ApiError("account_not_found", "This account has no keys.");
    const uses = await lastUses(c, account_id);
    return c.json(
      { account_id, account: { suspended: suspendedAt !== null, suspended_at: suspendedAt }, keys: keys.map((k) => withLastUse(k, uses)) },
      200,
    );
  });

  admin.openapi(getRoute, async (c) => {
    const { account_id, key_id } = c.req.valid("param");
    const result = await storage(c, () => accountKeys(c.env, account_id).getKey(account_id, key_id));
    throwIfRefused(result);
    return c.json({ key: withLastUse(result.key, await lastUses(c, account_id)) }, 200);
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
}
