/**
 * Coalesces the audit events of concurrent requests in one isolate into one queue message
 * (DESIGN §8, docs/audit.md "Coalescing"). A Queues message costs about three billed operations and
 * a queue takes about 5,000 messages/s, so one message per request would cost more than the Worker
 * request itself and cap the API's throughput; one message per batch does neither.
 *
 * A batch is flushed when it reaches `maxEvents`, when the next event would take it past `maxBytes`
 * (serialised JSON, kept well below the 128 KB Queues message limit), or `maxDelayMs` after its first
 * event. The request that opens a batch (its delay timer runs in that request's context) and a request
 * whose add starts a send (the send runs in its context) hand `ctx.waitUntil` a promise of their own
 * context, which keeps the timer and the send alive until they are done; every other event travels
 * in a batch one of those keeps alive. No request waits on a promise another request's context
 * settles: workerd charges a cross-context hand-off for every such waiter (docs/benchmark.md), and
 * refuses it outright once the settling context has ended.
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
  /**
   * Resolves once the batch carrying the item is delivered (or its failure logged); never rejects.
   * Shared by every item of the batch, so a request must not wait on it (its resolution comes from
   * whichever request context sends the batch); hand `keepAlive` to `ctx.waitUntil` instead.
   */
  delivered: Promise<void>;
  /**
   * What the caller must keep its request alive on (`ctx.waitUntil`), or undefined when it has
   * nothing to keep alive. Made only of promises of the caller's own request context: for the
   * caller that opened a batch, its delay timer and the send that timer starts; for a caller whose
   * add started a send (a full batch, one the item would take past `maxBytes`, or an overdue one),
   * that send. Every other caller's item travels in a batch one of those keeps alive.
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
  /** Counts batches; a delay timer sends only the batch it was set for. */
  #generation = 0;
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
    const holds: Promise<void>[] = [];
    // A batch older than maxDelayMs is overdue: its timer did not fire, so the request context that
    // set it has ended (the runtime drops the timers of a finished context). It goes now, from here.
    if (this.#done !== undefined && Date.now() - this.#openedAtMs > this.#limits.maxDelayMs) holds.push(this.#send());
    const folded = fold === undefined ? undefined : this.#folds.get(fold.key);
    if (fold !== undefined && folded !== undefined && this.#done !== undefined) {
      const grown = this.#bytes + bytes - (this.#sizes[folded] ?? 0);
      if (grown <= this.#limits.maxBytes) {
        this.#items[folded] = fold.merge(this.#items[folded] as T, item);
        this.#sizes[folded] = bytes;
        this.#bytes = grown;
        return { delivered: this.#done.promise, keepAlive: all(holds) };
      }
      // Merged, the batch would pass maxBytes: it goes as it is (with the pending item and its
      // count), and this item opens the next batch below.
    }
    // The item would take the pending batch past maxBytes: that batch goes now, from this caller.
    if (this.#items.length > 0 && this.#bytes + bytes > this.#limits.maxBytes) holds.push(this.#send());
    const opened = this.#done === undefined;
    if (opened) this.#openedAtMs = Date.now();
    this.#done ??= deferred();
    const delivered = this.#done.promise;
    if (fold !== undefined) this.#folds.set(fold.key, this.#items.length);
    this.#items.push(item);
    this.#sizes.push(bytes);
    this.#bytes += bytes;
    if (this.#items.length >= this.#limits.maxEvents || this.#bytes >= this.#limits.maxBytes) holds.push(this.#send());
    else if (opened) holds.push(this.#startTimer());
    return { delivered, keepAlive: all(holds) };
  }

  /** Delivers what is pending now (the caller's request context makes the send). */
  flush(): void {
    void this.#send();
  }

  /** Items waiting for the next flush. */
  get pending(): number {
    return this.#items.length;
  }

  /** Takes the pending batch and sends it; the promise of that send (settled, never rejected). */
  #send(): Promise<void> {
    this.#generation++;
    const items = this.#items;
    const done = this.#done;
    this.#items = [];
    this.#sizes = [];
    this.#folds = new Map();
    this.#bytes = 0;
    this.#done = undefined;
    if (items.length === 0 || done === undefined) return Promise.resolve();
    const settle = () => done.resolve();
    return this.#deliver(items).then(settle, settle);
  }

  /**
   * The batch's delay timer, never cleared: when it fires it sends the batch it was set for, unless
   * that batch has gone already (then it does nothing).
   * @returns a promise of the caller's context: settled after the timer fired and its send, if any, settled
   */
  #startTimer(): Promise<void> {
    const generation = this.#generation;
    return new Promise<void>((resolve) => {
      setTimeout(() => {
        if (this.#generation === generation) this.#send().then(resolve);
        else resolve();
      }, this.#limits.maxDelayMs);
    });
  }
}

function noop(): void {}

/** One promise for all of `holds`, or undefined for none. */
function all(holds: Promise<void>[]): Promise<void> | undefined {
  if (holds.length === 0) return undefined;
  if (holds.length === 1) return holds[0];
  return Promise.all(holds).then(noop);
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
