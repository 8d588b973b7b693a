/**
 * The revocation bound (README "Revocation bound"): through the admin API and the Worker's fetch
 * handler in workerd, with the real account and feed Durable Objects and the location's Cache API, a
 * revoked key, the old secret of a rotation with overlap 0, a key whose expiry PATCH brought forward
 * and every key of a suspended account are refused within 5 s of the admin API's answer, while KV is
 * held stale: every read of the key's record returns what KV held before the change, as a location KV
 * has not reached yet does.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { hashSecret, importHashKey, secretKvKey } from "../../src/keys/hash";
import { clearKeyCache } from "../../src/keys/store";
import { FEED_CACHE_PATH, resetRevocationFeedFollower } from "../../src/revocation/follower";
import { adminCall, createKey } from "../helpers/admin";
import { API } from "../helpers/fixtures";
import { type OriginStub, stubOrigins } from "../helpers/origin";
import { call } from "../helpers/worker";

/** The bound the README states, milliseconds. */
const BOUND_MS = 5_000;

let origin: OriginStub;
beforeEach(async () => {
  resetRevocationFeedFollower();
  clearKeyCache();
  await caches.default.delete(new Request(`${API}${FEED_CACHE_PATH}`));
  origin = stubOrigins();
});
afterEach(() => {
  origin.restore();
  vi.restoreAllMocks();
});

async function kvName(secret: string): Promise<string> {
  return secretKvKey(await hashSecret(await importHashKey(env.SECRET_HASH_KEY), secret));
}

/** KV as a location that has not seen any change since now: these secrets' records stay as they are now. */
async function staleKvFor(...secrets: string[]): Promise<KVNamespace> {
  const held = new Map<string, string | null>();
  for (const secret of secrets) {
    const name = await kvName(secret);
    held.set(name, await env.KEYS.get(name, "text"));
  }
  return {
    get: async (key: string, type: "text") => (held.has(key) ? held.get(key) : env.KEYS.get(key, type)),
  } as unknown as KVNamespace;
}

async function status(account: string, secret: string, kv: KVNamespace): Promise<number> {
  const headers = { "X-Spot-Api-Key": account, "X-Spot-Api-Secret": secret };
  return (await call("/v1/charges", { headers }, { bindings: { KEYS: kv } })).res.status;
}

/**
 * Sends a request every 100 ms until the first 401, then five more that must all be 401.
 * @returns milliseconds from `sinceMs` to the first 401
 */
async function timeToRefusal(account: string, secret: string, kv: KVNamespace, sinceMs: number): Promise<number> {
  let firstRefusal: number | null = null;
  while (firstRefusal === null) {
    const sentAt = Date.now();
    const answer = await status(account, secret, kv);
    if (answer === 401) firstRefusal = sentAt - sinceMs;
    else {
      expect(answer).toBe(200);
      expect(sentAt - sinceMs).toBeLessThan(3 * BOUND_MS);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  for (let i = 0; i < 5; i++) expect(await status(account, secret, kv)).toBe(401);
  return firstRefusal;
}

/** A new key, warmed: the isolate has its record cached and the feed followed. */
async function warmKey(account: string): Promise<{ keyId: string; secret: string; kv: KVNamespace }> {
  const key = await createKey(account);
  const kv = await staleKvFor(key.secret);
  expect(await status(account, key.secret, kv)).toBe(200);
  expect(await status(account, key.secret, kv)).toBe(200);
  return { ...key, kv };
}

// Each case waits for the feed in real time (a few seconds), past Vitest's default 5 s.
describe("within 5 s of the admin API's answer, with KV still serving the old record", { timeout: 30_000 }, () => {
  it("a revoked key is refused", async () => {
    const key = await warmKey("acct_bound1");
    const { res, body } = await adminCall("POST", `/accounts/acct_bound1/keys/${key.keyId}/revoke`);
    const answeredAt = Date.now();
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ revocation_published: true });
    expect(await timeToRefusal("acct_bound1", key.secret, key.kv, answeredAt)).toBeLessThanOrEqual(BOUND_MS);
  });

  it("the old secret of a rotation with overlap 0 is refused; the new one works", async () => {
    const key = await warmKey("acct_bound2");
    const { res, body } = await adminCall("POST", `/accounts/acct_bound2/keys/${key.keyId}/rotate`, { body: { overlap_seconds: 0 } });
    const answeredAt = Date.now();
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ revocation_published: true });
    expect(await timeToRefusal("acct_bound2", key.secret, key.kv, answeredAt)).toBeLessThanOrEqual(BOUND_MS);
    expect(await status("acct_bound2", (body as { secret: string }).secret, key.kv)).toBe(200);
  });

  it("a key whose expires_at PATCH brought forward is refused from then on", async () => {
    const key = await warmKey("acct_bound3");
    const endsAt = Date.now() + 1_000;
    const { res, body } = await adminCall("PATCH", `/accounts/acct_bound3/keys/${key.keyId}`, {
      body: { expires_at: new Date(endsAt).toISOString() },
    });
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ revocation_published: true });
    const since = Math.max(Date.now(), endsAt);
    expect(await timeToRefusal("acct_bound3", key.secret, key.kv, since)).toBeLessThanOrEqual(BOUND_MS);
  });

  it("every key of a suspended account is refused with the same 401; a resume lets them through again", async () => {
    const first = await warmKey("acct_bound4");
    const second = await createKey("acct_bound4");
    const kv = await staleKvFor(first.secret, second.secret);
    expect(await status("acct_bound4", second.secret, kv)).toBe(200);

    const suspended = await adminCall("POST", "/accounts/acct_bound4/suspend");
    const answeredAt = Date.now();
    expect(suspended.res.status).toBe(200);
    expect(suspended.body).toMatchObject({ revocation_published: true });
    expect(await timeToRefusal("acct_bound4", first.secret, kv, answeredAt)).toBeLessThanOrEqual(BOUND_MS);
    const refused = await call("/v1/charges", { headers: { "X-Spot-Api-Key": "acct_bound4", "X-Spot-Api-Secret": second.secret } });
    expect(refused.res.status).toBe(401);
    expect(refused.body).toMatchObject({
      error: { code: "invalid_credentials", message: "The API key and secret do not match an active key." },
    });

    // Now KV holds the suspended records and a location still serves them after the resume: the feed's
    // resume lets the keys through anyway.
    const suspendedKv = await staleKvFor(first.secret, second.secret);
    expect(await status("acct_bound4", first.secret, suspendedKv)).toBe(401);
    const resumed = await adminCall("POST", "/accounts/acct_bound4/resume");
    const resumedAt = Date.now();
    expect(resumed.res.status).toBe(200);
    let answer = 401;
    while (answer === 401) {
      expect(Date.now() - resumedAt).toBeLessThan(3 * BOUND_MS);
      await new Promise((resolve) => setTimeout(resolve, 100));
      answer = await status("acct_bound4", first.secret, suspendedKv);
    }
    expect(answer).toBe(200);
    expect(Date.now() - resumedAt).toBeLessThanOrEqual(BOUND_MS + 200);
    expect(await status("acct_bound4", second.secret, suspendedKv)).toBe(200);
  });
});
