/**
 * Debug counters for `npm run bench` (bench/): how many KV reads and audit queue sends this isolate
 * made, counted where they happen, so the benchmark reports reads and sends per request instead of
 * inferring them. Exposed as JSON on {@link DEBUG_COUNTERS_PATH}.
 *
 * Only in bench/test builds. Those builds define the build-time constant `__SPOT_DEBUG_COUNTERS__`
 * as the identifier `spotDebugCounters` (`wrangler deploy --dry-run --define
 * __SPOT_DEBUG_COUNTERS__:spotDebugCounters`, or esbuild's `define`), which esbuild binds to the
 * import of that name next to each hook:
 *
 *   if (typeof __SPOT_DEBUG_COUNTERS__ !== "undefined") __SPOT_DEBUG_COUNTERS__.kvRead();
 *
 * A `wrangler deploy` build has no such define: the hook then tests an undeclared global (false),
 * no code uses this module's exports, and esbuild drops the module, the counting and the route from
 * the bundle. (A boolean define would not do: esbuild without minification keeps `if (false) …`
 * bodies, and with them this module.) bench/ checks both builds on every run.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";

/** The reserved path of the counters route (GET), answered before any other middleware. */
export const DEBUG_COUNTERS_PATH = "/__spot/debug/counters";

/** Body of {@link DEBUG_COUNTERS_PATH}: totals since the isolate started. */
export interface DebugCountersSnapshot {
  /** `KEYS.get` calls (isolate cache misses). */
  kv_reads: number;
  /** `AUDIT_QUEUE.send` calls. */
  queue_sends: number;
  /** Revocation feed reads that reached the feed object (location cache misses: src/revocation/follower.ts). */
  feed_reads: number;
  /** Requests that waited for a feed read (a new or idle isolate's view too old to vouch for the bound). */
  feed_waits: number;
}

const totals: DebugCountersSnapshot = { kv_reads: 0, queue_sends: 0, feed_reads: 0, feed_waits: 0 };

/** What `__SPOT_DEBUG_COUNTERS__` stands for in bench/test builds. */
export const spotDebugCounters = {
  kvRead(): void {
    totals.kv_reads++;
  },
  queueSend(): void {
    totals.queue_sends++;
  },
  feedRead(): void {
    totals.feed_reads++;
  },
  feedWait(): void {
    totals.feed_waits++;
  },
  snapshot(): DebugCountersSnapshot {
    return { ...totals };
  },
  /** Registers GET {@link DEBUG_COUNTERS_PATH}; call it before any middleware so reading the counters counts nothing. */
  mount(app: Hono<AppEnv>): void {
    app.get(DEBUG_COUNTERS_PATH, (c) => c.json(spotDebugCounters.snapshot(), 200, { "Cache-Control": "no-store" }));
  },
};

declare global {
  /** `spotDebugCounters` in bench/test builds (a build-time define); undeclared in production builds. */
  const __SPOT_DEBUG_COUNTERS__: typeof spotDebugCounters | undefined;
}
