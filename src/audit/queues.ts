/**
 * The audit queues by name (docs/audit.md "Consumer"). Pure: the audit Worker's consumer and
 * `npm run preflight` read the same rule.
 *
 * The events queue is `spot-audit-events`, or `spot-audit-events-<environment>` in a deployed
 * environment (wrangler.audit.toml: `spot-audit-events-staging`, `spot-audit-events-production`); its
 * dead-letter queue is the same name followed by `-dlq`. The consumer decides by this rule what a
 * batch is, so a renamed queue is refused by preflight before it could reach a consumer that does
 * not know it.
 */

/** The local (top-level) events queue; deployed environments add `-<environment>`. */
export const AUDIT_QUEUE_NAME = "spot-audit-events";
/** The local dead-letter queue of {@link AUDIT_QUEUE_NAME}. */
export const AUDIT_DLQ_NAME = `${AUDIT_QUEUE_NAME}-dlq`;

/** `spot-audit-events`, optionally `-` and an environment name (lowercase letters, digits, inner hyphens). */
const AUDIT_QUEUE_PATTERN = /^spot-audit-events(?:-[a-z0-9]+(?:-[a-z0-9]+)*)?$/;

export type AuditQueueRole = "events" | "dead_letters";

/**
 * @param queue a queue name, as `MessageBatch.queue` or a wrangler config names it
 * @returns `events` for an events queue, `dead_letters` for its dead-letter queue (`…-dlq`), or null
 *          for a queue the audit consumer does not know
 */
export function auditQueueRole(queue: string): AuditQueueRole | null {
  if (!AUDIT_QUEUE_PATTERN.test(queue)) return null;
  return queue.endsWith("-dlq") ? "dead_letters" : "events";
}
