/**
 * Stands in for src/audit/producer.ts in the bench's `hot_noaudit` build (wrangler `--alias`): the
 * audit middleware still builds every event, but nothing is sent to the queue. The difference to the
 * `hot` arm is the cost of the audit send (batching, JSON sizing, the queue operation, and locally
 * the consumer). Exports what the middleware imports from the real module.
 */
import type { Added, BatchLimits } from "../../src/audit/batcher";
import type { AuditEvent } from "../../src/audit/event";

export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxEvents: 100, maxBytes: 96_000, maxDelayMs: 50 };

/** Accepts the event and does nothing with it. */
const NOTHING: Added = { delivered: Promise.resolve(), keepAlive: undefined };

export function sendAuditEvent(_queue: Queue, _event: AuditEvent, _limits?: BatchLimits): Added {
  return NOTHING;
}
