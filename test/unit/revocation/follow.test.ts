import { describe, expect, it } from "vitest";
import {
  FEED_WAIT_MS,
  type FollowState,
  feedUnreachable,
  followDecision,
  KEY_CACHE_TTL_UNREACHABLE_MS,
  keyCacheTtlMs,
  MAX_VIEW_AGE_MS,
  REFRESH_AFTER_MS,
  UNREACHABLE_AFTER_MS,
} from "../../../src/revocation/follow";

const T = 1_800_000_000_000;

function state(overrides: Partial<FollowState> = {}): FollowState {
  return { viewGeneratedAtMs: T, lastAttemptMs: T, lastReadFailed: false, reading: false, ...overrides };
}

describe("followDecision", () => {
  it("does nothing while the view is younger than REFRESH_AFTER_MS", () => {
    expect(followDecision(state(), T + REFRESH_AFTER_MS - 1)).toEqual({ refresh: false, wait: false });
  });

  it("starts a background read once the view is REFRESH_AFTER_MS old, without making the request wait", () => {
    expect(followDecision(state(), T + REFRESH_AFTER_MS)).toEqual({ refresh: true, wait: false });
  });

  it("starts no second read while one is running", () => {
    expect(followDecision(state({ reading: true }), T + REFRESH_AFTER_MS + 100)).toEqual({ refresh: false, wait: false });
  });

  it("a new isolate (no view yet) reads and waits", () => {
    expect(followDecision(state({ viewGeneratedAtMs: null, lastAttemptMs: null }), T)).toEqual({ refresh: true, wait: true });
  });

  it("a concurrent request of a new isolate waits for the read already running", () => {
    expect(followDecision(state({ viewGeneratedAtMs: null, lastAttemptMs: T, reading: true }), T + 5)).toEqual({
      refresh: false,
      wait: true,
    });
  });

  it("an idle isolate whose view is older than MAX_VIEW_AGE_MS reads and waits", () => {
    expect(followDecision(state(), T + MAX_VIEW_AGE_MS + 1)).toEqual({ refresh: true, wait: true });
    expect(followDecision(state(), T + MAX_VIEW_AGE_MS)).toEqual({ refresh: true, wait: false });
  });

  it("while the last read failed, nobody waits, and reads are retried every REFRESH_AFTER_MS", () => {
    const failing = state({ viewGeneratedAtMs: T, lastAttemptMs: T + 60_000, lastReadFailed: true });
    expect(followDecision(failing, T + 60_000 + REFRESH_AFTER_MS - 1)).toEqual({ refresh: false, wait: false });
    expect(followDecision(failing, T + 60_000 + REFRESH_AFTER_MS)).toEqual({ refresh: true, wait: false });
  });

  it("the wait is bounded and below the stated 5 s together with the view age", () => {
    expect(MAX_VIEW_AGE_MS + FEED_WAIT_MS).toBeLessThanOrEqual(5_000);
  });
});

describe("feedUnreachable and keyCacheTtlMs", () => {
  it("a failed read alone is not an outage; a view older than UNREACHABLE_AFTER_MS after a failure is", () => {
    const failing = state({ lastReadFailed: true });
    expect(feedUnreachable(failing, T + UNREACHABLE_AFTER_MS)).toBe(false);
    expect(feedUnreachable(failing, T + UNREACHABLE_AFTER_MS + 1)).toBe(true);
    expect(feedUnreachable(state(), T + 10 * UNREACHABLE_AFTER_MS)).toBe(false);
    expect(feedUnreachable(state({ viewGeneratedAtMs: null, lastReadFailed: true }), T)).toBe(true);
  });

  it("shortens the key cache TTL while the feed is unreachable, never lengthens it", () => {
    const failing = state({ lastReadFailed: true });
    expect(keyCacheTtlMs(failing, 30_000, T + 1_000)).toBe(30_000);
    expect(keyCacheTtlMs(failing, 30_000, T + UNREACHABLE_AFTER_MS + 1)).toBe(KEY_CACHE_TTL_UNREACHABLE_MS);
    expect(keyCacheTtlMs(failing, 1_000, T + UNREACHABLE_AFTER_MS + 1)).toBe(1_000);
  });
});
