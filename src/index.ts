/**
 * The Worker's entry point: `fetch` runs the authorizer (src/app.ts); `queue` stores audit events
 * (src/audit/consumer.ts); `scheduled` applies the audit retention, by age and by size
 * (src/audit/retention.ts).
 */
import { createApp, isApiPath } from "./app";
import { consumeAuditBatch } from "./audit/consumer";
import { applyRetention, retentionDays } from "./audit/retention";
import { dbMaxBytes } from "./audit/window";
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
  async queue(batch, env) {
    await consumeAuditBatch(batch, env);
  },
  async scheduled(controller, env) {
    await applyRetention(env.AUDIT_DB, retentionDays(env.AUDIT_RETENTION_DAYS), controller.scheduledTime, dbMaxBytes(env.AUDIT_DB_MAX_MB));
  },
} satisfies ExportedHandler<Env>;

export { AccountKeys } from "./admin/account-do";
export { SecretClaims } from "./admin/claim-do";
export { RevocationFeed } from "./revocation/feed-do";
