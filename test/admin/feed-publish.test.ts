/**
 * Issue 13, the admin side: every "stop accepting" change of an account's Durable Object reaches the
 * revocation feed before the admin API answers (revoke, rotate, PATCH expires_at), through a
 * transactional outbox; a publish that fails says `revocation_published: false`, is logged, and is
 * published by the alarm; PATCH `expires_at` (bound, feed entry, KV record and expiration).
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type AccountKeys, FEED_PUBLISH_TIMEOUT_MS, migrateAccountKeysSchema } from "../../src/admin/account-do";
import { KV_RETENTION_AFTER_END_SECONDS, MAX_EXPIRES_AHEAD_DAYS } from "../../src/admin/model";
import { hashSecret, importHashKey, secretKvKey } from "../../src/keys/hash";
import { type KeyRecord, KeyRecordSchema } from "../../src/keys/record";
import { clearKeyCache } from "../../src/keys/store";
import type { FeedChange, FeedEntry } from "../../src/revocation/feed";
import { FEED_OBJECT_NAME, MAX_CHANGES_PER_PUBLISH } from "../../src/revocation/feed-do";
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

type KeyJson = { key_id: string; status: string; expires_at: string | null; revoked_at: string | null };

const feed = () => env.REVOCATION_FEED.get(env.REVOCATION_FEED.idFromName(FEED_OBJECT_NAME));
const accountStub = (account: string) => env.KEY_ACCOUNTS.get(env.KEY_ACCOUNTS.idFromName(account));
const pendingFeed = (account: string) => runInDurableObject(accountStub(account), (instance: AccountKeys) => instance.pendingFeedChanges());

async function hashOf(secret: string): Promise<string> {
  return hashSecret(await importHashKey(env.SECRET_HASH_KEY), secret);
}

/** The feed's entries about this secret hash, oldest first. */
async function keyEntries(hash: string): Promise<FeedEntry[]> {
  return (await feed().window()).entries.filter((e) => e.kind === "key" && e.secret_hash === hash);
}

async function kvRecord(secret: string): Promise<KeyRecord | null> {
  const value = await env.KEYS.get(secretKvKey(await hashOf(secret)), "json");
  return value === null ? null : KeyRecordSchema.parse(value);
}

async function kvExpiration(secret: string): Promise<number | undefined | null> {
  const listed = await env.KEYS.list({ prefix: secretKvKey(await hashOf(secret)) });
  return listed.keys.length === 0 ? null : listed.keys[0]?.expiration;
}

async function apiStatus(account: string, secret: string): Promise<number> {
  clearKeyCache();
  const { res } = await call("/v1/charges", { headers: { "X-Spot-Api-Key": account, "X-Spot-Api-Secret": secret } });
  return res.status;
}

/** Gives the account's Durable Object a feed whose `publish` runs `publish` (default: the real feed). */
async function useFeed(account: string, publish?: (changes: FeedChange[]) => Promise<{ seq: number }>): Promise<void> {
  const real = env.REVOCATION_FEED;
  const namespace = publish
    ? ({ idFromName: (name: string) => real.idFromName(name), get: () => ({ publish }) } as unknown as Env["REVOCATION_FEED"])
    : real;
  await runInDurableObject(accountStub(account), (instance: AccountKeys) => {
    (instance as unknown as { env: Env }).env = { ...env, REVOCATION_FEED: namespace };
  });
}

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

describe("revoke and rotate publish to the revocation feed before answering", () => {
  it("revoke: one key entry with the revocation instant; revoking again publishes nothing new", async () => {
    const key = await createKey("acct_fp1");
    const hash = await hashOf(key.secret);
    const out = await adminCall("POST", `/accounts/acct_fp1/keys/${key.keyId}/revoke`);
    expect(out.res.status).toBe(200);
    const body = out.body as { key: KeyJson; kv_synced: boolean; revocation_published: boolean };
    expect(body).toMatchObject({ kv_synced: true, revocation_published: true });
    const entries = await keyEntries(hash);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ kind: "key", not_after_ms: Date.parse(body.key.revoked_at ?? "") });

    const again = await adminCall("POST", `/accounts/acct_fp1/keys/${key.keyId}/revoke`);
    expect(again.body).toMatchObject({ already_revoked: true, revocation_published: true });
    expect(await keyEntries(hash)).toHaveLength(1);
    expect(await pendingFeed("acct_fp1")).toBe(0);
  });

  it("rotate: a key entry for the old secret ending with the overlap, none for the new one", async () => {
    const key = await createKey("acct_fp2");
    const out = await adminCall("POST", `/accounts/acct_fp2/keys/${key.keyId}/rotate`, { body: { overlap_seconds: 120 } });
    expect(out.res.status).toBe(200);
    const body = out.body as { previous: KeyJson; secret: string; revocation_published: boolean };
    expect(body.revocation_published).toBe(true);
    const entries = await keyEntries(await hashOf(key.secret));
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ not_after_ms: Date.parse(body.previous.expires_at ?? "") });
    expect(await keyEntries(await hashOf(body.secret))).toEqual([]);
  });

  it("the feed gets the change before KV does (the feed outbox is flushed first)", async () => {
    const key = await createKey("acct_fp9");
    const seenInKv: (string | undefined)[] = [];
    await useFeed("acct_fp9", async (changes) => {
      seenInKv.push((await kvRecord(key.secret))?.status);
      return feed().publish(changes);
    });
    const out = await adminCall("POST", `/accounts/acct_fp9/keys/${key.keyId}/revoke`);
    expect(out.body).toMatchObject({ kv_synced: true, revocation_published: true });
    expect(seenInKv).toEqual(["active"]);
    expect((await kvRecord(key.secret))?.status).toBe("revoked");
  });

  it("create, import and a label change publish nothing and say revocation_published: true", async () => {
    const before = (await feed().window()).head_seq;
    const created = await adminCall("POST", "/accounts/acct_fp3/keys", { body: { label: "a" } });
    expect(created.body).toMatchObject({ revocation_published: true });
    const imported = await adminCall("POST", "/accounts/acct_fp3/keys/import", { body: { secret: "sk_live_feedPublish3" } });
    expect(imported.body).toMatchObject({ revocation_published: true });
    const keyId = (created.body as { key: KeyJson }).key.key_id;
    const patched = await adminCall("PATCH", `/accounts/acct_fp3/keys/${keyId}`, { body: { label: "b" } });
    expect(patched.body).toMatchObject({ changed: ["label"], revocation_published: true });
    // Other test files have their own storage: nothing else publishes into this feed meanwhile.
    expect((await feed().window()).head_seq).toBe(before);
  });
});

describe("a publish that fails", () => {
  it("keeps the change in the outbox, answers revocation_published: false, logs it, and the alarm publishes it", async () => {
    const key = await createKey("acct_fp4");
    const hash = await hashOf(key.secret);
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    await useFeed("acct_fp4", () => Promise.reject(new Error("feed unreachable")));

    const out = await adminCall("POST", `/accounts/acct_fp4/keys/${key.keyId}/revoke`);
    expect(out.res.status).toBe(200);
    // The revocation itself is committed and KV written: only the feed is behind.
    expect(out.body).toMatchObject({ key: { status: "revoked" }, kv_synced: true, revocation_published: false });
    expect((await kvRecord(key.secret))?.status).toBe("revoked");
    expect(await keyEntries(hash)).toEqual([]);
    expect(await pendingFeed("acct_fp4")).toBe(1);
    const lines = logLines(errors, "revocation_publish_failed");
    expect(lines).toEqual([
      { level: "error", msg: "revocation_publish_failed", account_id: "acct_fp4", pending: 1, attempts: 1, error: "feed unreachable" },
    ]);
    expect(JSON.stringify(errors.mock.calls)).not.toContain(hash);

    // A repeated revoke publishes nothing new and still says the feed is behind for this key.
    const again = await adminCall("POST", `/accounts/acct_fp4/keys/${key.keyId}/revoke`);
    expect(again.body).toMatchObject({ already_revoked: true, revocation_published: false });

    // Still failing: the alarm keeps it; then the feed is back and the alarm publishes it, once.
    expect(await runDurableObjectAlarm(accountStub("acct_fp4"))).toBe(true);
    expect(await pendingFeed("acct_fp4")).toBe(1);
    expect(logLines(errors, "revocation_publish_failed").map((line) => line.attempts)).toEqual([1, 2, 3]);
    await useFeed("acct_fp4");
    expect(await runDurableObjectAlarm(accountStub("acct_fp4"))).toBe(true);
    expect(await pendingFeed("acct_fp4")).toBe(0);
    const revokedAt = Date.parse(((out.body as { key: KeyJson }).key.revoked_at ?? "") as string);
    expect(await keyEntries(hash)).toMatchObject([{ not_after_ms: revokedAt }]);
    const later = await adminCall("GET", `/accounts/acct_fp4/keys/${key.keyId}`);
    expect(later.res.status).toBe(200);
  });

  it("a failed publish blocks later ones of the account (order kept); all land in order once the feed is back", async () => {
    const a = await createKey("acct_fp5");
    const b = await createKey("acct_fp5");
    vi.spyOn(console, "error").mockImplementation(() => {});
    await useFeed("acct_fp5", () => Promise.reject(new Error("feed unreachable")));
    await adminCall("POST", `/accounts/acct_fp5/keys/${a.keyId}/revoke`);
    await useFeed("acct_fp5");
    // The feed is reachable again, but the earlier change goes first: both are published, a's first.
    const out = await adminCall("POST", `/accounts/acct_fp5/keys/${b.keyId}/revoke`);
    expect(out.body).toMatchObject({ revocation_published: true });
    const [hashA, hashB] = [await hashOf(a.secret), await hashOf(b.secret)];
    const entries = (await feed().window()).entries.filter((e) => e.kind === "key" && [hashA, hashB].includes(e.secret_hash));
    expect(entries.map((e) => (e.kind === "key" ? e.secret_hash : ""))).toEqual([hashA, hashB]);
  });

  it("a feed binding that throws before any call is a failed publish too, never a failed admin answer", async () => {
    const key = await createKey("acct_fp8");
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const broken = {
      idFromName: () => {
        throw new Error("Durable Objects unavailable");
      },
    } as unknown as Env["REVOCATION_FEED"];
    await runInDurableObject(accountStub("acct_fp8"), (instance: AccountKeys) => {
      (instance as unknown as { env: Env }).env = { ...env, REVOCATION_FEED: broken };
    });
    const out = await adminCall("POST", `/accounts/acct_fp8/keys/${key.keyId}/revoke`);
    expect(out.res.status).toBe(200);
    expect(out.body).toMatchObject({ key: { status: "revoked" }, revocation_published: false });
    expect(logLines(errors, "revocation_publish_failed")).toMatchObject([{ error: "Durable Objects unavailable" }]);
  });

  it("a publish that does not answer counts as failed after FEED_PUBLISH_TIMEOUT_MS: the admin answer does not wait longer", async () => {
    const key = await createKey("acct_fp7");
    vi.spyOn(console, "error").mockImplementation(() => {});
    await useFeed("acct_fp7", () => new Promise(() => {}));
    const startedAt = Date.now();
    const out = await adminCall("POST", `/accounts/acct_fp7/keys/${key.keyId}/revoke`);
    expect(out.body).toMatchObject({ key: { status: "revoked" }, kv_synced: true, revocation_published: false });
    const tookMs = Date.now() - startedAt;
    expect(tookMs).toBeGreaterThanOrEqual(FEED_PUBLISH_TIMEOUT_MS - 100);
    expect(tookMs).toBeLessThan(FEED_PUBLISH_TIMEOUT_MS + 2_000);
    expect(await pendingFeed("acct_fp7")).toBe(1);
  });

  it("publishes in calls of at most MAX_CHANGES_PER_PUBLISH changes, in order", async () => {
    await createKey("acct_fp6");
    const calls: FeedChange[][] = [];
    await useFeed("acct_fp6", async (changes) => {
      calls.push(changes);
      return { seq: 1 };
    });
    // Queue more changes than one call carries, straight into the outbox (as many revocations would).
    const count = MAX_CHANGES_PER_PUBLISH + 5;
    await runInDurableObject(accountStub("acct_fp6"), (_instance: AccountKeys, state: DurableObjectState) => {
      for (let i = 0; i < count; i++) {
        state.storage.sql.exec(
          "INSERT INTO feed_outbox (kind, subject, not_after_ms, suspended) VALUES ('key', ?, ?, NULL)",
          i.toString(16).padStart(64, "0"),
          i,
        );
      }
    });
    expect(await runDurableObjectAlarm(accountStub("acct_fp6"))).toBe(false); // none set yet
    await runInDurableObject(accountStub("acct_fp6"), (_instance: AccountKeys, state: DurableObjectState) =>
      state.storage.setAlarm(Date.now()),
    );
    expect(await runDurableObjectAlarm(accountStub("acct_fp6"))).toBe(true);
    expect(calls.map((c) => c.length)).toEqual([MAX_CHANGES_PER_PUBLISH, 5]);
    expect(calls.flat().map((c) => (c.kind === "key" ? c.not_after_ms : -1))).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(await pendingFeed("acct_fp6")).toBe(0);
  });
});

describe("PATCH expires_at", () => {
  it("sets a new end: published, written to KV with its KV expiration, enforced", async () => {
    const key = await createKey("acct_fx1");
    const end = new Date(Date.now() + 2 * DAY_MS).toISOString();
    const out = await adminCall("PATCH", `/accounts/acct_fx1/keys/${key.keyId}`, { body: { expires_at: end } });
    expect(out.res.status).toBe(200);
    expect(out.body).toMatchObject({ key: { expires_at: end }, changed: ["expires_at"], kv_synced: true, revocation_published: true });
    expect(out.adminEvents[0]).toMatchObject({ action: "key.update", changes: ["expires_at"] });
    expect(await keyEntries(await hashOf(key.secret))).toMatchObject([{ not_after_ms: Date.parse(end) }]);
    expect((await kvRecord(key.secret))?.expires_at).toBe(end);
    expect(await kvExpiration(key.secret)).toBe(Math.floor(Date.parse(end) / 1000) + KV_RETENTION_AFTER_END_SECONDS);
    expect(await apiStatus("acct_fx1", key.secret)).toBe(200);

    // Removing it publishes a lifting entry (null) and drops the KV expiration.
    const none = await adminCall("PATCH", `/accounts/acct_fx1/keys/${key.keyId}`, { body: { expires_at: null } });
    expect(none.body).toMatchObject({ key: { expires_at: null }, changed: ["expires_at"], revocation_published: true });
    expect(await keyEntries(await hashOf(key.secret))).toMatchObject([{ not_after_ms: Date.parse(end) }, { not_after_ms: null }]);
    expect((await kvRecord(key.secret))?.expires_at).toBeNull();
    expect(await kvExpiration(key.secret)).toBeUndefined();

    // The same value again changes and publishes nothing.
    const same = await adminCall("PATCH", `/accounts/acct_fx1/keys/${key.keyId}`, { body: { expires_at: null } });
    expect(same.body).toMatchObject({ changed: [] });
    expect(await keyEntries(await hashOf(key.secret))).toHaveLength(2);
  });

  it("an end a second away: the key answers 401 once it has passed", async () => {
    const key = await createKey("acct_fx2");
    const end = new Date(Date.now() + 1000).toISOString();
    const out = await adminCall("PATCH", `/accounts/acct_fx2/keys/${key.keyId}`, { body: { expires_at: end } });
    expect(out.res.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await apiStatus("acct_fx2", key.secret)).toBe(401);
  });

  it("the bound of create: past and beyond 3650 days are 400 body.expires_at, and nothing changes", async () => {
    const key = await createKey("acct_fx3");
    const before = (await feed().window()).head_seq;
    for (const value of [
      new Date(Date.now() - 1000).toISOString(),
      new Date(Date.now() + (MAX_EXPIRES_AHEAD_DAYS + 1) * DAY_MS).toISOString(),
      "tomorrow",
    ]) {
      const out = await adminCall("PATCH", `/accounts/acct_fx3/keys/${key.keyId}`, { body: { expires_at: value } });
      expect(out.res.status, value).toBe(400);
      expect(errorOf(out.body)).toMatchObject({ code: "invalid_body", param: "body.expires_at" });
    }
    expect((await feed().window()).head_seq).toBe(before);
    expect((await kvRecord(key.secret))?.expires_at).toBeNull();
  });

  it("a revoked or expired key keeps its end: 409 key_revoked / key_expired", async () => {
    const key = await createKey("acct_fx4");
    await adminCall("POST", `/accounts/acct_fx4/keys/${key.keyId}/revoke`);
    const out = await adminCall("PATCH", `/accounts/acct_fx4/keys/${key.keyId}`, { body: { expires_at: null } });
    expect(out.res.status).toBe(409);
    expect(errorOf(out.body).code).toBe("key_revoked");
    // A label may still change.
    const label = await adminCall("PATCH", `/accounts/acct_fx4/keys/${key.keyId}`, { body: { label: "old" } });
    expect(label.res.status).toBe(200);

    const short = await createKey("acct_fx4", { expires_at: new Date(Date.now() + 500).toISOString() });
    await new Promise((resolve) => setTimeout(resolve, 600));
    const revive = await adminCall("PATCH", `/accounts/acct_fx4/keys/${short.keyId}`, {
      body: { expires_at: new Date(Date.now() + DAY_MS).toISOString() },
    });
    expect(revive.res.status).toBe(409);
    expect(errorOf(revive.body).code).toBe("key_expired");
  });
});

describe("migration: the feed outbox", () => {
  it("an object made before the feed has no feed_outbox; its next start creates it and it publishes", async () => {
    const key = await createKey("acct_fm1");
    await runInDurableObject(accountStub("acct_fm1"), (_instance: AccountKeys, state: DurableObjectState) => {
      const sql = state.storage.sql;
      sql.exec("DROP TABLE feed_outbox");
      expect(sql.exec("SELECT name FROM sqlite_master WHERE name = 'feed_outbox'").toArray()).toEqual([]);
      migrateAccountKeysSchema(sql);
      migrateAccountKeysSchema(sql);
      const columns = sql.exec<{ name: string }>("PRAGMA table_info(feed_outbox)").toArray();
      expect(columns.map((c) => c.name)).toEqual(["seq", "kind", "subject", "not_after_ms", "suspended", "attempts"]);
    });
    const out = await adminCall("POST", `/accounts/acct_fm1/keys/${key.keyId}/revoke`);
    expect(out.body).toMatchObject({ revocation_published: true });
    expect(await keyEntries(await hashOf(key.secret))).toHaveLength(1);
  });
});
