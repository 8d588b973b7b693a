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
  afterEach(() => vi.useRealTimers());

  it("delivers everything added within maxDelayMs as one batch", async () => {
    const batcher = new Batcher(deliver, { maxEvents: 100, maxBytes: 10_000, maxDelayMs: 50 });
    const done = [batcher.add("a", 10), batcher.add("b", 10), batcher.add("c", 10)];
    await vi.advanceTimersByTimeAsync(49);
    expect(delivered).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await Promise.all(done);
    expect(delivered).toEqual([["a", "b", "c"]]);
    expect(batcher.pending).toBe(0);
  });

  it("flushes at once when maxEvents is reached", async () => {
    const batcher = new Batcher(deliver, { maxEvents: 2, maxBytes: 10_000, maxDelayMs: 50 });
    const first = [batcher.add("a", 1), batcher.add("b", 1)];
    await Promise.all(first);
    expect(delivered).toEqual([["a", "b"]]);
    const third = batcher.add("c", 1);
    await vi.advanceTimersByTimeAsync(50);
    await third;
    expect(delivered).toEqual([["a", "b"], ["c"]]);
  });

  it("starts a new batch when the next item would pass maxBytes", async () => {
    const batcher = new Batcher(deliver, { maxEvents: 100, maxBytes: 100, maxDelayMs: 50 });
    const a = batcher.add("a", 60);
    const b = batcher.add("b", 60);
    await a;
    expect(delivered).toEqual([["a"]]);
    await vi.advanceTimersByTimeAsync(50);
    await b;
    expect(delivered).toEqual([["a"], ["b"]]);
  });

  it("each add resolves with the flush that carries its item, not before", async () => {
    const batcher = new Batcher(deliver, { maxEvents: 100, maxBytes: 10_000, maxDelayMs: 50 });
    let settled = false;
    const p = batcher.add("a", 1).then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(10);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(40);
    await p;
    expect(settled).toBe(true);
  });

  it("resolves even when delivery rejects (the deliverer logs)", async () => {
    const batcher = new Batcher(async () => Promise.reject(new Error("down")), { maxEvents: 1, maxBytes: 10_000, maxDelayMs: 50 });
    await expect(batcher.add("a", 1)).resolves.toBeUndefined();
  });
});
