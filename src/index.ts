/**
 * The authorizer Worker's entry point (wrangler.toml): `fetch` runs the authorizer (src/app.ts), and
 * the Durable Object classes of key administration and the revocation feed are exported here. It
 * only produces audit events (to the audit queue); the audit Worker (src/audit-worker.ts,
 * wrangler.audit.toml) consumes them and runs the retention cron.
 */
import { createApp, isApiPath } from "./app";
import { newRequestId } from "./request-id";
import { handleApiRequest } from "./request-path/handler";

const app = createApp();

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    // API traffic skips the router: no reserved route can match its path (src/app.ts isApiPath).
    const url = new URL(request.url);
    if (isApiPath(url.pathname)) return handleApiRequest(request, env, ctx, url, newRequestId());
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;

export { AccountKeys } from "./admin/account-do";
export { SecretClaims } from "./admin/claim-do";
export { RevocationFeed } from "./revocation/feed-do";
