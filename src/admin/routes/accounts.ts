/** Account suspension (docs/admin-api.md "Suspend and resume"): every key of an account refused until it is resumed. */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { action, actorOf, requireAdmin } from "../middleware";
import { AccountParams, AccountStateBody, AccountSuspensionResponse, ErrorResponse } from "../schemas";
import { accountKeys, errors, security, storage, throwIfRefused } from "./common";

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

/** Registers suspend and resume on the admin app. */
export function registerAccountRoutes(admin: OpenAPIHono<AppEnv>): void {
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
}
