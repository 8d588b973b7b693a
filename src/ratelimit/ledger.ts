/**
 * Per-isolate memory of rate-limit windows: how many events a key had in the current window and
 * until when it is blocked. It only saves work: the Workers rate-limiting binding stays the
 * authority across isolates (src/ratelimit/binding.ts); this ledger lets an isolate refuse a key it
 * already knows to be over its limit without calling the binding, reading KV or hashing anything.
 *
 * Windows are fixed and aligned to the clock: [k·period, (k+1)·period) in epoch milliseconds, the
 * way Miniflare's local rate limiter counts. Bounded: at most `maxEntries` keys, least recently
 * touched dropped first. Pure apart from the time passed in.
 */

/** End of the window that contains `nowMs`, epoch milliseconds. */
export function windowEndMs(nowMs: number, periodMs: number): number {
  return (Math.floor(nowMs / periodMs) + 1) * periodMs;
}

/** Whole seconds from `nowMs` until `untilMs`, at least 1 (a `Retry-After` / `t=` value). */
export function secondsUntil(untilMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil((untilMs - nowMs) / 1000));
}

interface Entry {
  windowStartMs: number;
  count: number;
  blockedUntilMs: number;
}

export class WindowLedger {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  /** The latest block end ever set (epoch ms): past it, no key is blocked. */
  #latestBlockEndMs = 0;

  /** @param maxEntries keys kept at most; the least recently touched is dropped past it */
  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  /**
   * True when some key may be blocked at `nowMs` (epoch ms); false means none is, so a caller can
   * skip working out its key (src/request-path/failed-auth.ts).
   */
  anyBlocked(nowMs: number): boolean {
    return this.#latestBlockEndMs > nowMs;
  }

  /** @returns epoch ms until which `key` is blocked, or 0 when it is not blocked at `nowMs` */
  blockedUntil(key: string, nowMs: number): number {
    const entry = this.#entries.get(key);
    return entry && entry.blockedUntilMs > nowMs ? entry.blockedUntilMs : 0;
  }

  /**
   * Counts one event for `key` in the window of `periodMs` milliseconds that contains `nowMs`.
   * @returns the count in that window, this event included
   */
  count(key: string, periodMs: number, nowMs: number): number {
    const windowStartMs = windowEndMs(nowMs, periodMs) - periodMs;
    const entry = this.#touch(key);
    if (entry.windowStartMs !== windowStartMs) {
      entry.windowStartMs = windowStartMs;
      entry.count = 0;
    }
    entry.count++;
    return entry.count;
  }

  /** Blocks `key` until `untilMs` (epoch ms); a later block is never shortened. */
  block(key: string, untilMs: number): void {
    const entry = this.#touch(key);
    entry.blockedUntilMs = Math.max(entry.blockedUntilMs, untilMs);
    this.#latestBlockEndMs = Math.max(this.#latestBlockEndMs, untilMs);
  }

  clear(): void {
    this.#entries.clear();
    this.#latestBlockEndMs = 0;
  }

  get size(): number {
    return this.#entries.size;
  }

  #touch(key: string): Entry {
    let entry = this.#entries.get(key);
    if (entry) {
      this.#entries.delete(key);
    } else {
      entry = { windowStartMs: 0, count: 0, blockedUntilMs: 0 };
    }
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return entry;
  }
}
