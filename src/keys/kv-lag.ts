/**
 * Simulated Workers KV lag, for drills only (`npm start -- --simulate-kv-lag SECONDS`,
 * `npm run drill:revocation`): every KV read of a key record returns, for `__SPOT_KV_LAG_MS__`
 * milliseconds after this isolate first read it, the value it read then, as a distant location's KV
 * does while a write propagates (about 60 s). The isolate cache in front of KV may be emptied (the
 * revocation feed evicts entries); this stale view may not, which is what the drill needs to show that
 * the feed, not KV, refuses the key.
 *
 * Compiled in only where the build defines `__SPOT_KV_LAG_MS__` (`wrangler dev --define
 * __SPOT_KV_LAG_MS__:<ms>`); a deployed bundle has no such global, so src/keys/store.ts never calls this.
 */

const firstReads = new Map<string, { value: string | null; atMs: number }>();

/**
 * @param key     the KV key read
 * @param fresh   what KV returned now
 * @param lagMs   milliseconds a first read stays the answer
 * @param nowMs   current time, epoch milliseconds
 * @returns the value first read within the last `lagMs`, else `fresh` (which then starts a new period)
 */
export function laggedKvValue(key: string, fresh: string | null, lagMs: number, nowMs: number): string | null {
  const first = firstReads.get(key);
  if (first !== undefined && nowMs - first.atMs < lagMs) return first.value;
  firstReads.set(key, { value: fresh, atMs: nowMs });
  return fresh;
}

declare global {
  /** Milliseconds of simulated KV lag in a drill's dev build (a build-time define); undeclared everywhere else. */
  const __SPOT_KV_LAG_MS__: number | undefined;
}
