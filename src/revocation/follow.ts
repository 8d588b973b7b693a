/**
 * How an isolate follows the revocation feed (docs/storage.md "Revocation feed"): when it reads the
 * feed again, when a request must wait for that read, and which key cache TTL it uses while the feed
 * cannot be read. Pure: every decision is a function of the isolate's follow state and the time.
 *
 * The view's age is measured from the instant the feed object made the window it holds
 * (`generated_at_ms`), so a window served from a location's cache counts as old as it is.
 *
 *   age < REFRESH_AFTER_MS       nothing to do (the common case: one comparison per request)
 *   age ≥ REFRESH_AFTER_MS       a background read starts (`waitUntil`), unless one is running or the
 *                                last one started less than REFRESH_AFTER_MS ago
 *   age > MAX_VIEW_AGE_MS        the view is too old to vouch for the bound: the request waits for the
 *                                read (at most FEED_WAIT_MS). Only an isolate that served no request
 *                                for a few seconds (or a new one) gets here; while the last read failed
 *                                nobody waits (the feed is down: fail towards availability, below)
 *   age > UNREACHABLE_AFTER_MS   the feed is unreachable: key records are cached KEY_CACHE_TTL_UNREACHABLE_MS
 *                                at most (fresher KV reads), and the isolate logs it once
 */

/** Milliseconds of view age after which a background read starts: 2 s. */
export const REFRESH_AFTER_MS = 2_000;
/** Milliseconds of view age past which a request waits for the read: 4 s (with the Cache API's 1 s, under the 5 s bound). */
export const MAX_VIEW_AGE_MS = 4_000;
/** Milliseconds a request waits for a read at most; past it, the request goes on with the view it has. */
export const FEED_WAIT_MS = 1_000;
/** Milliseconds one read (Cache API, then the feed object) may take before it counts as failed. */
export const FEED_READ_TIMEOUT_MS = 2_000;
/** Milliseconds of view age after which the feed counts as unreachable: 15 s. */
export const UNREACHABLE_AFTER_MS = 15_000;
/** Key cache TTL (milliseconds) while the feed is unreachable: 5 s instead of KEY_CACHE_TTL_SECONDS. */
export const KEY_CACHE_TTL_UNREACHABLE_MS = 5_000;
/** Seconds a location's Cache API keeps a window (`Cache-Control: max-age`). */
export const FEED_CACHE_MAX_AGE_SECONDS = 1;

/** What an isolate knows about its reads of the feed. */
export interface FollowState {
  /** `generated_at_ms` of the window last applied (epoch ms); null before the first successful read. */
  viewGeneratedAtMs: number | null;
  /** When the last read started (epoch ms); null before the first. */
  lastAttemptMs: number | null;
  /** Whether the last finished read failed (an error, a timeout, or a window that did not validate). */
  lastReadFailed: boolean;
  /** Whether a read is running now. */
  reading: boolean;
}

/** What a request does about the feed. */
export interface FollowDecision {
  /** Start a read now (in the background, or waited for when `wait`). */
  refresh: boolean;
  /** Wait (at most FEED_WAIT_MS) for the running or started read before deciding on the key. */
  wait: boolean;
}

const NOTHING: FollowDecision = Object.freeze({ refresh: false, wait: false });

/**
 * @param nowMs current time, epoch milliseconds
 */
export function followDecision(state: FollowState, nowMs: number): FollowDecision {
  const age = state.viewGeneratedAtMs === null ? Number.POSITIVE_INFINITY : nowMs - state.viewGeneratedAtMs;
  if (age < REFRESH_AFTER_MS) return NOTHING;
  const due = !state.reading && (state.lastAttemptMs === null || nowMs - state.lastAttemptMs >= REFRESH_AFTER_MS);
  const wait = age > MAX_VIEW_AGE_MS && !state.lastReadFailed && (state.reading || due);
  return due || wait ? { refresh: due, wait } : NOTHING;
}

/** Whether the feed counts as unreachable at `nowMs` (no window younger than UNREACHABLE_AFTER_MS, after at least one read failed). */
export function feedUnreachable(state: FollowState, nowMs: number): boolean {
  if (!state.lastReadFailed) return false;
  return state.viewGeneratedAtMs === null || nowMs - state.viewGeneratedAtMs > UNREACHABLE_AFTER_MS;
}

/**
 * The key cache TTL to use now: the configured one, or at most KEY_CACHE_TTL_UNREACHABLE_MS while
 * the feed is unreachable (fail towards fresher records, never towards accepting more).
 * @param configuredMs KEY_CACHE_TTL_SECONDS in milliseconds
 */
export function keyCacheTtlMs(state: FollowState, configuredMs: number, nowMs: number): number {
  return feedUnreachable(state, nowMs) ? Math.min(configuredMs, KEY_CACHE_TTL_UNREACHABLE_MS) : configuredMs;
}
