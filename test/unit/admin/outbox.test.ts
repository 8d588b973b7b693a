import { describe, expect, it } from "vitest";
import { isPermanentKvWriteError, kvSyncOf, outboxRetryDelayMs } from "../../../src/admin/outbox";

describe("isPermanentKvWriteError", () => {
  it.each([
    // What the KV binding throws for an expiration past 2^31 − 1 s (issue 11).
    ["the binding's out-of-range TypeError", new TypeError("Value out of range. Must be between -2147483648 and 2147483647 (inclusive).")],
    ["a RangeError", new RangeError("Invalid time value")],
    [
      "400: an invalid expiration",
      new Error(
        "KV PUT failed: 400 Invalid expiration of 5. Please specify integer greater than the current number of seconds since the UNIX epoch.",
      ),
    ],
    ["413: value too large", new Error("KV PUT failed: 413 Value length of 26214401 exceeds limit of 26214400.")],
    ["414: key too long", new Error("KV PUT failed: 414 UTF-8 encoded length of 600 exceeds key length limit of 512.")],
  ])("%s → permanent (never retried)", (_name, err) => {
    expect(isPermanentKvWriteError(err)).toBe(true);
  });

  it.each([
    ["429: too many writes", new Error("KV PUT failed: 429 Too Many Requests")],
    ["500", new Error("KV PUT failed: 500 Internal Server Error")],
    ["503", new Error("KV PUT failed: 503 Service Unavailable")],
    ["a lost connection", new Error("Network connection lost.")],
    ["an internal error", new Error("internal error; reference = 0123456789abcdef")],
    ["a status further on in the message", new Error("upstream said KV PUT failed: 400")],
    ["a thrown string", "KV PUT failed: 400"],
    ["undefined", undefined],
  ])("%s → transient (retried with backoff)", (_name, err) => {
    expect(isPermanentKvWriteError(err)).toBe(false);
  });
});

describe("kvSyncOf", () => {
  it.each([
    [undefined, "synced"],
    [{ failed_at: null }, "pending"],
    [{ failed_at: "2026-12-01T00:00:00.000Z" }, "failed"],
  ] as const)("%j → %s", (row, sync) => {
    expect(kvSyncOf(row)).toBe(sync);
  });
});

describe("outboxRetryDelayMs", () => {
  it.each([
    [1, 5_000],
    [2, 10_000],
    [3, 20_000],
    [7, 300_000],
    [1000, 300_000],
  ])("attempt %i → %i ms", (attempts, ms) => {
    expect(outboxRetryDelayMs(attempts)).toBe(ms);
  });
});
