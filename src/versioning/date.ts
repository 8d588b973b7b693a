/**
 * Calendar dates as the API spells its versions: strict `YYYY-MM-DD` (ISO 8601 / RFC 3339
 * `full-date`), validated arithmetically.
 *
 * `new Date(str)` and `Date.parse` are never used to validate: they accept other shapes
 * (`2024-11-15T00:00:00Z`, `+002024-11-15`) and, in some engines, roll `2024-02-30` into March.
 */

/** Strict `YYYY-MM-DD` shape: exactly 4 + 2 + 2 ASCII digits separated by hyphens. */
const DATE_SHAPE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The Y/M/D numbers of a calendar date (month 1..12, day 1..31). */
export interface CalendarDateParts {
  year: number;
  month: number;
  day: number;
}

/**
 * Whether `year` is a leap year of the (proleptic) Gregorian calendar: divisible by 4, except
 * centuries, except centuries divisible by 400 (so 2000 is, 1900 is not).
 */
export function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** Number of days in `month` (1..12) of `year` in the Gregorian calendar; 0 for a month outside 1..12. */
export function daysInMonth(year: number, month: number): number {
  switch (month) {
    case 1:
    case 3:
    case 5:
    case 7:
    case 8:
    case 10:
    case 12:
      return 31;
    case 4:
    case 6:
    case 9:
    case 11:
      return 30;
    case 2:
      return isLeapYear(year) ? 29 : 28;
    default:
      return 0;
  }
}

/**
 * Splits a strict `YYYY-MM-DD` string into its numbers, or returns `null` when the value is not
 * a real Gregorian date of years 0001..9999 (year 0000 does not exist in the Gregorian calendar).
 *
 * @param value any value; non-strings give `null`, never an exception
 */
export function parseCalendarDate(value: unknown): CalendarDateParts | null {
  if (typeof value !== "string" || value.length !== 10) return null;
  const match = DATE_SHAPE.exec(value);
  if (match === null) return null;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (year < 1 || month < 1 || month > 12 || day < 1) return null;
  if (day > daysInMonth(year, month)) return null;
  return { year, month, day };
}

/**
 * True only for a strict `YYYY-MM-DD` (4 + 2 + 2 ASCII digits with hyphens, nothing around it)
 * naming a real Gregorian calendar date, leap years included: `2024-02-29` and `2000-02-29` are
 * dates, `2023-02-29`, `1900-02-29`, `2024-04-31`, `2024-00-10`, `2024-13-01`, `2024-01-00` and
 * `0000-01-01` are not. Never throws.
 */
export function isCalendarDate(value: string): boolean {
  return parseCalendarDate(value) !== null;
}

/**
 * Milliseconds since the Unix epoch of 00:00:00 UTC on the given date.
 *
 * Built from the numbers (no string parsing); unlike a bare `Date.UTC(y, …)` it is also right for
 * years 0001..0099, which `Date.UTC` would map to 1900..1999.
 */
export function utcMidnightMs(parts: CalendarDateParts): number {
  const ms = Date.UTC(parts.year, parts.month - 1, parts.day);
  if (parts.year >= 100) return ms;
  const d = new Date(ms);
  d.setUTCFullYear(parts.year);
  return d.getTime();
}

/**
 * The UTC calendar date of an instant, as `YYYY-MM-DD`.
 *
 * @param nowMs milliseconds since the Unix epoch (e.g. `Date.now()`)
 * @returns e.g. `"2025-03-01"`
 * @throws RangeError when `nowMs` is not a finite time or falls outside years 0001..9999
 */
export function todayUtc(nowMs: number): string {
  const d = new Date(nowMs);
  const year = d.getUTCFullYear();
  if (!Number.isFinite(year) || year < 1 || year > 9999) {
    throw new RangeError(`todayUtc: ${String(nowMs)} is not an instant in years 0001..9999`);
  }
  return `${pad(year, 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}
