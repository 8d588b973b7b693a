/**
 * createApp(): the routes (README "How a request flows").
 *
 *   requestId → [reserved: /.well-known/spot-authorizer/jwks.json, answered here, no credentials]
 *   requestId → /__spot/admin/* : the admin API (src/admin/app.ts: admin JWT, never API keys, never proxied)
 *   requestId → /__spot/console/* : the web console (src/console/app.tsx: Access or local sign-in, never API
 *     keys, never proxied; every action an in-process admin API call through this app)
 *   (both loaded on their first request: {@link lazyMount})
 *   requestId → every other path: src/request-path/handler.ts, which src/index.ts also calls directly
 *     for a path that cannot be any of the above ({@link isApiPath}) (client IP → blocked address? →
 *     credentials → version → authenticate → key policy → forward; then the failed-attempt count,
 *     the response stamps and the audit event)
 */
import { type Context, Hono, type Env as HonoEnv } from "hono";
import { requestId } from "hono/request-id";
import { ADMIN_MOUNT } from "./admin/paths";
import { mountJwks } from "./assertion/jwks";
import { CONSOLE_MOUNT } from "./console/paths";
// biome-ignore lint/correctness/noUnusedImports: bound by the __SPOT_DEBUG_COUNTERS__ define in bench/test builds (src/debug/counters.ts)
import { spotDebugCounters } from "./debug/counters";
import type { AppEnv } from "./env";
import { ApiError, errorAnswer, errorResponse } from "./errors";
import { newRequestId } from "./request-id";
import { handleApiRequest } from "./request-path/handler";

/**
 * True for a request path that no route above can match, so it can go straight to the API request
 * path without Hono: not under the reserved prefixes `/__spot` and `/.well-known/`, and without
 * percent-encoding (Hono matches routes on the decoded path, so `/__spot/%61dmin/…` is the admin API).
 * A false answer is never wrong: such a path takes the router, which sends API paths to the same handler.
 * @param pathname `URL.pathname` of the request
 */
export function isApiPath(pathname: string): boolean {
  return !pathname.startsWith("/__spot") && !pathname.startsWith("/.well-known/") && !pathname.includes("%");
}

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // Bench/test builds only: GET /__spot/debug/counters (src/debug/counters.ts), before any middleware.
  if (typeof __SPOT_DEBUG_COUNTERS__ !== "undefined") __SPOT_DEBUG_COUNTERS__.mount(app);

  // Always a fresh id: a client-sent X-Request-Id is not trusted (it keys the audit trail). A UUIDv7,
  // so the id tells when the request arrived (src/request-id.ts).
  app.use(freshRequestId());
  // The JWKS for origins: before every credential check, never audited, never proxied (src/assertion/jwks.ts).
  mountJwks(app);
  // Before the API-key path: the admin app answers every path under its prefix itself (its own
  // audit event, errors and 404), so none of them reaches the API request handler below.
  lazyMount(app, ADMIN_MOUNT, async () => (await import("./admin/app")).createAdminApp());
  // The console, before the API-key path too; its actions call the admin API above through this app.
  lazyMount(app, CONSOLE_MOUNT, async () =>
    (await import("./console/app")).createConsoleApp((request, env, ctx) => app.fetch(request, env, ctx)),
  );
  // Every other path: the API request path, without Hono's context (src/request-path/handler.ts).
  // src/index.ts sends most API requests there directly; this route serves the rest (see isApiPath).
  app.all("*", (c) => handleApiRequest(c.req.raw, c.env, c.executionCtx, new URL(c.req.url), c.get("requestId")));

  app.notFound((c) => errorResponse(c, new ApiError("not_found", "No such route.")));
  app.onError((err, c) => errorAnswer(c, err));
  return app;
}

/** Always a fresh request id (never the client's), as `c.var.requestId`; no response header. */
function freshRequestId() {
  return requestId({ headerName: "", generator: newRequestId });
}

/**
 * Mounts a sub-app at `mount` that is built on the first request under it, not when the isolate
 * starts: the admin API and the console construct their zod and OpenAPI schemas at module top level,
 * and API traffic never needs them (docs/benchmark.md "Bundle and cold start"). The modules are
 * imported dynamically, so the bundler initialises them on that first import too.
 *
 * The sub-app runs as an app of its own (with its own fresh request id), mounted at the same prefix:
 * it answers every path under it itself (own errors and 404), as it did when it was routed into this
 * app directly. A failed load is retried by the next request.
 */
function lazyMount<E extends HonoEnv>(app: Hono<AppEnv>, mount: string, load: () => Promise<Hono<E>>): void {
  let loaded: Promise<Hono<AppEnv>> | undefined;
  const handler = async (c: Context<AppEnv>) => {
    loaded ??= load().then(
      (sub) => new Hono<AppEnv>().use(freshRequestId()).route(mount, sub),
      (err: unknown) => {
        loaded = undefined;
        throw err;
      },
    );
    return (await loaded).fetch(c.req.raw, c.env, executionContext(c));
  };
  app.all(mount, handler);
  app.all(`${mount}/*`, handler);
}

/** The request's ExecutionContext; absent when the app is called without one (some tests). */
function executionContext(c: Context<AppEnv>): ExecutionContext | undefined {
  try {
    return c.executionCtx as ExecutionContext;
  } catch {
    return undefined;
  }
}
