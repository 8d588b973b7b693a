import { describe, expect, it } from "vitest";
import { AUDIT_DLQ_NAME, AUDIT_QUEUE_NAME, auditQueueRole } from "../../../src/audit/queues";

describe("auditQueueRole", () => {
  it.each([
    [AUDIT_QUEUE_NAME, "events"],
    ["spot-audit-events-staging", "events"],
    ["spot-audit-events-production", "events"],
    ["spot-audit-events-eu-2", "events"],
    [AUDIT_DLQ_NAME, "dead_letters"],
    ["spot-audit-events-staging-dlq", "dead_letters"],
    ["spot-audit-events-production-dlq", "dead_letters"],
  ])("%s → %s", (queue, role) => {
    expect(auditQueueRole(queue)).toBe(role);
  });

  it.each([
    "some-other-queue",
    "spot-audit-event",
    "spot-audit-events-",
    "spot-audit-events--dlq",
    "spot-audit-events-Staging",
    "x-spot-audit-events",
    "spot-audit-eventsx",
    "",
  ])("%j is no audit queue", (queue) => {
    expect(auditQueueRole(queue)).toBeNull();
  });
});
