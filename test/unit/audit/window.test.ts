import { describe, expect, it } from "vitest";
import {
  BYTES_PER_MB,
  D1_MAX_DATABASE_BYTES,
  DEFAULT_DB_MAX_MB,
  dbMaxBytes,
  freedPerRow,
  rowsToTrim,
  sustainedRate,
  windowDays,
} from "../../../src/audit/window";

describe("AUDIT_DB_MAX_MB", () => {
  it.each([
    [undefined, DEFAULT_DB_MAX_MB],
    ["", DEFAULT_DB_MAX_MB],
    [" ", DEFAULT_DB_MAX_MB],
    ["abc", DEFAULT_DB_MAX_MB],
    ["0", DEFAULT_DB_MAX_MB],
    ["-5", DEFAULT_DB_MAX_MB],
    ["1.5", DEFAULT_DB_MAX_MB],
    ["10001", DEFAULT_DB_MAX_MB],
    ["1e3", 1000],
    ["1", 1],
    ["500", 500],
    ["10000", 10_000],
  ])("%j → %i MB", (setting, mb) => {
    expect(dbMaxBytes(setting)).toBe(mb * BYTES_PER_MB);
  });

  it("the default leaves 2 GB below D1's 10 GB", () => {
    expect(D1_MAX_DATABASE_BYTES - dbMaxBytes(undefined)).toBe(2_000_000_000);
  });
});

describe("rowsToTrim", () => {
  it.each([
    // size, bound, bytes per row, rows left → rows
    [1000, 1000, 10, 500, 0],
    [999, 1000, 10, 500, 0],
    [1001, 1000, 10, 500, 1],
    [2000, 1000, 10, 500, 100],
    [2000, 1000, 3, 500, 334],
    [2000, 1000, 1, 500, 500],
    [2000, 1000, 10, 0, 0],
    [2000, 1000, 0, 500, 0],
    [2000, 1000, Number.NaN, 500, 0],
    [Number.NaN, 1000, 10, 500, 0],
    [2000, 1000, Number.POSITIVE_INFINITY, 500, 0],
  ])("size %d, bound %d, %d bytes per row, %d rows left → %d", (size, bound, perRow, left, rows) => {
    expect(rowsToTrim(size, bound, perRow, left)).toBe(rows);
  });
});

describe("freedPerRow", () => {
  it("is what a round freed per deleted row", () => {
    expect(freedPerRow(10_000, 6_000, 8)).toBe(500);
  });
  it.each([
    [10_000, 10_000, 8],
    [10_000, 12_000, 8],
    [10_000, 6_000, 0],
  ])("is null when nothing visible was freed (%d → %d, %d rows)", (before, after, rows) => {
    expect(freedPerRow(before, after, rows)).toBeNull();
  });
});

describe("window arithmetic", () => {
  it("days held and sustained rate are inverse", () => {
    const bytes = 8_000_000_000;
    expect(windowDays(bytes, 800, 10)).toBeCloseTo(bytes / 800 / 10 / 86_400, 9);
    expect(sustainedRate(bytes, 800, windowDays(bytes, 800, 10))).toBeCloseTo(10, 9);
  });
  it("10 GB at 660 bytes per event: 1.9 requests/s for 90 days, 25 for 7", () => {
    expect(sustainedRate(10_000_000_000, 660, 90)).toBeCloseTo(1.95, 2);
    expect(sustainedRate(10_000_000_000, 660, 7)).toBeCloseTo(25.05, 1);
  });
});
