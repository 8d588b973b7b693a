import { describe, expect, it } from "vitest";
import { DeniedFloodGuard } from "../../../src/audit/flood";

describe("DeniedFloodGuard", () => {
  it("lets `limit` events per IP per window through, folds the rest, and starts again next window", () => {
    const guard = new DeniedFloodGuard(3, 1000, 100);
    const at = (ms: number) => guard.shouldFold("203.0.113.1", ms);
    expect([at(0), at(10), at(20), at(30), at(999)]).toEqual([false, false, false, true, true]);
    expect([at(1000), at(1001), at(1002), at(1003)]).toEqual([false, false, false, true]);
  });

  it("counts each IP on its own", () => {
    const guard = new DeniedFloodGuard(1, 1000, 100);
    expect(guard.shouldFold("a", 0)).toBe(false);
    expect(guard.shouldFold("b", 0)).toBe(false);
    expect(guard.shouldFold("a", 1)).toBe(true);
  });

  it("remembers at most maxIps IPs: a forgotten IP starts a new window", () => {
    const guard = new DeniedFloodGuard(1, 1000, 2);
    guard.shouldFold("a", 0);
    guard.shouldFold("b", 0);
    guard.shouldFold("c", 0); // forgets "a"
    expect(guard.shouldFold("a", 1)).toBe(false);
    expect(guard.shouldFold("c", 1)).toBe(true);
  });
});
