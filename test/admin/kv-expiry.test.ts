/**
 * Issue 11, item 1: an `expires_at` whose KV clean-up instant lies past what the KV binding takes
 * (2^31 − 1 s, 2038-01-19T03:14:07Z) made every KV write of the key fail, forever, while the key
 * was listed as active. Here: the bound on `expires_at` in every admin path, keys stored before it
 * healing on the next outbox retry or rewrite, and a KV write refused for good surfacing instead of
 * being retried forever.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type AccountKeys, migrateAccountKeysSchema } from "../../src/admin/account-do";
import type { StoredKey } from "../../src/admin/model";
import { hashSecret, importHashKey, secretKvKey } from "../../src/keys/hash";
import { type KeyRecord, KeyRecordSchema } from "../../src/keys/record";
import { clearKeyCache } from "../../src/keys/store";
import { adminCall, createKey, errorOf } from "../helpers/admin";
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

const DAY_MS = 86_400_000;
const OUT_OF_RANGE = "Value out of range";

type KeyJson = { key_id: string; status: string; kv_sync: string; expires_at: string | null; replaced_by_key_id: string | null };

async function hashOf(secret: string): Promise<string> {
  return hashSecret(await importHashKey(env.SECRET_HASH_KEY), secret);
}

async function kvRecord(secret: string): Promise<KeyRecord | null> {
  const value = await env.KEYS.get(secretKvKey(await hashOf(secret)), "json");
  return value === null ? null : KeyRecordSchema.parse(value);
}

/** The KV `expiration` (epoch seconds) of a secret's record; undefined: none; null: no record. */
async function kvExpiration(secret: string): Promise<number | undefined | null> {
  const listed = await env.KEYS.list({ prefix: secretKvKey(await hashOf(secret)) });
  return listed.keys.length === 0 ? null : listed.keys[0]?.expiration;
}

async function apiStatus(account: string, secret: string): Promise<number> {
  clearKeyCache();
  const { res } = await call("/v1/charges", { headers: { "X-Spot-Api-Key": account, "X-Spot-Api-Secret": secret } });
  return res.status;
}

async function showKey(account: string, keyId: string): Promise<KeyJson> {
  const { body } = await adminCall("GET", `/accounts/${account}/keys/${keyId}`);
  return (body as { key: KeyJson }).key;
}

async function listKeys(account: string): Promise<KeyJson[]> {
  const { body } = await adminCall("GET", `/accounts/${account}/keys`);
  return (body as { keys: KeyJson[] }).keys;
}

function accountStub(account: string) {
  return env.KEY_ACCOUNTS.get(env.KEY_ACCOUNTS.idFromName(account));
}

const pending = (account: string) => runInDurableObject(accountStub(account), (instance: AccountKeys) => instance.pendingKvWrites());

/** Gives the account's Durable Object a KV binding with these `put`/`delete` (default: the real ones). */
async function useKv(account: string, overrides: { put?: KVNamespace["put"]; delete?: KVNamespace["delete"] } = {}): Promise<void> {
  const real = env.KEYS;
  const kv = {
    put: overrides.put ?? real.put.bind(real),
    delete: overrides.delete ?? real.delete.bind(real),
    get: real.get.bind(real),
    list: real.list.bind(real),
  } as unknown as KVNamespace;
  await runInDurableObject(accountStub(account), (instance: AccountKeys) => {
    (instance as unknown as { env: Env }).env = { ...env, KEYS: kv };
  });
}

/** The real binding, handed the expiration the code gave a 2038+ key before the fix: it throws its real TypeError. */
const outOfRangePut: KVNamespace["put"] = (name, value, options) => env.KEYS.put(name, value, { ...options, expiration: 2 ** 31 });

/** Log lines (console.error) with this `msg`, parsed. */
function logLines(spy: { mock: { calls: unknown[][] } }, msg: string): Record<string, unknown>[] {
  return spy.mock.calls
    .map((args) => {
      try {
        return JSON.parse(String(args[0])) as Record<string, unknown>;
      } catch {
        return {};
      }
    })
    .filter((line) => line.msg === msg);
}

/**
 * A key as a Durable Object holds it when it was created before the bound: `expires_at` past 2038,
 * its KV write still in the outbox after `attempts` failures, and the alarm set to retry it.
 */
async function seedKeyFromBeforeTheFix(account: string, secret: string, expiresAt: string, attempts: number): Promise<string> {
  const keyId = `key_before${attempts}fix`;
  const key: StoredKey = {
    v: 1,
    key_id: keyId,
    account_id: account,
    mode: "live",
    label: "from before the fix",
    status: "active",
    created_at: "2026-11-01T00:00:00.000Z",
    expires_at: expiresAt,
    revoked_at: null,
    secret_hash: await hashOf(secret),
    hash_key_id: "hk-test",
    secret_hint: null,
    secret_format: "legacy",
    source: "imported",
    replaces_key_id: null,
    replaced_by_key_id: null,
    rotated_at: null,
    created_by: "ops@spot-thought.test",
    policy: null,
  };
  await runInDurableObject(accountStub(account), async (_instance: AccountKeys, state: DurableObjectState) => {
    state.storage.sql.exec("INSERT INTO meta (name, value) VALUES ('account_id', ?)", account);
    state.storage.sql.exec(
      "INSERT INTO keys (key_id, secret_hash, created_at, record) VALUES (?, ?, ?, ?)",
      key.key_id,
      key.secret_hash,
      key.created_at,
      JSON.stringify(key),
    );
    state.storage.sql.exec("INSERT INTO kv_outbox (key_id, attempts) VALUES (?, ?)", key.key_id, attempts);
    await state.storage.setAlarm(Date.now() + 300_000);
  });
  return keyId;
}

describe("the bound on expires_at (at most 3650 days ahead)", () => {
  it.each([
    ["2038-01-19T00:00:00Z (issue 11)", "2038-01-19T00:00:00Z"],
    ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"],
  ])("create with %s → 400 invalid_body naming body.expires_at and the bound; nothing is created", async (_name, expiresAt) => {
    const { res, body, adminEvents } = await adminCall("POST", "/accounts/acct_y/keys", { body: { expires_at: expiresAt } });
    expect(res.status).toBe(400);
    expect(errorOf(body)).toMatchObject({ type: "invalid_request_error", code: "invalid_body", param: "body.expires_at" });
    expect(errorOf(body).message).toContain("body.expires_at must be at most 3650 days");
    expect(adminEvents[0]).toMatchObject({ action: "key.create", outcome: "denied", reason: "invalid_body", status: 400 });
    expect((await adminCall("GET", "/accounts/acct_y/keys")).res.status).toBe(404);
  });

  it("import past the bound → 400, and the secret stays importable (nothing was claimed)", async () => {
    const secret = "sk_live_importedFarExpiry1";
    const refused = await adminCall("POST", "/accounts/acct_x1/keys/import", { body: { secret, expires_at: "9999-12-31T23:59:59Z" } });
    expect(refused.res.status).toBe(400);
    expect(errorOf(refused.body)).toMatchObject({ code: "invalid_body", param: "body.expires_at" });
    const accepted = await adminCall("POST", "/accounts/acct_x1/keys/import", {
      body: { secret, expires_at: new Date(Date.now() + 30 * DAY_MS).toISOString() },
    });
    expect(accepted.res.status).toBe(201);
    expect(await apiStatus("acct_x1", secret)).toBe(200);
  });

  it("rotate with a new expiry past the bound → 400; the old key is not rotated", async () => {
    const old = await createKey("acct_x2");
    const { res, body } = await adminCall("POST", `/accounts/acct_x2/keys/${old.keyId}/rotate`, {
      body: { expires_at: "2038-01-19T00:00:00Z" },
    });
    expect(res.status).toBe(400);
    expect(errorOf(body)).toMatchObject({ code: "invalid_body", param: "body.expires_at" });
    expect(await showKey("acct_x2", old.keyId)).toMatchObject({ status: "active", replaced_by_key_id: null, expires_at: null });
    expect(await listKeys("acct_x2")).toHaveLength(1);
  });

  it("an expiry just inside the bound is accepted, synced, authenticates, and its KV record expires a day after it", async () => {
    const expiresAt = new Date(Date.now() + 3650 * DAY_MS - 60_000).toISOString();
    const { res, body } = await adminCall("POST", "/accounts/acct_x3/keys", { body: { expires_at: expiresAt } });
    expect(res.status).toBe(201);
    const out = body as { key: KeyJson; secret: string; kv_synced: boolean };
    expect(out).toMatchObject({ kv_synced: true, key: { status: "active", kv_sync: "synced", expires_at: expiresAt } });
    expect(await apiStatus("acct_x3", out.secret)).toBe(200);
    expect(await kvExpiration(out.secret)).toBe(Math.floor(Date.parse(expiresAt) / 1000) + 86_400);
  });
});

describe("keys stored before the bound heal", () => {
  it("on the next outbox retry: written without a KV expiration, authenticating, listed as synced", async () => {
    const secret = "sk_live_storedBeforeTheFix1";
    const keyId = await seedKeyFromBeforeTheFix("acct_h1", secret, "9999-12-31T23:59:59.000Z", 7);
    expect((await listKeys("acct_h1"))[0]).toMatchObject({ key_id: keyId, status: "active", kv_sync: "pending" });
    expect(await apiStatus("acct_h1", secret)).toBe(401);

    expect(await runDurableObjectAlarm(accountStub("acct_h1"))).toBe(true);
    expect(await pending("acct_h1")).toBe(0);
    expect(await kvRecord(secret)).toMatchObject({ key_id: keyId, status: "active", expires_at: "9999-12-31T23:59:59.000Z" });
    expect(await kvExpiration(secret)).toBeUndefined();
    expect(await apiStatus("acct_h1", secret)).toBe(200);
    expect((await listKeys("acct_h1"))[0]).toMatchObject({ key_id: keyId, status: "active", kv_sync: "synced" });
    // Nothing left to retry.
    expect(await runDurableObjectAlarm(accountStub("acct_h1"))).toBe(false);
  });

  it("on a PATCH, which rewrites the KV record: kv_synced true at once", async () => {
    const secret = "sk_live_storedBeforeTheFix2";
    const keyId = await seedKeyFromBeforeTheFix("acct_h2", secret, "2038-01-19T00:00:00.000Z", 3);
    const { res, body } = await adminCall("PATCH", `/accounts/acct_h2/keys/${keyId}`, { body: { label: "renamed" } });
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ kv_synced: true, changed: ["label"], key: { status: "active", kv_sync: "synced" } });
    expect(await kvRecord(secret)).toMatchObject({ label: "renamed", expires_at: "2038-01-19T00:00:00.000Z" });
    expect(await kvExpiration(secret)).toBeUndefined();
    expect(await apiStatus("acct_h2", secret)).toBe(200);
  });

  it("on a rotation: the old key's record (overlap end) and the new key's are written", async () => {
    const secret = "sk_live_storedBeforeTheFix3";
    const keyId = await seedKeyFromBeforeTheFix("acct_h3", secret, "9999-12-31T23:59:59.000Z", 2);
    const { res, body } = await adminCall("POST", `/accounts/acct_h3/keys/${keyId}/rotate`, { body: { overlap_seconds: 3600 } });
    expect(res.status).toBe(200);
    const out = body as { key: KeyJson; previous: KeyJson; secret: string; kv_synced: boolean };
    expect(out.kv_synced).toBe(true);
    expect(out.previous).toMatchObject({ status: "active", kv_sync: "synced" });
    expect(Date.parse(out.previous.expires_at as string) - Date.now()).toBeLessThanOrEqual(3_600_000);
    expect(await apiStatus("acct_h3", secret)).toBe(200);
    expect(await apiStatus("acct_h3", out.secret)).toBe(200);
  });
});

describe("a KV write refused for good", () => {
  it("is not retried forever: logged once, no alarm, and the key says sync_failed / failed everywhere", async () => {
    await useKv("acct_f1", { put: outOfRangePut });
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const { res, body } = await adminCall("POST", "/accounts/acct_f1/keys", { body: { label: "doomed" } });
    expect(res.status).toBe(201);
    const out = body as { key: KeyJson; secret: string; kv_synced: boolean };
    expect(out).toMatchObject({ kv_synced: false, key: { status: "sync_failed", kv_sync: "failed" } });

    const abandoned = logLines(errors, "key_kv_write_abandoned");
    expect(abandoned).toHaveLength(1);
    expect(abandoned[0]).toMatchObject({
      level: "error",
      account_id: "acct_f1",
      key_id: out.key.key_id,
      attempts: 1,
      kv_record: "deleted",
    });
    expect(String(abandoned[0]?.error)).toContain(OUT_OF_RANGE);
    expect(logLines(errors, "key_kv_write_failed")).toHaveLength(0);

    expect(await pending("acct_f1")).toBe(0);
    expect(await runDurableObjectAlarm(accountStub("acct_f1"))).toBe(false);
    expect(await showKey("acct_f1", out.key.key_id)).toMatchObject({ status: "sync_failed", kv_sync: "failed" });
    expect((await listKeys("acct_f1"))[0]).toMatchObject({ status: "sync_failed", kv_sync: "failed" });
    expect(await apiStatus("acct_f1", out.secret)).toBe(401);

    // A later change of the key queues it again; with KV taking it, it heals.
    await useKv("acct_f1");
    const patched = await adminCall("PATCH", `/accounts/acct_f1/keys/${out.key.key_id}`, { body: { label: "saved" } });
    expect(patched.body).toMatchObject({ kv_synced: true, key: { status: "active", kv_sync: "synced" } });
    expect(await apiStatus("acct_f1", out.secret)).toBe(200);
  });

  it("after an earlier good write, deletes the older record (fail closed) and a revocation later lands", async () => {
    const key = await createKey("acct_f2");
    expect(await apiStatus("acct_f2", key.secret)).toBe(200);
    await useKv("acct_f2", { put: outOfRangePut });
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { body } = await adminCall("PATCH", `/accounts/acct_f2/keys/${key.keyId}`, {
      body: { policy: { ip_allowlist: ["203.0.113.0/24"] } },
    });
    expect(body).toMatchObject({ kv_synced: false, key: { status: "sync_failed", kv_sync: "failed" } });
    // The edge never keeps serving the record without the allowlist.
    expect(await kvRecord(key.secret)).toBeNull();
    expect(await apiStatus("acct_f2", key.secret)).toBe(401);

    await useKv("acct_f2");
    const revoked = await adminCall("POST", `/accounts/acct_f2/keys/${key.keyId}/revoke`);
    expect(revoked.body).toMatchObject({ kv_synced: true, already_revoked: false, key: { status: "revoked", kv_sync: "synced" } });
    expect((await kvRecord(key.secret))?.status).toBe("revoked");
  });

  it("stays pending and retried while the older record cannot be deleted either", async () => {
    let deleteFails = true;
    await useKv("acct_f3", {
      put: outOfRangePut,
      delete: (name) => (deleteFails ? Promise.reject(new Error("KV DELETE failed: 503 Service Unavailable")) : env.KEYS.delete(name)),
    });
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const { body } = await adminCall("POST", "/accounts/acct_f3/keys");
    const out = body as { key: KeyJson };
    expect(out).toMatchObject({ kv_synced: false, key: { status: "active", kv_sync: "pending" } });
    expect(logLines(errors, "key_kv_write_failed")[0]).toMatchObject({
      permanent: true,
      delete_error: "KV DELETE failed: 503 Service Unavailable",
    });
    expect(await pending("acct_f3")).toBe(1);

    deleteFails = false;
    expect(await runDurableObjectAlarm(accountStub("acct_f3"))).toBe(true);
    expect(await pending("acct_f3")).toBe(0);
    expect(await showKey("acct_f3", out.key.key_id)).toMatchObject({ status: "sync_failed", kv_sync: "failed" });
    expect(logLines(errors, "key_kv_write_abandoned")).toHaveLength(1);
  });

  it("a transient failure is still retried as long as it lasts, and the key stays active and pending", async () => {
    await useKv("acct_f4", { put: () => Promise.reject(new Error("KV PUT failed: 503 Service Unavailable")) });
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const { body } = await adminCall("POST", "/accounts/acct_f4/keys");
    const out = body as { key: KeyJson; secret: string };
    for (let i = 0; i < 3; i++) expect(await runDurableObjectAlarm(accountStub("acct_f4"))).toBe(true);
    expect(await pending("acct_f4")).toBe(1);
    expect(await showKey("acct_f4", out.key.key_id)).toMatchObject({ status: "active", kv_sync: "pending" });
    expect(logLines(errors, "key_kv_write_failed").map((line) => line.attempts)).toEqual([1, 2, 3, 4]);
    expect(logLines(errors, "key_kv_write_abandoned")).toHaveLength(0);

    await useKv("acct_f4");
    expect(await runDurableObjectAlarm(accountStub("acct_f4"))).toBe(true);
    expect(await showKey("acct_f4", out.key.key_id)).toMatchObject({ status: "active", kv_sync: "synced" });
    expect(await apiStatus("acct_f4", out.secret)).toBe(200);
  });
});

describe("migration of the Durable Object's tables", () => {
  it("an outbox table of the first shape gains failed_at; its rows read as pending; running it again changes nothing", async () => {
    await runInDurableObject(accountStub("acct_m1"), (_instance: AccountKeys, state: DurableObjectState) => {
      const sql = state.storage.sql;
      sql.exec("DROP TABLE kv_outbox");
      sql.exec("CREATE TABLE kv_outbox (key_id TEXT PRIMARY KEY, attempts INTEGER NOT NULL DEFAULT 0)");
      sql.exec("INSERT INTO kv_outbox (key_id, attempts) VALUES ('key_old1', 12)");
      migrateAccountKeysSchema(sql);
      migrateAccountKeysSchema(sql);
      const columns = sql.exec<{ name: string }>("PRAGMA table_info(kv_outbox)").toArray();
      expect(columns.map((c) => c.name)).toEqual(["key_id", "attempts", "failed_at"]);
      expect(sql.exec("SELECT key_id, attempts, failed_at FROM kv_outbox").toArray()).toEqual([
        { key_id: "key_old1", attempts: 12, failed_at: null },
      ]);
    });
    expect(await pending("acct_m1")).toBe(1);
  });
});
