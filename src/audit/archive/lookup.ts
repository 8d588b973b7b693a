/**
 * The event of one request id from the R2 archive, for a lookup that D1 no longer answers (docs/audit.md
 * "Past the D1 window"). The id's own time (a UUIDv7, src/request-id.ts) names the hour partition to
 * list, and the time bounds in each object's name (src/audit/archive/layout.ts) say which objects can
 * hold the event; only those are read, nearest first, and no more than the limits of
 * {@link ARCHIVE_LOOKUP_LIMITS} allow.
 *
 * The planning (which prefixes, which objects, in which order) is pure; {@link findArchivedAuditEvent}
 * does the R2 calls. Rows come back as the same event shape the D1 path returns (src/audit/query.ts).
 */
import { uuidv7Time } from "../../request-id";
import type { AuditEvent } from "../event";
import { rowToAuditEvent } from "../query";
import { type ArchiveObjectName, hourPrefix, parseObjectKey } from "./layout";
import { readArchivedRows } from "./parquet";

/** How far a lookup reaches and how much it may read. */
export interface ArchiveLookupLimits {
  /**
   * Milliseconds either side of the id's time within which the event's `time` is looked for. The id is
   * made when the request arrives and `time` is that arrival, in the same millisecond in practice (no I/O
   * between them); the tolerance covers clock steps and the id counter's rare 1 ms carry, and decides
   * when the neighbouring hour is listed too.
   */
  toleranceMs: number;
  /** Objects read (one R2 get and one Parquet decode each) per lookup at most. */
  maxObjects: number;
  /** R2 list calls per lookup at most (each returns up to {@link LIST_PAGE_KEYS} keys). */
  maxListCalls: number;
  /** Objects larger than this are not read (a lookup holds one object in memory at a time). */
  maxObjectBytes: number;
  /**
   * Ids younger than this (or from the future) are not looked for in the archive: the consumer writes an
   * event to D1 and the archive together, and nothing leaves D1 that young, so a miss there means "not
   * stored yet" and a lookup repeated while waiting for it (`spot-keys audit --wait`) costs no R2 calls.
   */
  minAgeMs: number;
}

/** The limits of the admin API's lookup (docs/audit.md "Past the D1 window"). */
export const ARCHIVE_LOOKUP_LIMITS: ArchiveLookupLimits = {
  toleranceMs: 60_000,
  maxObjects: 8,
  maxListCalls: 10,
  maxObjectBytes: 64 * 1024 * 1024,
  minAgeMs: 5 * 60_000,
};

/** Keys per R2 list call (R2's largest page). */
export const LIST_PAGE_KEYS = 1000;

/** Whether a lookup that D1 did not answer goes on to the archive, and with which time. */
export type ArchivePlan =
  | { search: true; idTimeMs: number }
  /** `no_time`: the id is not a UUIDv7 (e.g. a UUIDv4 of the older trail); `too_recent`: younger than `minAgeMs`. */
  | { search: false; why: "no_time" | "too_recent" };

/**
 * @param requestId the id as looked up
 * @param nowMs     the time of the lookup, epoch ms
 */
export function archivePlan(requestId: string, nowMs: number, limits: ArchiveLookupLimits = ARCHIVE_LOOKUP_LIMITS): ArchivePlan {
  const idTimeMs = uuidv7Time(requestId);
  if (idTimeMs === null) return { search: false, why: "no_time" };
  if (nowMs - idTimeMs < limits.minAgeMs) return { search: false, why: "too_recent" };
  return { search: true, idTimeMs };
}

/** The instants an event of this id may carry, inclusive, epoch ms. */
export interface TimeWindow {
  fromMs: number;
  toMs: number;
}

/** The window of an id's time ± the tolerance. */
export function lookupWindow(idTimeMs: number, toleranceMs: number): TimeWindow {
  return { fromMs: idTimeMs - toleranceMs, toMs: idTimeMs + toleranceMs };
}

/**
 * The hour partitions of request events that the window touches, earliest first: one, or two when the
 * window crosses an hour boundary (the tolerance is far below an hour).
 */
export function lookupPrefixes(window: TimeWindow): string[] {
  const first = hourPrefix("request", window.fromMs);
  const last = hourPrefix("request", window.toMs);
  return first === last ? [first] : [first, last];
}

/** True when an object of request events may hold an event whose time lies in the window (its bounds overlap it). */
export function objectMayHold(name: ArchiveObjectName, window: TimeWindow): boolean {
  return name.kind === "request" && name.firstMs <= window.toMs && name.lastMs >= window.fromMs;
}

/**
 * True when no object listed after this one can overlap the window: keys of one hour sort by their first
 * event's time, so once that is past the window the listing of the hour can stop.
 */
export function pastWindow(name: ArchiveObjectName, window: TimeWindow): boolean {
  return name.firstMs > window.toMs;
}

/** An object that may hold the event, with what its listing said. */
export interface Candidate {
  key: string;
  name: ArchiveObjectName;
  size: number;
}

/** How far an object's bounds lie from an instant: 0 when they cover it. */
function distance(name: ArchiveObjectName, timeMs: number): number {
  if (timeMs < name.firstMs) return name.firstMs - timeMs;
  if (timeMs > name.lastMs) return timeMs - name.lastMs;
  return 0;
}

/**
 * The order in which candidates are read: those whose bounds cover the id's time first, narrowest
 * first (fewest other events, the likeliest to hold it), then by how far their bounds lie from it; ties
 * by key, so the order is fixed.
 */
export function readOrder(candidates: readonly Candidate[], idTimeMs: number): Candidate[] {
  return [...candidates].sort(
    (a, b) =>
      distance(a.name, idTimeMs) - distance(b.name, idTimeMs) ||
      a.name.lastMs - a.name.firstMs - (b.name.lastMs - b.name.firstMs) ||
      (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
}

/**
 * An archived row (hyparquet's values: TIMESTAMP → Date, INT64 → bigint, JSON columns parsed) as the
 * request event of docs/audit.md, exactly as the D1 path returns it.
 */
export function archivedRowToAuditEvent(row: Record<string, unknown>): AuditEvent {
  const time = row.time instanceof Date ? row.time.toISOString() : row.time;
  const timeMs = typeof row.time_ms === "bigint" ? Number(row.time_ms) : row.time_ms;
  return rowToAuditEvent({ ...row, time, time_ms: timeMs });
}

/** What a lookup cost, whatever it came to. */
interface LookupWork {
  /** R2 list calls made. */
  listCalls: number;
  /** R2 gets made (objects read). */
  objectsRead: number;
  /** Keys of objects read whose bytes were not a Parquet file of this layout (passed over; the caller logs them). */
  unreadable: string[];
}

/** What a lookup in the archive came to. */
export type ArchiveLookupResult = LookupWork &
  (
    | { outcome: "found"; event: AuditEvent; objectKey: string }
    /** Every object that may hold it was read (there may have been none). */
    | { outcome: "not_found" }
    /**
     * The limits stopped the lookup before every object that may hold it was read: a listing longer than
     * `maxListCalls` pages, more candidates than `maxObjects`, or an object over `maxObjectBytes`.
     */
    | { outcome: "bounded"; candidates: number; why: "listing" | "objects" | "object_size" }
  );

/**
 * Looks for the event of `requestId` in the archive objects of the hour(s) around `idTimeMs`.
 * @param requestId the id as stored (lowercase for a UUID)
 * @param idTimeMs  the id's time, epoch ms (`uuidv7Time` of src/request-id.ts)
 * @returns the event and the object it came from, or why it was not found; an object that vanished
 *          between list and get is passed over, and so is one whose bytes are not Parquet (`unreadable`)
 * @throws the R2 error of a list or get (the caller answers 503)
 */
export async function findArchivedAuditEvent(
  bucket: R2Bucket,
  requestId: string,
  idTimeMs: number,
  limits: ArchiveLookupLimits = ARCHIVE_LOOKUP_LIMITS,
): Promise<ArchiveLookupResult> {
  const window = lookupWindow(idTimeMs, limits.toleranceMs);
  const candidates: Candidate[] = [];
  const work: LookupWork = { listCalls: 0, objectsRead: 0, unreadable: [] };
  let listingCut = false;
  for (const prefix of lookupPrefixes(window)) {
    let cursor: string | undefined;
    let done = false;
    while (!done && !listingCut) {
      if (work.listCalls >= limits.maxListCalls) {
        listingCut = true;
        break;
      }
      const page = await bucket.list({ prefix, limit: LIST_PAGE_KEYS, ...(cursor === undefined ? {} : { cursor }) });
      work.listCalls++;
      for (const object of page.objects) {
        const name = parseObjectKey(object.key);
        if (name === null) continue;
        if (pastWindow(name, window)) {
          done = true;
          break;
        }
        if (objectMayHold(name, window)) candidates.push({ key: object.key, name, size: object.size });
      }
      if (page.truncated) cursor = page.cursor;
      else done = true;
    }
  }

  let capped = false;
  let tooLarge = 0;
  for (const candidate of readOrder(candidates, idTimeMs)) {
    if (candidate.size > limits.maxObjectBytes) {
      tooLarge++;
      continue;
    }
    if (work.objectsRead >= limits.maxObjects) {
      capped = true;
      break;
    }
    const object = await bucket.get(candidate.key);
    work.objectsRead++;
    if (object === null) continue;
    const bytes = await object.arrayBuffer();
    let rows: Record<string, unknown>[];
    try {
      rows = await readArchivedRows(bytes, requestId);
    } catch {
      work.unreadable.push(candidate.key);
      continue;
    }
    const row = newestRow(rows);
    if (row !== null) return { ...work, outcome: "found", event: archivedRowToAuditEvent(row), objectKey: candidate.key };
  }
  if (listingCut || capped || tooLarge > 0) {
    return { ...work, outcome: "bounded", candidates: candidates.length, why: listingCut ? "listing" : capped ? "objects" : "object_size" };
  }
  return { ...work, outcome: "not_found" };
}

/** The newest of an object's rows for one request id (one in practice; D1's lookup also takes the newest). */
function newestRow(rows: Record<string, unknown>[]): Record<string, unknown> | null {
  let best: Record<string, unknown> | null = null;
  for (const row of rows) {
    if (best === null || Number(row.time_ms) > Number(best.time_ms)) best = row;
  }
  return best;
}
