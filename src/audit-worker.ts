/**
 * The audit Worker's entry point (wrangler.audit.toml), a Worker of its own next to the authorizer:
 * `queue` stores the audit events the request path sends to the audit queue, and what lands in its
 * dead-letter queue, in D1 and the R2 archive (src/audit/consumer.ts); `scheduled` applies the audit
 * retention, by age and by size (src/audit/retention.ts), on the hourly cron. It serves no requests.
 * Kept apart so the consumer (and the Parquet writer it needs) stays out of the request path's bundle.
 */
import { consumeAuditBatch } from "./audit/consumer";
import { applyRetention, retentionDays } from "./audit/retention";
import { dbMaxBytes } from "./audit/window";

export default {
  async queue(batch, env) {
    await consumeAuditBatch(batch, env);
  },
  async scheduled(controller, env) {
    await applyRetention(env.AUDIT_DB, retentionDays(env.AUDIT_RETENTION_DAYS), controller.scheduledTime, dbMaxBytes(env.AUDIT_DB_MAX_MB));
  },
} satisfies ExportedHandler<Env>;
