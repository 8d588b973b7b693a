/**
 * The Worker's entry point: `fetch` runs the authorizer (src/app.ts); `queue` stores audit events
 * (src/audit/consumer.ts).
 */
import { createApp } from "./app";
import { consumeAuditBatch } from "./audit/consumer";

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    await consumeAuditBatch(batch, env);
  },
} satisfies ExportedHandler<Env>;

export { AccountKeys } from "./admin/account-do";
export { SecretClaims } from "./admin/claim-do";
