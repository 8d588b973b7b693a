/**
 * A small isolate-level cache in front of KV (DESIGN §7): bounded in entries, each entry with its
 * own expiry. Keyed by the secret's HMAC, never by the secret. Evicts the oldest insertion first.
 */
export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; expiresAtMs: number }>();
  readonly #maxEntries: number;

  /** @param maxEntries upper bound on entries kept; the oldest is dropped past it */
  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  /** @returns `{ value }` while the entry is fresh at `nowMs` (epoch ms), else undefined (and drops it) */
  get(key: string, nowMs: number): { value: V } | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAtMs <= nowMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return { value: entry.value };
  }

  /** Stores `value` until `nowMs + ttlMs` (milliseconds). A ttl of 0 or less stores nothing. */
  set(key: string, value: V, ttlMs: number, nowMs: number): void {
    if (ttlMs <= 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAtMs: nowMs + ttlMs });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
