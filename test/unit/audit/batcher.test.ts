import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Batcher } from "../../../src/audit/batcher";

describe("Batcher", () => {
  let delivered: string[][];
  const deliver = async (items: string[]) => {
    delivered.push(items);
  };
  beforeEach(() => {
    delivered = [];
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it("delivers everything added within maxDelayMs as one batch", async () => {
    const batcher = new Batcher(deliver, { maxEvents: 100, maxBytes: 10_000, maxDelayMs: 50 });
    const done = [batcher.add("a", 10).delivered, batcher.add("b", 10).delivered, batcher.add("c", 10).delivered];
    await vi.advanceTimersByTimeAsync(49);
    expect(delivered).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await Promise.all(done);
    expect(delivered).toEqual([["a", "b", "c"]]);
    expect(batcher.pending).toBe(0);
  });

  it("flushes at once when maxEvents is reached", async () => {
    const batcher = new Batcher(deliver, { maxEvents: 2, maxBytes: 10_000, maxDelayMs: 50 });
    const first = [batcher.add("a", 1).delivered, batcher.add("b", 1).delivered];
    await Promise.all(first);
    expect(delivered).toEqual([["a", "b"]]);
    const third = batcher.add("c", 1).delivered;
    await vi.advanceTimersByTimeAsync(50);
    await third;
    expect(delivered).toEqual([["a", "b"], ["c"]]);
  });

  it("starts a new batch when the next item would pass maxBytes", async () => {
    const batcher = new Batcher(deliver, { maxEvents: 100, maxBytes: 100, maxDelayMs: 50 });
    const a = batcher.add("a", 60).delivered;
    const b = batcher.add("b", 60).delivered;
    await a;
    expect(delivered).toEqual([["a"]]);
    await vi.advanceTimersByTimeAsync(50);
    await b;
    expect(delivered).toEqual([["a"], ["b"]]);
  });

  it("each add resolves with the flush that carries its item, not before", async () => {
    const batcher = new Batcher(deliver, { maxEvents: 100, maxBytes: 10_000, maxDelayMs: 50 });
    let settled = false;
    const p = batcher.add("a", 1).delivered.then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(10);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(40);
    await p;
    expect(settled).toBe(true);
  });

  it("only the opener of a batch and a caller that starts a delivery must keep their request alive", async () => {
    const batcher = new Batcher(deliver, { maxEvents: 3, maxBytes: 100, maxDelayMs: 50 });
    const a = batcher.add("a", 10); // opens the batch: its timer
    const b = batcher.add("b", 10); // rides along
    const c = batcher.add("c", 10); // third: the batch is full, delivered from this call
    expect(a.keepAlive).toBeDefined();
    expect(b.keepAlive).toBeUndefined();
    expect(c.keepAlive).toBeDefined();
    expect(b.delivered).toBe(a.delivered);
    await c.keepAlive;
    expect(delivered).toEqual([["a", "b", "c"]]);
    // The opener's hold ends when its timer fires, even though another call sent its batch.
    let openerDone = false;
    void a.keepAlive?.then(() => {
      openerDone = true;
    });
    await vi.advanceTimersByTimeAsync(50);
    expect(openerDone).toBe(true);
    expect(delivered).toEqual([["a", "b", "c"]]);

    const d = batcher.add("d", 60); // opens the next batch
    const e = batcher.add("e", 60); // would pass maxBytes: d's batch goes now, and e opens another
    expect(d.keepAlive).toBeDefined();
    expect(e.keepAlive).toBeDefined();
    expect(e.delivered).not.toBe(d.delivered);
    await d.delivered;
    expect(delivered).toEqual([["a", "b", "c"], ["d"]]);
    await vi.advanceTimersByTimeAsync(50);
    await e.keepAlive;
    expect(delivered).toEqual([["a", "b", "c"], ["d"], ["e"]]);
  });

  it("a folded item never keeps a request alive: it joins a batch another caller keeps", async () => {
    const batcher = new Batcher(deliver, { maxEvents: 10, maxBytes: 1000, maxDelayMs: 50 });
    const merge = (pending: string, next: string) => `${pending}+${next}`;
    const first = batcher.add("x", 1, { key: "k", merge });
    const again = batcher.add("y", 1, { key: "k", merge });
    expect(first.keepAlive).toBeDefined();
    expect(again.keepAlive).toBeUndefined();
    await vi.advanceTimersByTimeAsync(50);
    await again.delivered;
    expect(delivered).toEqual([["x+y"]]);
  });

  it("a delay timer flushes only the batch it was set for", async () => {
    const batcher = new Batcher(deliver, { maxEvents: 2, maxBytes: 1000, maxDelayMs: 50 });
    batcher.add("a", 1);
    await vi.advanceTimersByTimeAsync(30);
    batcher.add("b", 1); // full: delivered now; the first timer still fires later
    const c = batcher.add("c", 1); // a new batch with a timer of its own
    await vi.advanceTimersByTimeAsync(25); // 55 ms after "a": the first timer's time has passed
    expect(batcher.pending).toBe(1);
    await vi.advanceTimersByTimeAsync(25);
    await c.delivered;
    expect(delivered).toEqual([["a", "b"], ["c"]]);
  });

  it("a fold that would take the batch past maxBytes sends the batch as it is and opens the next", async () => {
    const batcher = new Batcher(deliver, { maxEvents: 100, maxBytes: 100, maxDelayMs: 50 });
    const merge = (pending: string, next: string) => `${pending}+${next}`;
    batcher.add("x1", 10, { key: "k", merge });
    batcher.add("other", 10);
    const big = batcher.add("x2", 95, { key: "k", merge }); // merged: 10 + 95 > 100
    expect(big.keepAlive).toBeDefined();
    await vi.advanceTimersByTimeAsync(50);
    await big.delivered;
    expect(delivered).toEqual([["x1", "other"], ["x2"]]);
  });

  it("an overdue batch (its timer's request context ended) is sent by the next add, which keeps it alive", async () => {
    // As when the opener's context ends before its timer fires: the runtime drops that timer.
    vi.spyOn(globalThis, "setTimeout").mockImplementation((() => 0) as unknown as typeof setTimeout);
    const batcher = new Batcher(deliver, { maxEvents: 100, maxBytes: 1000, maxDelayMs: 50 });
    batcher.add("a", 1);
    batcher.add("b", 1);
    vi.setSystemTime(Date.now() + 51);
    const c = batcher.add("c", 1);
    expect(c.keepAlive).toBeDefined();
    await Promise.resolve();
    expect(delivered).toEqual([["a", "b"]]);
    expect(batcher.pending).toBe(1);
  });

  it("resolves even when delivery rejects (the deliverer logs)", async () => {
    const batcher = new Batcher(async () => Promise.reject(new Error("down")), { maxEvents: 1, maxBytes: 10_000, maxDelayMs: 50 });
    await expect(batcher.add("a", 1).delivered).resolves.toBeUndefined();
  });
});
