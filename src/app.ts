/**
 * createApp(): the routes (README "How a request flows").
 *
 *   requestId → [reserved: /.well-known/spot-authorizer/jwks.json, answered here, no credentials]
 *   requestId → /__spot/admin/* : the admin API (src/admin/app.ts: admin JWT, never API keys, never proxied)
 *   requestId → /__spot/console/* : the web console (src/console/app.tsx: Access or local sign-in, never API
 *     keys, never proxied; every action an in-process admin API call through this app)
 *   requestId → every other path: src/request-path/handler.ts (client IP → blocked address? →
 *     credentials → version → authenticate → key policy → forward; then the failed-attempt count,
 *     the response stamps and the audit event)
 */
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { ADMIN_MOUNT, createAdminApp } from "./admin/app";
import { mountJwks } from "./assertion/jwks";
import { CONSOLE_MOUNT, createConsoleApp } from "./console/app";
// biome-ignore lint/correctness/noUnusedImports: bound by the __SPOT_DEBUG_COUNTERS__ define in bench/test builds (src/debug/counters.ts)
import { spotDebugCounters } from "./debug/counters";
import type { AppEnv } from "./env";
import { ApiError, errorAnswer, errorResponse } from "./errors";
import { newRequestId } from "./request-id";
import { handleApiRequest } from "./request-path/handler";

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // Bench/test builds only: GET /__spot/debug/counters (src/debug/counters.ts), before any middleware.
  if (typeof __SPOT_DEBUG_COUNTERS__ !== "undefined") __SPOT_DEBUG_COUNTERS__.mount(app);

  // Always a fresh id: a client-sent X-Request-Id is not trusted (it keys the audit trail). A UUIDv7,
  // so the id tells when the request arrived (src/request-id.ts).
  app.use(requestId({ headerName: "", generator: newRequestId }));
  // The JWKS for origins: before every credential check, never audited, never proxied (src/assertion/jwks.ts).
  mountJwks(app);
  // Before the API-key path: the admin app answers every path under its prefix itself (its own
  // audit event, errors and 404), so none of them reaches the API request handler below.
  app.route(ADMIN_MOUNT, createAdminApp());
  // The console, before the API-key path too; its actions call the admin API above through this app.
  app.route(
    CONSOLE_MOUNT,
    createConsoleApp((request, env, ctx) => app.fetch(request, env, ctx)),
  );
  app.all("*", handleApiRequest);

  app.notFound((c) => errorResponse(c, new ApiError("not_found", "No such route.")));
  app.onError((err, c) => errorAnswer(c, err));
  return app;
}
