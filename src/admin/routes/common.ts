/** What the admin routes share: the documented error answers of each route, the security scheme, refusals of the Durable Object. */
import type { Context } from "hono";
import type { AppEnv } from "../../env";
import { ApiError } from "../../errors";
import { errorMessage, log } from "../../log";
import type { AccountKeys, AccountOpError } from "../account-do";
import { ADMIN_UNAVAILABLE_MESSAGE } from "../middleware";
import { ErrorResponse } from "../schemas";

/** The OpenAPI responses of these error statuses, each with the JSON envelope (docs/errors.md). */
export const errors = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: ERROR_DESCRIPTIONS[status], content: { "application/json": { schema: ErrorResponse } } },
    ]),
  );

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Bad path or query parameter or body: `invalid_parameter` / `invalid_body`, with `param` naming the field.",
  401: "No, or an unacceptable, admin token (`missing_admin_token`, `invalid_admin_token`), or API-key headers sent (`api_key_not_accepted`).",
  403: "A valid admin token that may not write: no `keys:write` permission and no match in the admin writer lists (`insufficient_permission`).",
  404: "`account_not_found` (no key in that account) or `key_not_found`.",
  409: "`key_revoked`, `key_expired`, `key_already_rotated`, `secret_already_registered`.",
  503: "`admin_unavailable`: admin settings, JWKS or key storage unusable (fail closed), with Retry-After; `internal_error`: an unexpected failure.",
};

export const security = [{ adminBearer: [] }];

/** Turns a refusal of the account's Durable Object into its ApiError (404/409). */
export function throwIfRefused<T extends { ok: boolean }>(result: T | AccountOpError): asserts result is T {
  if (!result.ok) {
    const refusal = result as AccountOpError;
    throw new ApiError(refusal.code, refusal.message);
  }
}

/** The RPC methods of an account's Durable Object, as plain promises (the stub's own types are unions of RPC wrappers). */
export type AccountKeysRpc = {
  [K in "listKeys" | "getKey" | "createKey" | "rotateKey" | "revokeKey" | "updateKey" | "suspendAccount" | "resumeAccount"]: (
    ...args: Parameters<AccountKeys[K]>
  ) => Promise<Awaited<ReturnType<AccountKeys[K]>>>;
};

/** The Durable Object of one account (named by its id). */
export function accountKeys(env: Env, accountId: string): AccountKeysRpc {
  return env.KEY_ACCOUNTS.get(env.KEY_ACCOUNTS.idFromName(accountId)) as unknown as AccountKeysRpc;
}

/** Calls the account's Durable Object; its unavailability is a 503, never a pass or a bare 500. */
export async function storage<T>(c: Context<AppEnv>, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    log("error", "key_storage_unavailable", { request_id: c.get("requestId"), error: errorMessage(err) });
    throw new ApiError("admin_unavailable", ADMIN_UNAVAILABLE_MESSAGE, { "Retry-After": "5" });
  }
}
