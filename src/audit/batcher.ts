/**
 * Coalesces the audit events of concurrent requests in one isolate into one queue message
 * (DESIGN §8, docs/audit.md "Coalescing"). A Queues message costs about three billed operations and
 * a queue takes about 5,000 messages/s, so one message per request would cost more than the Worker
 * request itself and cap the API's throughput; one message per batch does neither.
 *
 * A batch is flushed when it reaches `maxEvents`, when the next event would take it past `maxBytes`
 * (serialised JSON, kept well below the 128 KB Queues message limit), or `maxDelayMs` after its first
 * event. `add` returns the promise of the flush that carries the event; the request hands it to
 * `ctx.waitUntil`, which keeps the isolate alive until that flush is done.
 */

/** Bounds of one batch. */
export interface BatchLimits {
  /** Events per message at most. */
  maxEvents: number;
  /** UTF-8 bytes of the serialised events per message at most. */
  maxBytes: number;
  /** Milliseconds a batch waits for more events after its first one. */
  maxDelayMs: number;
}

/** Folds an item into a pending one with the same key instead of adding it (flood folding). */
export interface Fold<T> {
  key: string;
  /** Combines the pending item with the new one; the result replaces the pending item. */
  merge(pending: T, next: T): T;
}

/** Delivers one batch; must never reject (failures are logged by the deliverer). */
export type Deliver<T> = (items: T[]) => Promise<void>;

/**
 * An isolate-level batch of items waiting for one delivery.
 * @typeParam T the item type (an audit event)
 */
export class Batcher<T> {
  readonly #deliver: Deliver<T>;
  readonly #limits: BatchLimits;
  #items: T[] = [];
  #sizes: number[] = [];
  #folds = new Map<string, number>();
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #done: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(deliver: Deliver<T>, limits: BatchLimits) {
    this.#deliver = deliver;
    this.#limits = limits;
  }

  /**
   * Adds an item of `bytes` serialised bytes; with `fold`, merges it into the pending item of the
   * same key when there is one (it then counts no further against `maxEvents`).
   * @returns the promise of the flush that carries it; resolves once delivered (or logged as failed), never rejects
   */
  add(item: T, bytes: number, fold?: Fold<T>): Promise<void> {
    const folded = fold === undefined ? undefined : this.#folds.get(fold.key);
    if (fold !== undefined && folded !== undefined) {
      const merged = fold.merge(this.#items[folded] as T, item);
      this.#bytes += bytes - (this.#sizes[folded] ?? 0);
      this.#items[folded] = merged;
      this.#sizes[folded] = bytes;
      this.#done ??= deferred();
      return this.#done.promise;
    }
    if (this.#items.length > 0 && this.#bytes + bytes > this.#limits.maxBytes) this.flush();
    if (fold !== undefined) this.#folds.set(fold.key, this.#items.length);
    this.#items.push(item);
    this.#sizes.push(bytes);
    this.#bytes += bytes;
    this.#done ??= deferred();
    const done = this.#done.promise;
    if (this.#items.length >= this.#limits.maxEvents || this.#bytes >= this.#limits.maxBytes) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#limits.maxDelayMs);
    return done;
  }

  /** Delivers what is pending now. */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const items = this.#items;
    const done = this.#done;
    this.#items = [];
    this.#sizes = [];
    this.#folds = new Map();
    this.#bytes = 0;
    this.#done = undefined;
    if (items.length === 0 || done === undefined) return;
    const settle = () => done.resolve();
    this.#deliver(items).then(settle, settle);
  }

  /** Items waiting for the next flush. */
  get pending(): number {
    return this.#items.length;
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
