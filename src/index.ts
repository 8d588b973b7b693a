/**
 * The Worker's entry point: `fetch` runs the authorizer (src/app.ts); `queue` stores audit events
 * (src/audit/consumer.ts); `scheduled` applies the audit retention, by age and by size
 * (src/audit/retention.ts).
 */
import { createApp } from "./app";
import { consumeAuditBatch } from "./audit/consumer";
import { applyRetention, retentionDays } from "./audit/retention";
import { dbMaxBytes } from "./audit/window";

const app = createApp();

export default {
  fetch: app.fetch,
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
