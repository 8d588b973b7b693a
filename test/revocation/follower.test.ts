/**
 * The request path follows the revocation feed (src/revocation/follower.ts) through the Worker's fetch
 * handler in workerd, with the real feed Durable Object and the location's Cache API, while KV is held
 * stale: every KV read returns the key's active record, as a location KV has not reached yet does.
 * The admin API's side (what revoke, rotate, PATCH and suspend publish) is in
 * test/revocation/bound.test.ts.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { clearKeyCache } from "../../src/keys/store";
import type { FeedChange } from "../../src/revocation/feed";
import { FEED_OBJECT_NAME } from "../../src/revocation/feed-do";
import { KEY_CACHE_TTL_UNREACHABLE_MS, UNREACHABLE_AFTER_MS } from "../../src/revocation/follow";
import { FEED_CACHE_PATH, resetRevocationFeedFollower } from "../../src/revocation/follower";
import { ACCOUNT, API, authHeaders, keyRecord, putKey, SECRET } from "../helpers/fixtures";
import { type OriginStub, stubOrigins } from "../helpers/origin";
import { call } from "../helpers/worker";

/** The bound the README states, milliseconds. */
const BOUND_MS = 5_000;

let origin: OriginStub;
let secretHash: string;
const ACTIVE = JSON.stringify(keyRecord());

/** A KV namespace that answers every read with the key's active record (KV not yet propagated). */
const staleKv = { get: async () => ACTIVE } as unknown as KVNamespace;

function feed() {
  return env.REVOCATION_FEED.get(env.REVOCATION_FEED.idFromName(FEED_OBJECT_NAME));
}

async function publish(...changes: FeedChange[]): Promise<number> {
  return (await feed().publish(changes)).seq;
}

/** One API request with the fixture's secret and stale KV; its status. */
async function probe(bindings: Partial<Env> = {}): Promise<number> {
  return (await call("/v1/charges", { headers: authHeaders() }, { bindings: { KEYS: staleKv, ...bindings } })).res.status;
}

/**
 * Probes every 100 ms until the first 401.
 * @returns milliseconds from `sinceMs` to the first 401 (fails the test past 3 × the bound)
 */
async function timeToRefusal(sinceMs: number): Promise<number> {
  for (;;) {
    const sentAt = Date.now();
    const status = await probe();
    if (status === 401) return sentAt - sinceMs;
    expect(status).toBe(200);
    expect(sentAt - sinceMs).toBeLessThan(3 * BOUND_MS);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A new isolate in a location whose cached window has expired. */
async function newIsolate(): Promise<void> {
  resetRevocationFeedFollower();
  clearKeyCache();
  await caches.default.delete(new Request(`${API}${FEED_CACHE_PATH}`));
}

beforeEach(async () => {
  secretHash = await putKey(SECRET);
  // Whatever an earlier test of this file left in the feed for the fixture's key and account is lifted.
  await publish({ kind: "key", secret_hash: secretHash, not_after_ms: null }, { kind: "account", account_id: ACCOUNT, suspended: false });
  await newIsolate();
  origin = stubOrigins();
});
afterEach(() => {
  origin.restore();
  vi.restoreAllMocks();
});

// Cases that wait for the feed in real time take a few seconds, near Vitest's default 5 s.
describe("a key the feed ends", { timeout: 30_000 }, () => {
  it("is refused within the bound while KV still serves its active record, and stays refused", async () => {
    expect(await probe()).toBe(200);
    expect(await probe()).toBe(200);
    const answeredAt = Date.now();
    await publish({ kind: "key", secret_hash: secretHash, not_after_ms: answeredAt });

    expect(await timeToRefusal(answeredAt)).toBeLessThanOrEqual(BOUND_MS);
    // KV still says active; the view remembers the entry, so no later read brings the key back.
    expect(await staleKv.get("any")).toBe(ACTIVE);
    for (let i = 0; i < 5; i++) expect(await probe()).toBe(401);
    expect(origin.received.length).toBeGreaterThan(0);
  });

  it("a new isolate reads the feed before it accepts a key: the first request is already refused", async () => {
    await publish({ kind: "key", secret_hash: secretHash, not_after_ms: Date.now() });
    const { res, body } = await call("/v1/charges", { headers: authHeaders() }, { bindings: { KEYS: staleKv } });
    expect(res.status).toBe(401);
    expect(body).toMatchObject({ error: { code: "invalid_credentials", message: "The API key and secret do not match an active key." } });
    expect(origin.received).toHaveLength(0);
  });

  it("an end in the future (a rotation's overlap) keeps the key working until then", async () => {
    await publish({ kind: "key", secret_hash: secretHash, not_after_ms: Date.now() + 60_000 });
    expect(await probe()).toBe(200);
  });

  it("a later entry lifting the end (not_after_ms null) lets KV decide again", async () => {
    await publish({ kind: "key", secret_hash: secretHash, not_after_ms: Date.now() - 1 });
    expect(await probe()).toBe(401);
    await publish({ kind: "key", secret_hash: secretHash, not_after_ms: null });
    await newIsolate();
    expect(await probe()).toBe(200);
  });
});

describe("a suspended account", { timeout: 30_000 }, () => {
  it("has every key refused with the same 401 within the bound; a resume lets them through again", async () => {
    expect(await probe()).toBe(200);
    const answeredAt = Date.now();
    await publish({ kind: "account", account_id: ACCOUNT, suspended: true });
    expect(await timeToRefusal(answeredAt)).toBeLessThanOrEqual(BOUND_MS);

    await publish({ kind: "account", account_id: ACCOUNT, suspended: false });
    await newIsolate();
    expect(await probe()).toBe(200);
  });

  it("another account's suspension changes nothing for this one", async () => {
    await publish({ kind: "account", account_id: "acct_other", suspended: true });
    expect(await probe()).toBe(200);
  });
});

describe("the hot path", { timeout: 30_000 }, () => {
  it("makes no feed round trip per request: 200 requests, one feed object read, one cache lookup", async () => {
    const reads = { objects: 0 };
    const counting = {
      idFromName: (name: string) => env.REVOCATION_FEED.idFromName(name),
      get: (id: DurableObjectId) => {
        reads.objects++;
        return env.REVOCATION_FEED.get(id);
      },
    } as unknown as Env["REVOCATION_FEED"];
    const match = vi.spyOn(caches.default, "match");
    const started = Date.now();
    for (let i = 0; i < 200; i++) expect(await probe({ REVOCATION_FEED: counting })).toBe(200);
    // The loop runs well within REFRESH_AFTER_MS here; were it slower, one read per 2 s would still be the rule.
    const seconds = (Date.now() - started) / 1000;
    const allowed = 1 + Math.floor(seconds / 2);
    expect(reads.objects).toBeLessThanOrEqual(allowed);
    expect(match.mock.calls.length).toBeLessThanOrEqual(allowed);
    expect(reads.objects).toBeGreaterThanOrEqual(1);
  });

  it("a second isolate of the location within a second reads the cached window, not the object", async () => {
    expect(await probe()).toBe(200);
    const get = vi.spyOn(env.REVOCATION_FEED, "get");
    resetRevocationFeedFollower();
    expect(await probe()).toBe(200);
    expect(get).not.toHaveBeenCalled();
  });
});

describe("a feed that cannot be read", () => {
  const broken = {
    idFromName: (name: string) => env.REVOCATION_FEED.idFromName(name),
    get: () => {
      throw new Error("Durable Object is overloaded");
    },
  } as unknown as Env["REVOCATION_FEED"];

  it("never refuses a valid key for that alone; past the bound the key cache TTL shortens and it is logged once", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: string) => void lines.push(line));
    vi.spyOn(console, "warn").mockImplementation((line: string) => void lines.push(line));
    vi.spyOn(console, "log").mockImplementation((line: string) => void lines.push(line));
    const realNow = Date.now.bind(Date);
    let offset = 0;
    vi.spyOn(Date, "now").mockImplementation(() => realNow() + offset);
    const kvReads = { n: 0 };
    const countingKv = {
      get: async () => {
        kvReads.n++;
        return ACTIVE;
      },
    } as unknown as KVNamespace;
    const request = () => probe({ REVOCATION_FEED: broken, KEYS: countingKv });

    expect(await request()).toBe(200);
    expect(kvReads.n).toBe(1);
    const logged = () => lines.filter((l) => l.includes('"revocation_feed_')).map((l) => JSON.parse(l).msg);
    expect(logged()).toEqual(["revocation_feed_read_failed"]);

    // Still within the configured 30 s cache TTL, but the feed has been unreadable past its bound: the
    // cached record is read again, and from now on kept KEY_CACHE_TTL_UNREACHABLE_MS only.
    offset = UNREACHABLE_AFTER_MS + 1_000;
    expect(await request()).toBe(200);
    expect(kvReads.n).toBe(2);
    expect(await request()).toBe(200);
    expect(kvReads.n).toBe(2);
    offset += KEY_CACHE_TTL_UNREACHABLE_MS + 1;
    expect(await request()).toBe(200);
    expect(kvReads.n).toBe(3);
    expect(logged()).toEqual(["revocation_feed_read_failed", "revocation_feed_unreachable"]);
    const warning = JSON.parse(lines.find((l) => l.includes("revocation_feed_unreachable")) ?? "{}");
    expect(warning).toMatchObject({ level: "warn", key_cache_ttl_ms: KEY_CACHE_TTL_UNREACHABLE_MS });

    // The feed answers again: logged, and the configured TTL is back.
    offset += 3_000;
    expect(await probe({ KEYS: countingKv })).toBe(200);
    expect(logged()).toContain("revocation_feed_recovered");
  });

  it("a new isolate whose first read fails goes on after the read (fail towards availability)", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    expect(await probe({ REVOCATION_FEED: broken })).toBe(200);
  });
});
