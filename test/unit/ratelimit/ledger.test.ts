import { describe, expect, it } from "vitest";
import { WindowLedger } from "../../../src/ratelimit/ledger";

describe("WindowLedger", () => {
  it("counts per key within the window that contains now, and starts again in the next", () => {
    const ledger = new WindowLedger(10);
    expect(ledger.count("a", 60_000, 1_000)).toBe(1);
    expect(ledger.count("a", 60_000, 59_999)).toBe(2);
    expect(ledger.count("b", 60_000, 59_999)).toBe(1);
    expect(ledger.count("a", 60_000, 60_000)).toBe(1);
  });

  it("anyBlocked is false until a block, true while one lasts, false after it ends or a clear", () => {
    const ledger = new WindowLedger(10);
    ledger.count("a", 60_000, 1_000);
    expect(ledger.anyBlocked(1_000)).toBe(false);
    ledger.block("a", 60_000);
    expect(ledger.anyBlocked(59_999)).toBe(true);
    expect(ledger.blockedUntil("a", 59_999)).toBe(60_000);
    expect(ledger.blockedUntil("b", 59_999)).toBe(0);
    expect(ledger.anyBlocked(60_000)).toBe(false);
    expect(ledger.blockedUntil("a", 60_000)).toBe(0);
    ledger.block("b", 120_000);
    ledger.clear();
    expect(ledger.anyBlocked(60_000)).toBe(false);
    expect(ledger.blockedUntil("b", 60_000)).toBe(0);
  });

  it("a later block is never shortened, and the oldest key goes first past the bound", () => {
    const ledger = new WindowLedger(2);
    ledger.block("a", 90_000);
    ledger.block("a", 30_000);
    expect(ledger.blockedUntil("a", 50_000)).toBe(90_000);
    ledger.block("b", 90_000);
    ledger.block("c", 90_000);
    expect(ledger.size).toBe(2);
    expect(ledger.blockedUntil("a", 50_000)).toBe(0);
    expect(ledger.blockedUntil("c", 50_000)).toBe(90_000);
  });
});
