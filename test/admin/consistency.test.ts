/**
 * Consistency of admin operations (issue 4 §6): concurrent operations on one account lose nothing,
 * the Durable Object and KV agree, a failed KV write is retried until it lands, and, when the
 * revocation feed cannot be read, a revoked key stops working within KV's bound (KV propagation + the
 * shortened isolate cache TTL) under stale reads. The 5 s bound with the feed: test/revocation/.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AccountKeys } from "../../src/admin/account-do";
import { hashSecret, importHashKey, secretKvKey } from "../../src/keys/hash";
import { type KeyRecord, KeyRecordSchema } from "../../src/keys/record";
import { clearKeyCache } from "../../src/keys/store";
import { FEED_CACHE_PATH, resetRevocationFeedFollower } from "../../src/revocation/follower";
import { adminCall, createKey, errorOf } from "../helpers/admin";
import { API } from "../helpers/fixtures";
import { type OriginStub, stubOrigins } from "../helpers/origin";
import { call } from "../helpers/worker";

let origin: OriginStub;
beforeEach(() => {
  clearKeyCache();
  origin = stubOrigins();
});
afterEach(() => {
  origin.restore();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

type KeyJson = { key_id: string; status: string; expires_at: string | null; replaced_by_key_id: string | null };

async function kvRecord(secret: string): Promise<KeyRecord | null> {
  const hash = await hashSecret(await importHashKey(env.SECRET_HASH_KEY), secret);
  const value = await env.KEYS.get(secretKvKey(hash), "json");
  return value === null ? null : KeyRecordSchema.parse(value);
}

async function listKeys(account: string): Promise<KeyJson[]> {
  const { body } = await adminCall("GET", `/accounts/${account}/keys`);
  return (body as { keys: KeyJson[] }).keys;
}

function apiRequest(account: string, secret: string, bindings?: Partial<Env>) {
  return call("/v1/charges", { headers: { "X-Spot-Api-Key": account, "X-Spot-Api-Secret": secret } }, { bindings });
}

describe("concurrent admin operations on one account", () => {
  it("20 concurrent creates: 20 keys, 20 KV records, every secret works", async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => adminCall("POST", "/accounts/acct_cc1/keys", { body: { label: `k${i}` } })),
    );
    expect(results.map((r) => r.res.status)).toEqual(Array(20).fill(201));
    const created = results.map((r) => r.body as { key: KeyJson; secret: string });
    const keys = await listKeys("acct_cc1");
    expect(keys).toHaveLength(20);
    expect(new Set(keys.map((k) => k.key_id))).toEqual(new Set(created.map((c) => c.key.key_id)));
    for (const c of created) {
      expect((await kvRecord(c.secret))?.key_id).toBe(c.key.key_id);
      clearKeyCache();
      expect((await apiRequest("acct_cc1", c.secret)).res.status).toBe(200);
    }
  });

  it("creates, rotations and revocations at once: one rotation wins, nothing is lost, KV matches the Durable Object", async () => {
    const a = await createKey("acct_cc2", { label: "a" });
    const b = await createKey("acct_cc2", { label: "b" });
    const ops = [
      ...Array.from({ length: 5 }, (_, i) => adminCall("POST", "/accounts/acct_cc2/keys", { body: { label: `new${i}` } })),
      ...Array.from({ length: 3 }, () => adminCall("POST", `/accounts/acct_cc2/keys/${a.keyId}/rotate`)),
      ...Array.from({ length: 2 }, () => adminCall("POST", `/accounts/acct_cc2/keys/${b.keyId}/revoke`)),
      adminCall("POST", "/accounts/acct_cc2/keys/import", { body: { secret: "sk_live_concurrentImport1" } }),
    ];
    const results = await Promise.all(ops);
    const statuses = results.map((r) => r.res.status);
    expect(statuses.slice(0, 5)).toEqual([201, 201, 201, 201, 201]);
    const rotations = results.slice(5, 8);
    expect(rotations.filter((r) => r.res.status === 200)).toHaveLength(1);
    expect(rotations.filter((r) => r.res.status === 409).map((r) => errorOf(r.body).code)).toEqual([
      "key_already_rotated",
      "key_already_rotated",
    ]);
    const revocations = results.slice(8, 10).map((r) => r.body as { already_revoked: boolean });
    expect(revocations.map((r) => r.already_revoked).sort()).toEqual([false, true]);
    expect(statuses[10]).toBe(201);

    const keys = await listKeys("acct_cc2");
    // a, b, 5 created, 1 rotated-in, 1 imported
    expect(keys).toHaveLength(9);
    const byId = new Map(keys.map((k) => [k.key_id, k]));
    const winner = rotations.find((r) => r.res.status === 200)?.body as { key: KeyJson; secret: string };
    expect(byId.get(a.keyId)?.replaced_by_key_id).toBe(winner.key.key_id);
    expect(byId.get(b.keyId)?.status).toBe("revoked");

    // KV agrees with the Durable Object for every secret we hold.
    const secrets: [string, string][] = [
      [a.keyId, a.secret],
      [b.keyId, b.secret],
      [winner.key.key_id, winner.secret],
      ...results.slice(0, 5).map((r) => {
        const c = r.body as { key: KeyJson; secret: string };
        return [c.key.key_id, c.secret] as [string, string];
      }),
    ];
    for (const [keyId, secret] of secrets) {
      const record = await kvRecord(secret);
      expect(record?.key_id).toBe(keyId);
      expect(record?.status).toBe(byId.get(keyId)?.status === "revoked" ? "revoked" : "active");
      expect(record?.expires_at ?? null).toBe(byId.get(keyId)?.expires_at ?? null);
    }
  });

  it("the same legacy secret imported into two accounts at once: exactly one wins", async () => {
    const results = await Promise.all(
      ["acct_cc3", "acct_cc4", "acct_cc3", "acct_cc4"].map((account) =>
        adminCall("POST", `/accounts/${account}/keys/import`, { body: { secret: "sk_live_sharedLegacy1" } }),
      ),
    );
    const statuses = results.map((r) => r.res.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(3);
    const winner = results.find((r) => r.res.status === 201)?.body as { key: { account_id: string; key_id: string } };
    expect((await kvRecord("sk_live_sharedLegacy1"))?.account_id).toBe(winner.key.account_id);
  });
});

describe("KV write failures", () => {
  it("a failed KV write keeps the change, says kv_synced: false, and the alarm writes it later", async () => {
    const key = await createKey("acct_kv1");
    const stub = env.KEY_ACCOUNTS.get(env.KEY_ACCOUNTS.idFromName("acct_kv1"));
    const realKv = env.KEYS;
    let failing = true;
    const flakyKv = {
      put: (...args: Parameters<KVNamespace["put"]>) => (failing ? Promise.reject(new Error("KV unavailable")) : realKv.put(...args)),
      get: realKv.get.bind(realKv),
    } as unknown as KVNamespace;
    await runInDurableObject(stub, (instance: AccountKeys) => {
      (instance as unknown as { env: Env }).env = { ...env, KEYS: flakyKv };
    });
    vi.spyOn(console, "error").mockImplementation(() => {});

    const revoked = await adminCall("POST", `/accounts/acct_kv1/keys/${key.keyId}/revoke`);
    expect(revoked.res.status).toBe(200);
    expect(revoked.body).toMatchObject({ key: { status: "revoked" }, kv_synced: false });
    expect((await kvRecord(key.secret))?.status).toBe("active");
    expect(await runInDurableObject(stub, (instance: AccountKeys) => instance.pendingKvWrites())).toBe(1);

    // Still failing: the alarm keeps the write and schedules another try.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runInDurableObject(stub, (instance: AccountKeys) => instance.pendingKvWrites())).toBe(1);

    failing = false;
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runInDurableObject(stub, (instance: AccountKeys) => instance.pendingKvWrites())).toBe(0);
    expect((await kvRecord(key.secret))?.status).toBe("revoked");
    clearKeyCache();
    expect((await apiRequest("acct_kv1", key.secret)).res.status).toBe(401);
  });

  it("KV writes land in the order of the changes: a slow write of an older state never overwrites a newer one", async () => {
    const key = await createKey("acct_kv3");
    const stub = env.KEY_ACCOUNTS.get(env.KEY_ACCOUNTS.idFromName("acct_kv3"));
    const realKv = env.KEYS;
    let puts = 0;
    // The first write (the rotation's) is slow; the next (the revocation's) is fast.
    const slowFirstKv = {
      put: async (...args: Parameters<KVNamespace["put"]>) => {
        puts++;
        if (puts === 1) await new Promise((resolve) => setTimeout(resolve, 100));
        return realKv.put(...args);
      },
      get: realKv.get.bind(realKv),
    } as unknown as KVNamespace;
    const results = await runInDurableObject(stub, async (instance: AccountKeys) => {
      (instance as unknown as { env: Env }).env = { ...env, KEYS: slowFirstKv };
      return Promise.all([
        instance.rotateKey({
          accountId: "acct_kv3",
          keyId: key.keyId,
          overlapSeconds: 3600,
          expiresAt: null,
          label: undefined,
          actor: "test",
          secretHash: "e".repeat(64),
          hashKeyId: "hk-test",
          secretHint: null,
          secretFormat: "checksum",
        }),
        instance.revokeKey({ accountId: "acct_kv3", keyId: key.keyId, actor: "test" }),
      ]);
    });
    expect(results.map((r) => r.ok)).toEqual([true, true]);
    // The old key's record in KV is its latest state: revoked.
    expect((await kvRecord(key.secret))?.status).toBe("revoked");
  });

  it("the key storage being unreachable → 503 admin_unavailable, never a bare 500", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const broken = {
      idFromName: () => {
        throw new Error("Durable Objects unavailable");
      },
    } as unknown as Env["KEY_ACCOUNTS"];
    const { res, body } = await adminCall("GET", "/accounts/acct_kv2/keys", { call: { bindings: { KEY_ACCOUNTS: broken } } });
    expect(res.status).toBe(503);
    expect(errorOf(body).code).toBe("admin_unavailable");
  });
});

describe("revocation bound under stale reads when the revocation feed cannot be read (docs/storage.md: about 65 s)", () => {
  /**
   * A KV replica that keeps serving what it held before `staleFrom` until `staleFrom + 60 s`: the
   * eventual consistency of Workers KV, at its documented worst.
   */
  function staleKv(snapshot: Map<string, string | null>, staleUntilMs: number): KVNamespace {
    return {
      get: async (key: string, type: "text") =>
        Date.now() < staleUntilMs && snapshot.has(key) ? snapshot.get(key) : env.KEYS.get(key, type),
    } as unknown as KVNamespace;
  }

  /** A feed binding whose object cannot be reached. */
  const unreachableFeed = {
    idFromName: (name: string) => env.REVOCATION_FEED.idFromName(name),
    get: () => {
      throw new Error("Durable Object reset because its code was updated");
    },
  } as unknown as Env["REVOCATION_FEED"];

  beforeEach(async () => {
    // A new isolate, in a location whose cache holds no window (an earlier test's could still be fresh).
    resetRevocationFeedFollower();
    await caches.default.delete(new Request(`${API}${FEED_CACHE_PATH}`));
    vi.spyOn(console, "error").mockImplementation(() => {});
  });

  it("a revoked key answers 200 at most 60 s (KV) + 5 s (the shortened isolate cache) after the revocation, then 401", async () => {
    // Real time as the start: KV checks record expirations against the real clock.
    const t0 = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(t0);
    const key = await createKey("acct_sr1");
    const name = secretKvKey(await hashSecret(await importHashKey(env.SECRET_HASH_KEY), key.secret));
    const snapshot = new Map([[name, await env.KEYS.get(name, "text")]]);
    const bindings = (kv?: KVNamespace) => ({ REVOCATION_FEED: unreachableFeed, ...(kv ? { KEYS: kv } : {}) });
    // This isolate has found the feed unreachable (its first read failed) and serves the key meanwhile.
    expect((await apiRequest("acct_sr1", key.secret, bindings())).res.status).toBe(200);

    const revoked = await adminCall("POST", `/accounts/acct_sr1/keys/${key.keyId}/revoke`);
    expect((await kvRecord(key.secret))?.status).toBe("revoked");
    expect(revoked.body).toMatchObject({ revocation_published: true });
    const kv = staleKv(snapshot, t0 + 60_000);

    // This isolate read the stale replica at the last moment (t0 + 59 s) and caches it for 5 s only.
    vi.setSystemTime(t0 + 59_000);
    const stale = await apiRequest("acct_sr1", key.secret, bindings(kv));
    expect(stale.res.status).toBe(200);
    expect(stale.kvReads).toHaveLength(1);
    vi.setSystemTime(t0 + 63_999);
    const cached = await apiRequest("acct_sr1", key.secret, bindings(kv));
    expect(cached.res.status).toBe(200);
    expect(cached.kvReads).toEqual([]);
    // Past the bound: KV has converged and the cache entry has expired.
    vi.setSystemTime(t0 + 64_000);
    const after = await apiRequest("acct_sr1", key.secret, bindings(kv));
    expect(after.res.status).toBe(401);
    expect(after.kvReads).toHaveLength(1);
    vi.setSystemTime(t0 + 65_000);
    expect((await apiRequest("acct_sr1", key.secret, bindings(kv))).res.status).toBe(401);
  });

  it("a rotation with overlap 0 is bound the same way: the old record may be served until the cache entry ends", async () => {
    // Real time as the start: KV checks record expirations against the real clock.
    const t0 = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(t0);
    const key = await createKey("acct_sr2");
    const bindings = { REVOCATION_FEED: unreachableFeed };
    expect((await apiRequest("acct_sr2", key.secret, bindings)).res.status).toBe(200);
    // The second request finds the feed unreachable: the key cache is emptied and keeps records 5 s.
    expect((await apiRequest("acct_sr2", key.secret, bindings)).res.status).toBe(200);
    await adminCall("POST", `/accounts/acct_sr2/keys/${key.keyId}/rotate`, { body: { overlap_seconds: 0 } });
    vi.setSystemTime(t0 + 4_000);
    expect((await apiRequest("acct_sr2", key.secret, bindings)).res.status).toBe(200);
    vi.setSystemTime(t0 + 5_001);
    expect((await apiRequest("acct_sr2", key.secret, bindings)).res.status).toBe(401);
  });

  it("a key created after a cached miss gets 401 (never 500) until the miss expires, then works", async () => {
    // Real time as the start: KV checks record expirations against the real clock.
    const t0 = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(t0);
    const imported = "sk_live_createdAfterMiss01";
    const miss = await apiRequest("acct_sr3", imported);
    expect(miss.res.status).toBe(401);
    expect((await adminCall("POST", "/accounts/acct_sr3/keys/import", { body: { secret: imported } })).res.status).toBe(201);
    const cached = await apiRequest("acct_sr3", imported);
    expect(cached.res.status).toBe(401);
    expect(errorOf(cached.body).code).toBe("invalid_credentials");
    expect(cached.kvReads).toEqual([]);
    vi.setSystemTime(t0 + 5_001);
    expect((await apiRequest("acct_sr3", imported)).res.status).toBe(200);
  });
});
