/**
 * Issue 13: suspending and resuming an account (POST …/suspend, …/resume). The suspension is
 * published to the revocation feed and made durable in KV (every key's record becomes v3 with
 * `account_suspended_at`, refused by the request path); resume writes v1/v2 back.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type AccountKeys, KV_WRITES_PER_FLUSH } from "../../src/admin/account-do";
import { type StoredKey, StoredKeySchema } from "../../src/admin/model";
import { hashSecret, importHashKey, secretKvKey } from "../../src/keys/hash";
import { type KeyRecord, KeyRecordSchema, KeyRecordV2Schema } from "../../src/keys/record";
import { clearKeyCache } from "../../src/keys/store";
import type { FeedChange, FeedEntry } from "../../src/revocation/feed";
import { FEED_OBJECT_NAME } from "../../src/revocation/feed-do";
import { adminCall, adminToken, createKey, errorOf } from "../helpers/admin";
import { type OriginStub, stubOrigins } from "../helpers/origin";
import { call } from "../helpers/worker";

let origin: OriginStub;
beforeEach(() => {
  clearKeyCache();
  origin = stubOrigins();
});
afterEach(() => {
  origin.restore();
  vi.restoreAllMocks();
});

type Suspension = {
  account_id: string;
  suspended: boolean;
  suspended_at: string | null;
  already: boolean;
  keys_rewritten: number;
  kv_synced: boolean;
  revocation_published: boolean;
};

const feed = () => env.REVOCATION_FEED.get(env.REVOCATION_FEED.idFromName(FEED_OBJECT_NAME));
const accountStub = (account: string) => env.KEY_ACCOUNTS.get(env.KEY_ACCOUNTS.idFromName(account));

async function accountEntries(account: string): Promise<FeedEntry[]> {
  return (await feed().window()).entries.filter((e) => e.kind === "account" && e.account_id === account);
}

async function kvRecord(secret: string): Promise<KeyRecord | null> {
  const hash = await hashSecret(await importHashKey(env.SECRET_HASH_KEY), secret);
  const value = await env.KEYS.get(secretKvKey(hash), "json");
  return value === null ? null : KeyRecordSchema.parse(value);
}

async function apiStatus(account: string, secret: string): Promise<number> {
  clearKeyCache();
  const { res } = await call("/v1/charges", { headers: { "X-Spot-Api-Key": account, "X-Spot-Api-Secret": secret } });
  return res.status;
}

const suspend = (account: string, options = {}) => adminCall("POST", `/accounts/${account}/suspend`, options);
const resume = (account: string, options = {}) => adminCall("POST", `/accounts/${account}/resume`, options);

describe("suspend and resume", () => {
  it("suspend: published, every key's KV record v3, every key refused with 401; resume undoes it", async () => {
    const plain = await createKey("acct_su1");
    const guarded = await createKey("acct_su1", { policy: { rate_limit_per_minute: 600 } });
    expect(await apiStatus("acct_su1", plain.secret)).toBe(200);

    const out = await suspend("acct_su1");
    expect(out.res.status).toBe(200);
    const body = out.body as Suspension;
    expect(body).toMatchObject({
      account_id: "acct_su1",
      suspended: true,
      already: false,
      keys_rewritten: 2,
      kv_synced: true,
      revocation_published: true,
    });
    expect(Date.parse(body.suspended_at ?? "")).toBeGreaterThan(Date.now() - 60_000);
    expect(await accountEntries("acct_su1")).toMatchObject([{ kind: "account", account_id: "acct_su1", suspended: true }]);
    expect(await kvRecord(plain.secret)).toMatchObject({ v: 3, key_id: plain.keyId, account_suspended_at: body.suspended_at });
    expect(await kvRecord(plain.secret)).not.toHaveProperty("policy");
    expect(await kvRecord(guarded.secret)).toMatchObject({
      v: 3,
      policy: { rate_limit_per_minute: 600 },
      account_suspended_at: body.suspended_at,
    });
    clearKeyCache(); // the isolate cache still holds the active record (the feed follower's part, not tested here)
    const refused = await call("/v1/charges", { headers: { "X-Spot-Api-Key": "acct_su1", "X-Spot-Api-Secret": plain.secret } });
    expect(refused.res.status).toBe(401);
    expect(errorOf(refused.body).code).toBe("invalid_credentials");
    expect(await apiStatus("acct_su1", guarded.secret)).toBe(401);

    const list = await adminCall("GET", "/accounts/acct_su1/keys");
    expect(list.body).toMatchObject({ account: { suspended: true, suspended_at: body.suspended_at } });
    // The keys themselves are unchanged.
    expect((list.body as { keys: { status: string }[] }).keys.map((k) => k.status)).toEqual(["active", "active"]);

    const back = await resume("acct_su1");
    expect(back.res.status).toBe(200);
    expect(back.body).toMatchObject({
      suspended: false,
      suspended_at: null,
      already: false,
      keys_rewritten: 2,
      kv_synced: true,
      revocation_published: true,
    });
    expect(await accountEntries("acct_su1")).toMatchObject([{ suspended: true }, { suspended: false }]);
    expect(await kvRecord(plain.secret)).toMatchObject({ v: 1 });
    expect(await kvRecord(plain.secret)).not.toHaveProperty("account_suspended_at");
    expect(KeyRecordV2Schema.safeParse(await kvRecord(guarded.secret)).success).toBe(true);
    expect(await kvRecord(guarded.secret)).not.toHaveProperty("account_suspended_at");
    expect(await apiStatus("acct_su1", plain.secret)).toBe(200);
    expect(await apiStatus("acct_su1", guarded.secret)).toBe(200);
    expect((await adminCall("GET", "/accounts/acct_su1/keys")).body).toMatchObject({ account: { suspended: false, suspended_at: null } });
  });

  it("is idempotent: again → 200 already: true, nothing rewritten or published; resume of an active account likewise", async () => {
    await createKey("acct_su2");
    const first = (await suspend("acct_su2")).body as Suspension;
    const head = (await feed().window()).head_seq;
    const again = await suspend("acct_su2");
    expect(again.res.status).toBe(200);
    expect(again.body).toMatchObject({
      suspended: true,
      suspended_at: first.suspended_at,
      already: true,
      keys_rewritten: 0,
      revocation_published: true,
    });
    expect((await feed().window()).head_seq).toBe(head);

    await resume("acct_su2");
    const head2 = (await feed().window()).head_seq;
    const resumedAgain = await resume("acct_su2");
    expect(resumedAgain.body).toMatchObject({ suspended: false, suspended_at: null, already: true, keys_rewritten: 0 });
    expect((await feed().window()).head_seq).toBe(head2);
  });

  it("an account without keys is 404 account_not_found, and nothing is published", async () => {
    const head = (await feed().window()).head_seq;
    for (const run of [suspend, resume]) {
      const out = await run("acct_su3none");
      expect(out.res.status).toBe(404);
      expect(errorOf(out.body).code).toBe("account_not_found");
    }
    expect((await feed().window()).head_seq).toBe(head);
  });

  it("needs keys:write (403 for keys:read), a token (401); each request is an admin event", async () => {
    await createKey("acct_su4");
    const readOnly = await adminToken({ claims: { permissions: ["keys:read"] } });
    const refused = await suspend("acct_su4", { token: readOnly });
    expect(refused.res.status).toBe(403);
    expect(errorOf(refused.body).code).toBe("insufficient_permission");
    expect(refused.adminEvents[0]).toMatchObject({ action: "account.suspend", outcome: "denied", reason: "insufficient_permission" });
    expect((await suspend("acct_su4", { token: null })).res.status).toBe(401);
    expect(await accountEntries("acct_su4")).toEqual([]);

    const ok = await suspend("acct_su4");
    expect(ok.adminEvents).toHaveLength(1);
    expect(ok.adminEvents[0]).toMatchObject({
      action: "account.suspend",
      outcome: "allowed",
      account_id: "acct_su4",
      key_id: null,
      actor_sub: "ops@spot-thought.test",
      method: "POST",
    });
    const back = await resume("acct_su4", { token: readOnly });
    expect(back.res.status).toBe(403);
    expect(back.adminEvents[0]).toMatchObject({ action: "account.resume", outcome: "denied" });
    expect((await resume("acct_su4")).adminEvents[0]).toMatchObject({ action: "account.resume", outcome: "allowed" });
    // A body with a field is refused like revoke's.
    const bad = await suspend("acct_su4", { body: { reason: "fraud" } });
    expect(bad.res.status).toBe(400);
    expect(errorOf(bad.body)).toMatchObject({ code: "invalid_body", param: "body.reason" });
  });

  it("keys created, imported or rotated while suspended get the v3 record too, and are refused", async () => {
    const old = await createKey("acct_su5");
    await suspend("acct_su5");
    const created = await createKey("acct_su5");
    expect(await kvRecord(created.secret)).toMatchObject({ v: 3 });
    expect(await apiStatus("acct_su5", created.secret)).toBe(401);
    await adminCall("POST", "/accounts/acct_su5/keys/import", { body: { secret: "sk_live_suspendedImport5" } });
    expect(await kvRecord("sk_live_suspendedImport5")).toMatchObject({ v: 3 });
    const rotated = await adminCall("POST", `/accounts/acct_su5/keys/${old.keyId}/rotate`, { body: { overlap_seconds: 60 } });
    expect(rotated.res.status).toBe(200);
    const fresh = rotated.body as { secret: string };
    expect(await kvRecord(fresh.secret)).toMatchObject({ v: 3 });
    expect(await kvRecord(old.secret)).toMatchObject({ v: 3 });
    expect(await apiStatus("acct_su5", fresh.secret)).toBe(401);

    await resume("acct_su5");
    expect(await kvRecord(fresh.secret)).toMatchObject({ v: 1 });
    expect(await apiStatus("acct_su5", fresh.secret)).toBe(200);
    expect(await apiStatus("acct_su5", created.secret)).toBe(200);
  });

  it("resume does not revive a revoked key", async () => {
    const key = await createKey("acct_su6");
    await createKey("acct_su6");
    await suspend("acct_su6");
    await adminCall("POST", `/accounts/acct_su6/keys/${key.keyId}/revoke`);
    await resume("acct_su6");
    expect(await kvRecord(key.secret)).toMatchObject({ v: 1, status: "revoked" });
    expect(await apiStatus("acct_su6", key.secret)).toBe(401);
  });

  it("an account with more keys than one flush writes: the rest is written by an alarm set at once", async () => {
    const { keyId } = await createKey("acct_su8");
    const count = KV_WRITES_PER_FLUSH + 2;
    // The keys are put straight into the object's tables (as if created long ago); their secrets do not matter.
    await runInDurableObject(accountStub("acct_su8"), (_instance: AccountKeys, state: DurableObjectState) => {
      const sql = state.storage.sql;
      const template = JSON.parse(sql.exec<{ record: string }>("SELECT record FROM keys").one().record) as StoredKey;
      for (let i = 1; i < count; i++) {
        const key = StoredKeySchema.parse({ ...template, key_id: `key_bulk${i}`, secret_hash: i.toString(16).padStart(64, "0") });
        sql.exec(
          "INSERT INTO keys (key_id, secret_hash, created_at, record) VALUES (?, ?, ?, ?)",
          key.key_id,
          key.secret_hash,
          key.created_at,
          JSON.stringify(key),
        );
      }
    });
    const out = await suspend("acct_su8");
    expect(out.body).toMatchObject({ keys_rewritten: count, kv_synced: false, revocation_published: true });
    const pending = () => runInDurableObject(accountStub("acct_su8"), (instance: AccountKeys) => instance.pendingKvWrites());
    // The alarm was set for now: the runtime may have run it already; else run it here.
    await runDurableObjectAlarm(accountStub("acct_su8"));
    expect(await pending()).toBe(0);
    const last = await env.KEYS.get(secretKvKey((count - 1).toString(16).padStart(64, "0")), "json");
    expect(last).toMatchObject({ v: 3, key_id: `key_bulk${count - 1}` });
    expect(keyId).toMatch(/^key_/);
  });

  it("a failed publish of the suspension: revocation_published: false, KV still written (v3), the alarm publishes it", async () => {
    const key = await createKey("acct_su7");
    vi.spyOn(console, "error").mockImplementation(() => {});
    const failing = {
      idFromName: (name: string) => env.REVOCATION_FEED.idFromName(name),
      get: () => ({ publish: (_changes: FeedChange[]) => Promise.reject(new Error("feed unreachable")) }),
    } as unknown as Env["REVOCATION_FEED"];
    await runInDurableObject(accountStub("acct_su7"), (instance: AccountKeys) => {
      (instance as unknown as { env: Env }).env = { ...env, REVOCATION_FEED: failing };
    });
    const out = await suspend("acct_su7");
    expect(out.body).toMatchObject({ suspended: true, kv_synced: true, revocation_published: false });
    expect(await kvRecord(key.secret)).toMatchObject({ v: 3 });
    expect(await accountEntries("acct_su7")).toEqual([]);
    // Idempotent repeat: still behind.
    expect((await suspend("acct_su7")).body).toMatchObject({ already: true, revocation_published: false });

    await runInDurableObject(accountStub("acct_su7"), (instance: AccountKeys) => {
      (instance as unknown as { env: Env }).env = env;
    });
    expect(await runDurableObjectAlarm(accountStub("acct_su7"))).toBe(true);
    expect(await accountEntries("acct_su7")).toMatchObject([{ suspended: true }]);
    expect((await suspend("acct_su7")).body).toMatchObject({ already: true, revocation_published: true });
  });
});
