/**
 * Coalesces the audit events of concurrent requests in one isolate into one queue message
 * (DESIGN §8, docs/audit.md "Coalescing"). A Queues message costs about three billed operations and
 * a queue takes about 5,000 messages/s, so one message per request would cost more than the Worker
 * request itself and cap the API's throughput; one message per batch does neither.
 *
 * A batch is flushed when it reaches `maxEvents`, when the next event would take it past `maxBytes`
 * (serialised JSON, kept well below the 128 KB Queues message limit), or `maxDelayMs` after its first
 * event. The request that opens a batch (its delay timer runs in that request's context) and a request
 * whose add starts a delivery (the send runs in its context) hand the flush to `ctx.waitUntil`, which
 * keeps their request context, and so the timer and the send, alive until the flush is done; every
 * other event travels in a batch one of those keeps alive. One `waitUntil` per batch instead of one
 * per request: a promise resolved from another request's context costs the runtime a cross-context
 * hand-off for every request that waits on it (docs/benchmark.md).
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

/** What {@link Batcher.add} gives back. */
export interface Added {
  /** Resolves once the batch carrying the item is delivered (or its failure logged); never rejects. */
  delivered: Promise<void>;
  /**
   * The promise the caller must keep its request alive on (`ctx.waitUntil`), or undefined when another
   * caller already does so for the batch carrying this item. Set for the caller that opened the
   * batch (its delay timer runs in that caller's request context, which must outlive it) and for a
   * caller whose add started a delivery (the send runs in its context); every other caller's item
   * travels in a batch one of those keeps alive.
   */
  keepAlive: Promise<void> | undefined;
}

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
  /** Counts batches; a delay timer flushes only the batch it was set for. */
  #generation = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Epoch ms when the pending batch got its first item. */
  #openedAtMs = 0;
  #done: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(deliver: Deliver<T>, limits: BatchLimits) {
    this.#deliver = deliver;
    this.#limits = limits;
  }

  /**
   * Adds an item of `bytes` serialised bytes; with `fold`, merges it into the pending item of the
   * same key when there is one and the merged batch stays within `maxBytes` (it then counts no
   * further against `maxEvents`). A pending batch older than `maxDelayMs` is sent first, from this call.
   * @returns the delivery promise of the batch carrying the item, and what the caller must keep alive
   */
  add(item: T, bytes: number, fold?: Fold<T>): Added {
    // A batch older than maxDelayMs is overdue: its timer did not fire, so the request context that
    // set it has ended (the runtime cancels the timers of a finished context). It goes now, from here.
    let started = this.#done !== undefined && Date.now() - this.#openedAtMs > this.#limits.maxDelayMs ? this.#flushNow() : undefined;
    const folded = fold === undefined ? undefined : this.#folds.get(fold.key);
    if (fold !== undefined && folded !== undefined && this.#done !== undefined) {
      const grown = this.#bytes + bytes - (this.#sizes[folded] ?? 0);
      if (grown <= this.#limits.maxBytes) {
        this.#items[folded] = fold.merge(this.#items[folded] as T, item);
        this.#sizes[folded] = bytes;
        this.#bytes = grown;
        return { delivered: this.#done.promise, keepAlive: started };
      }
      // Merged, the batch would pass maxBytes: it goes as it is (with the pending item and its
      // count), and this item opens the next batch below.
    }
    // The item would take the pending batch past maxBytes: that batch goes now, from this caller.
    if (this.#items.length > 0 && this.#bytes + bytes > this.#limits.maxBytes) started = both(started, this.#flushNow());
    const opened = this.#done === undefined;
    if (opened) this.#openedAtMs = Date.now();
    this.#done ??= deferred();
    const delivered = this.#done.promise;
    if (fold !== undefined) this.#folds.set(fold.key, this.#items.length);
    this.#items.push(item);
    this.#sizes.push(bytes);
    this.#bytes += bytes;
    let keepAlive: Promise<void> | undefined;
    if (this.#items.length >= this.#limits.maxEvents || this.#bytes >= this.#limits.maxBytes) {
      this.flush();
      keepAlive = delivered;
    } else if (opened) {
      const generation = this.#generation;
      this.#timer = setTimeout(() => {
        if (this.#generation === generation) this.flush();
      }, this.#limits.maxDelayMs);
      keepAlive = delivered;
    }
    return { delivered, keepAlive: both(started, keepAlive) };
  }

  /** Delivers what is pending now. */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#generation++;
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

  /** Flushes the pending batch; its delivery promise. */
  #flushNow(): Promise<void> {
    const done = this.#done?.promise ?? Promise.resolve();
    this.flush();
    return done;
  }
}

function noop(): void {}

/** One promise for two (either may be absent). */
function both(a: Promise<void> | undefined, b: Promise<void> | undefined): Promise<void> | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Promise.all([a, b]).then(noop);
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
