/**
 * Per-isolate memo of version resolution (src/versioning/resolve.ts), which is a pure function of
 * the version table, the UTC day and the header: callers send the same few header values all day,
 * so each (table, day, header) is resolved once. Holds at most {@link VERSION_MEMO_MAX_ENTRIES}
 * answers per table (emptied when full, so a flood of made-up versions cannot grow it) and only
 * header values of at most {@link VERSION_MEMO_MAX_HEADER_CHARS} characters (a padded or junk header
 * is resolved every time, so the memo's size stays a few kilobytes); results are frozen because
 * every request with that header shares one.
 */
import { todayUtc } from "./date";
import { resolveVersion, type VersionResolution } from "./resolve";
import type { VersionTable } from "./table";

/** Header values remembered per version table, at most. */
export const VERSION_MEMO_MAX_ENTRIES = 256;
/** Longest header value (UTF-16 code units) remembered; longer ones are resolved each time. */
export const VERSION_MEMO_MAX_HEADER_CHARS = 32;
/** Milliseconds in a UTC day (ECMAScript time has no leap seconds). */
const DAY_MS = 86_400_000;

let day = { startMs: 0, endMs: 0, today: "" };
const memos = new WeakMap<VersionTable, Map<string, VersionResolution>>();

/**
 * `todayUtc(nowMs)`, worked out once per UTC day.
 * @param nowMs epoch milliseconds
 * @returns `YYYY-MM-DD`
 * @throws RangeError as todayUtc does, for an instant outside years 0001..9999
 */
export function todayUtcCached(nowMs: number): string {
  if (!(nowMs >= day.startMs && nowMs < day.endMs)) {
    const today = todayUtc(nowMs);
    const startMs = Math.floor(nowMs / DAY_MS) * DAY_MS;
    day = { startMs, endMs: startMs + DAY_MS, today };
  }
  return day.today;
}

/**
 * Same answer as `resolveVersion(header, table, todayUtc(nowMs))`, frozen and shared.
 * @param header `X-Spot-Api-Version` as received, or null/undefined when absent
 * @param nowMs epoch milliseconds
 */
export function resolveVersionMemo(header: string | null | undefined, table: VersionTable, nowMs: number): VersionResolution {
  const today = todayUtcCached(nowMs);
  if (header !== null && header !== undefined && header.length > VERSION_MEMO_MAX_HEADER_CHARS) {
    return resolveVersion(header, table, today);
  }
  let memo = memos.get(table);
  if (memo === undefined) {
    memo = new Map();
    memos.set(table, memo);
  }
  // A header value never contains a line feed; "\r" stands for an absent header.
  const key = `${today}\n${header ?? "\r"}`;
  let resolution = memo.get(key);
  if (resolution === undefined) {
    resolution = Object.freeze(resolveVersion(header, table, today));
    if (memo.size >= VERSION_MEMO_MAX_ENTRIES) memo.clear();
    memo.set(key, resolution);
  }
  return resolution;
}
