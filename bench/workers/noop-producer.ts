/**
 * Stands in for src/audit/producer.ts in the bench's `hot_noaudit` build (wrangler `--alias`): the
 * audit middleware still builds every event, but nothing is sent to the queue. The difference to the
 * `hot` arm is the cost of the audit send (queue operation, JSON sizing, and locally the consumer).
 */
import type { AuditEvent } from "../../src/audit/event";

/** Accepts the event and does nothing with it. */
export async function sendAuditEvent(_queue: Queue, _event: AuditEvent): Promise<void> {}
