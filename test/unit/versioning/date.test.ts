import { describe, expect, it } from "vitest";
import { daysInMonth, isCalendarDate, isLeapYear, parseCalendarDate, todayUtc, utcMidnightMs } from "../../../src/versioning/date";

describe("isCalendarDate", () => {
  it.each([
    ["2024-02-29", true], // leap year
    ["2000-02-29", true], // divisible by 400
    ["1900-02-29", false], // century, not divisible by 400
    ["2023-02-29", false],
    ["2023-02-28", true],
    ["2024-02-30", false],
    ["2024-04-30", true],
    ["2024-04-31", false],
    ["2024-06-31", false],
    ["2024-09-31", false],
    ["2024-11-31", false],
    ["2024-01-31", true],
    ["2024-12-31", true],
    ["2024-00-10", false],
    ["2024-13-01", false],
    ["2024-01-00", false],
    ["2024-01-32", false],
    ["0000-01-01", false],
    ["0001-01-01", true],
    ["9999-12-31", true],
    ["2024-11-15", true],
    ["2024-11-15T00:00:00Z", false],
    ["2024-1-5", false],
    ["+002024-11-15", false],
    ["20241115", false],
    ["2024-11- 15", false],
    [" 2024-11-15", false],
    ["2024-11-15 ", false],
    ["2024-11-15\n", false],
    ["2024/11/15", false],
    ["2024-11-1a", false],
    ["２０２４-11-15", false], // full-width digits are not ASCII digits
    ["2024-11-15,2024-06-01", false],
    ["", false],
  ])("%j → %s", (value, expected) => {
    expect(isCalendarDate(value)).toBe(expected);
  });

  it.each([[null], [undefined], [20241115], [{}]])("non-string %j → false, no throw", (value) => {
    expect(isCalendarDate(value as unknown as string)).toBe(false);
  });
});

describe("isLeapYear / daysInMonth", () => {
  it.each([
    [2024, true],
    [2023, false],
    [2000, true],
    [1900, false],
    [2100, false],
    [2400, true],
  ])("isLeapYear(%i) → %s", (year, expected) => {
    expect(isLeapYear(year)).toBe(expected);
  });

  it.each([
    [2024, 2, 29],
    [2023, 2, 28],
    [2024, 4, 30],
    [2024, 12, 31],
    [2024, 0, 0],
    [2024, 13, 0],
  ])("daysInMonth(%i, %i) → %i", (year, month, expected) => {
    expect(daysInMonth(year, month)).toBe(expected);
  });
});

describe("parseCalendarDate / utcMidnightMs", () => {
  it("splits a date into numbers", () => {
    expect(parseCalendarDate("2024-02-29")).toEqual({ year: 2024, month: 2, day: 29 });
    expect(parseCalendarDate("2024-02-30")).toBeNull();
  });

  it.each([
    ["1970-01-01", 0],
    ["2024-06-01", 1717200000000],
    ["2025-12-31", 1767139200000],
    ["0050-03-01", -60584198400000], // not 1950: Date.UTC's two-digit-year quirk is avoided
  ])("%s → %i ms", (date, expected) => {
    const parts = parseCalendarDate(date);
    expect(parts).not.toBeNull();
    expect(utcMidnightMs(parts as NonNullable<typeof parts>)).toBe(expected);
  });
});

describe("todayUtc", () => {
  it.each([
    [0, "1970-01-01"],
    [1717200000000, "2024-06-01"],
    [1717200000000 - 1, "2024-05-31"], // one millisecond before midnight UTC
    [1709164800000, "2024-02-29"],
    [1767225599999, "2025-12-31"],
    [1767225600000, "2026-01-01"],
    [-62135596800000, "0001-01-01"],
  ])("%i → %s", (ms, expected) => {
    expect(todayUtc(ms)).toBe(expected);
  });

  it.each([[Number.NaN], [Number.POSITIVE_INFINITY], [8.64e15], [-62135596800001]])("%d throws RangeError", (ms) => {
    expect(() => todayUtc(ms)).toThrow(RangeError);
  });
});
