/**
 * The Worker's entry point: `fetch` runs the authorizer (src/app.ts); `queue` stores audit events
 * (src/audit/consumer.ts); `scheduled` applies the audit retention (src/audit/retention.ts).
 */
import { createApp } from "./app";
import { consumeAuditBatch } from "./audit/consumer";
import { applyRetention, retentionDays } from "./audit/retention";

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    await consumeAuditBatch(batch, env);
  },
  async scheduled(controller, env) {
    await applyRetention(env.AUDIT_DB, retentionDays(env.AUDIT_RETENTION_DAYS), controller.scheduledTime);
  },
} satisfies ExportedHandler<Env>;

export { AccountKeys } from "./admin/account-do";
export { SecretClaims } from "./admin/claim-do";
