/**
 * The isolate's side of the revocation feed (docs/storage.md "Revocation feed"): one view per isolate,
 * refreshed in the background through the Cache API of the location, checked on the request path.
 *
 * A read asks the location's cache for the window (`caches.default`, a URL under the request's own
 * host, kept FEED_CACHE_MAX_AGE_SECONDS); on a miss it asks the feed object (`REVOCATION_FEED`,
 * RPC `window()`) and puts the answer in the cache. So the object serves about one read per location
 * per second, whatever the number of isolates. A window that does not validate counts as a failed read.
 *
 * Applying a window evicts the keys it changed from the isolate's key cache (src/keys/store.ts); the
 * view itself keeps every entry for the feed's retention (10 min), so a stale KV read cannot bring a
 * refused key back. When and whether a request waits is decided by src/revocation/follow.ts.
 *
 * Logs: `revocation_feed_unreachable` (warn, once per outage: no window for UNREACHABLE_AFTER_MS, key
 * cache TTL shortened), `revocation_feed_recovered` (info), `revocation_feed_read_failed` (warn, at most
 * once a minute while reads fail).
 */
// biome-ignore lint/correctness/noUnusedImports: bound by the __SPOT_DEBUG_COUNTERS__ define in bench/test builds (src/debug/counters.ts)
import { spotDebugCounters } from "../debug/counters";
import { clearKeyCache, evictCachedKey } from "../keys/store";
import { errorMessage, log } from "../log";
import { applyFeedWindow, emptyFeedView, type FeedView, type FeedWindow, FeedWindowSchema, feedRefusal } from "./feed";
import { FEED_OBJECT_NAME } from "./feed-do";
import {
  FEED_CACHE_MAX_AGE_SECONDS,
  FEED_READ_TIMEOUT_MS,
  FEED_WAIT_MS,
  type FollowState,
  feedUnreachable,
  followDecision,
  keyCacheTtlMs,
  UNREACHABLE_AFTER_MS,
} from "./follow";

/** Path (under the request's host) of the cache entry holding the feed window; never routed, only a cache key. */
export const FEED_CACHE_PATH = "/__spot/revocation-feed/v1/window";

/** The bindings a read needs. */
export interface FeedBindings {
  REVOCATION_FEED: DurableObjectNamespace<import("./feed-do").RevocationFeed>;
}

const view: FeedView = emptyFeedView();
const state: FollowState = { viewGeneratedAtMs: null, lastAttemptMs: null, lastReadFailed: false, reading: false };
let running: Promise<void> | null = null;
let unreachableLogged = false;
let lastFailureLogMs = Number.NEGATIVE_INFINITY;

/**
 * Called once per API request before the key is checked. Usually does nothing; starts a background
 * read when the view is due (handing it to `ctx.waitUntil`), and returns a promise to await before
 * accepting a key only when the view is too old to vouch for the bound (a new or idle isolate).
 * @param requestUrl the request's URL (its origin names the cache entry)
 * @param nowMs current time, epoch milliseconds
 * @returns null, or a promise that settles (never rejects) within FEED_WAIT_MS
 */
export function followRevocationFeed(
  env: FeedBindings,
  ctx: Pick<ExecutionContext, "waitUntil">,
  requestUrl: string,
  nowMs: number,
): Promise<void> | null {
  const decision = followDecision(state, nowMs);
  if (decision.refresh) {
    running = readFeed(env, new URL(requestUrl).origin, nowMs);
    ctx.waitUntil(running);
  }
  if (!decision.wait || running === null) return null;
  if (typeof __SPOT_DEBUG_COUNTERS__ !== "undefined") __SPOT_DEBUG_COUNTERS__.feedWait();
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([running, new Promise<void>((resolve) => (timer = setTimeout(resolve, FEED_WAIT_MS)))]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

/**
 * Why the feed refuses this key now (on top of what its KV record says), or null.
 * @param nowMs current time, epoch milliseconds
 */
export function revocationFeedRefusal(secretHash: string, accountId: string, nowMs: number): ReturnType<typeof feedRefusal> {
  return feedRefusal(view, secretHash, accountId, nowMs);
}

/**
 * Whether the feed says the account was resumed (its newest entry within the retention), so a
 * suspended KV record still propagating must not refuse its keys.
 */
export function accountResumedInFeed(accountId: string): boolean {
  return view.accounts.get(accountId)?.suspended === false;
}

/**
 * The key cache TTL to use now (milliseconds): `configuredMs`, shortened while the feed is unreachable.
 * When that starts, the isolate's key cache is emptied (records cached with the longer TTL are read
 * again) and `revocation_feed_unreachable` is logged, once per outage.
 */
export function currentKeyCacheTtlMs(configuredMs: number, nowMs: number): number {
  const ttl = keyCacheTtlMs(state, configuredMs, nowMs);
  if (ttl !== configuredMs && !unreachableLogged) {
    unreachableLogged = true;
    clearKeyCache();
    log("warn", "revocation_feed_unreachable", {
      last_window_age_ms: state.viewGeneratedAtMs === null ? null : nowMs - state.viewGeneratedAtMs,
      unreachable_after_ms: UNREACHABLE_AFTER_MS,
      key_cache_ttl_ms: ttl,
    });
  }
  return ttl;
}

/** One read: the location's cache, else the feed object (then cached). Never rejects. */
async function readFeed(env: FeedBindings, origin: string, startedMs: number): Promise<void> {
  state.reading = true;
  state.lastAttemptMs = startedMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const window = await Promise.race([
      fetchWindow(env, origin),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no window within ${FEED_READ_TIMEOUT_MS} ms`)), FEED_READ_TIMEOUT_MS);
      }),
    ]);
    const nowMs = Date.now();
    // Only a window at least as new as the one applied counts (the location cache may hold an older one than this isolate read from the object).
    if (state.viewGeneratedAtMs === null || window.generated_at_ms >= state.viewGeneratedAtMs) {
      const changed = applyFeedWindow(view, window, nowMs);
      for (const hash of changed.keys) evictCachedKey(hash);
      state.viewGeneratedAtMs = window.generated_at_ms;
    }
    state.lastReadFailed = false;
    if (unreachableLogged) {
      unreachableLogged = false;
      log("info", "revocation_feed_recovered", { seq: view.seq });
    }
  } catch (err) {
    state.lastReadFailed = true;
    const nowMs = Date.now();
    if (nowMs - lastFailureLogMs >= 60_000) {
      lastFailureLogMs = nowMs;
      log("warn", "revocation_feed_read_failed", { error: errorMessage(err), unreachable: feedUnreachable(state, nowMs) });
    }
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    state.reading = false;
    running = null;
  }
}

async function fetchWindow(env: FeedBindings, origin: string): Promise<FeedWindow> {
  const cacheKey = new Request(`${origin}${FEED_CACHE_PATH}`);
  const cache = cachesDefault();
  const cached = cache === null ? undefined : await cache.match(cacheKey).catch(() => undefined);
  if (cached !== undefined) return FeedWindowSchema.parse(await cached.json());
  if (typeof __SPOT_DEBUG_COUNTERS__ !== "undefined") __SPOT_DEBUG_COUNTERS__.feedRead();
  const stub = env.REVOCATION_FEED.get(env.REVOCATION_FEED.idFromName(FEED_OBJECT_NAME));
  const window = FeedWindowSchema.parse(await stub.window());
  if (cache !== null) {
    const body = JSON.stringify(window);
    const headers = { "Content-Type": "application/json", "Cache-Control": `max-age=${FEED_CACHE_MAX_AGE_SECONDS}` };
    // A failed put only means the next isolate of the location asks the object too.
    await cache.put(cacheKey, new Response(body, { headers })).catch(() => undefined);
  }
  return window;
}

/** The location's default cache, or null where the runtime has none (plain workerd without a cache service). */
function cachesDefault(): Cache | null {
  try {
    return typeof caches === "undefined" ? null : caches.default;
  } catch {
    return null;
  }
}

/** Forgets the view and the follow state (tests only). */
export function resetRevocationFeedFollower(): void {
  const fresh = emptyFeedView();
  view.seq = fresh.seq;
  view.keys.clear();
  view.accounts.clear();
  Object.assign(state, { viewGeneratedAtMs: null, lastAttemptMs: null, lastReadFailed: false, reading: false });
  running = null;
  unreachableLogged = false;
  lastFailureLogMs = Number.NEGATIVE_INFINITY;
}
