/**
 * The last use of each key in the admin API's list and show answers (docs/audit.md "Last used"): kept by
 * the real queue consumer from the request events, merged into the keys of the account's Durable Object.
 */
import { createMessageBatch } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AUDIT_QUEUE_NAME, consumeAuditBatch } from "../../src/audit/consumer";
import { buildAuditEvent } from "../../src/audit/event";
import { adminCall, createKey } from "../helpers/admin";
import { sampleAuditInput } from "../helpers/audit";

afterEach(() => vi.restoreAllMocks());

type KeyJson = { key_id: string; last_used_at?: string | null; last_used_ip?: string | null };

/** The consumer stores one allowed request of the key at `timeMs` from `ip`. */
async function used(account: string, keyId: string, timeMs: number, ip: string): Promise<void> {
  const id = crypto.randomUUID();
  const event = buildAuditEvent(sampleAuditInput({ eventId: id, requestId: id, timeMs, accountId: account, keyId, connectingIp: ip }));
  await consumeAuditBatch(
    createMessageBatch<unknown>(AUDIT_QUEUE_NAME, [{ id, timestamp: new Date(), attempts: 1, body: { v: 1, events: [event] } }]),
    env,
  );
}

describe("last used in the key answers", () => {
  it("null for a key never used, then the time and connecting IP of its latest forwarded request", async () => {
    const first = await createKey("acct_lu1");
    const second = await createKey("acct_lu1");
    const listed = async () => ((await adminCall("GET", "/accounts/acct_lu1/keys")).body as { keys: KeyJson[] }).keys;
    for (const key of await listed()) expect(key).toMatchObject({ last_used_at: null, last_used_ip: null });

    const at = Date.UTC(2026, 11, 6, 10, 0, 0, 123);
    await used("acct_lu1", first.keyId, at, "203.0.113.9");
    await used("acct_lu1", first.keyId, at - 60_000, "198.51.100.1");
    const keys = await listed();
    expect(keys.find((k) => k.key_id === first.keyId)).toMatchObject({
      last_used_at: "2026-12-06T10:00:00.123Z",
      last_used_ip: "203.0.113.9",
    });
    expect(keys.find((k) => k.key_id === second.keyId)).toMatchObject({ last_used_at: null, last_used_ip: null });

    const shown = await adminCall("GET", `/accounts/acct_lu1/keys/${first.keyId}`);
    expect(shown.res.status).toBe(200);
    expect((shown.body as { key: KeyJson }).key).toMatchObject({ last_used_at: "2026-12-06T10:00:00.123Z", last_used_ip: "203.0.113.9" });
  });

  it("when the audit trail cannot be read, the keys are still listed, without the fields (unknown, not never), and it is logged", async () => {
    const key = await createKey("acct_lu2");
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: string) => void lines.push(line));
    const failing = {
      prepare: () => {
        throw new Error("D1_ERROR: database is unavailable");
      },
      batch: async () => {
        throw new Error("D1_ERROR: database is unavailable");
      },
    } as unknown as D1Database;
    const { res, body } = await adminCall("GET", "/accounts/acct_lu2/keys", { call: { bindings: { AUDIT_DB: failing } } });
    expect(res.status).toBe(200);
    const listed = (body as { keys: KeyJson[] }).keys;
    expect(listed.map((k) => k.key_id)).toEqual([key.keyId]);
    expect(listed[0]).not.toHaveProperty("last_used_at");
    expect(listed[0]).not.toHaveProperty("last_used_ip");
    expect(lines.some((l) => JSON.parse(l).msg === "key_last_use_unavailable")).toBe(true);
  });
});
