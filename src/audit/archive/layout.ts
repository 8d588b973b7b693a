/**
 * Where archived audit events live in R2 (docs/audit.md "Archive"): Hive-style partitions by kind,
 * UTC day and UTC hour, and object names that carry the time bounds of the events inside, so a reader
 * prunes by listing a prefix and reading names only. Pure.
 *
 *   audit/v1/kind=request/dt=2026-12-06/hour=10/20261206T101502.123Z_20261206T101559.004Z_3fa9c1e2b7d45a60.parquet
 *   └prefix┘ └kind────────┘ └day────────┘ └hour──┘ └first event's time─┘ └last event's time──┘ └content id───┘
 *
 * The content id is derived from the event ids the object holds (src/audit/archive/parquet.ts), so the
 * same events always make the same key: a redelivered batch overwrites its object, never adds a second.
 * Engines read the partitions as columns (`hive_partitioning`): `kind`, `dt`, `hour`.
 */

/** Root of every archive object; `v1` is the layout's version (a change of layout is a new root). */
export const ARCHIVE_ROOT = "audit/v1";

/** What an archived object holds: request events (`audit_events`) or admin events (`admin_audit_events`). */
export type ArchiveKind = "request" | "admin";

/** Hex characters of the content id in an object name (64 bits: unique per object, not a secret). */
export const CONTENT_ID_CHARS = 16;

/** How every object name ends. */
const OBJECT_SUFFIX = ".parquet";

const pad2 = (n: number): string => String(n).padStart(2, "0");

/**
 * The partition prefix of an instant, with its trailing slash.
 * @param timeMs epoch milliseconds (UTC) of a year 0000–9999, the years an event's `time` can have
 *        (ISO 8601 with four digits; the year is padded like `time` is)
 * @returns e.g. `audit/v1/kind=request/dt=2026-12-06/hour=10/`
 */
export function hourPrefix(kind: ArchiveKind, timeMs: number): string {
  const d = new Date(timeMs);
  return `${ARCHIVE_ROOT}/kind=${kind}/dt=${String(d.getUTCFullYear()).padStart(4, "0")}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}/hour=${pad2(d.getUTCHours())}/`;
}

/** `20261206T101502.123Z`: an ISO 8601 basic-format instant with milliseconds (sorts as text). */
export function compactInstant(timeMs: number): string {
  return new Date(timeMs).toISOString().replace(/[-:]/g, "");
}

/** Epoch milliseconds of a {@link compactInstant}, or NaN. */
export function parseCompactInstant(text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/.exec(text);
  if (m === null) return Number.NaN;
  return Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`);
}

/**
 * The key of an object holding events of one kind and one UTC hour.
 * @param firstMs  time of the earliest event inside, epoch milliseconds
 * @param lastMs   time of the latest event inside, epoch milliseconds (same UTC hour as `firstMs`)
 * @param contentId {@link CONTENT_ID_CHARS} lowercase hex characters
 * @throws Error when the bounds are not in one hour or the content id is malformed (a caller bug)
 */
export function objectKey(kind: ArchiveKind, firstMs: number, lastMs: number, contentId: string): string {
  const prefix = hourPrefix(kind, firstMs);
  if (hourPrefix(kind, lastMs) !== prefix || lastMs < firstMs) throw new Error("archive object bounds must lie in one UTC hour");
  if (!new RegExp(`^[0-9a-f]{${CONTENT_ID_CHARS}}$`).test(contentId)) throw new Error("malformed archive content id");
  return `${prefix}${compactInstant(firstMs)}_${compactInstant(lastMs)}_${contentId}${OBJECT_SUFFIX}`;
}

/** What an object's key says about it. */
export interface ArchiveObjectName {
  kind: ArchiveKind;
  /** Epoch milliseconds of the earliest and latest event inside. */
  firstMs: number;
  lastMs: number;
  contentId: string;
}

const KEY_PATTERN = new RegExp(
  `^${ARCHIVE_ROOT}/kind=(request|admin)/dt=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/(\\d{8}T\\d{6}\\.\\d{3}Z)_(\\d{8}T\\d{6}\\.\\d{3}Z)_([0-9a-f]{${CONTENT_ID_CHARS}})\\.parquet$`,
);

/** Parses a key made by {@link objectKey}; null for anything else (a reader skips it). */
export function parseObjectKey(key: string): ArchiveObjectName | null {
  const m = KEY_PATTERN.exec(key);
  if (m === null) return null;
  const firstMs = parseCompactInstant(m[2] as string);
  const lastMs = parseCompactInstant(m[3] as string);
  if (Number.isNaN(firstMs) || Number.isNaN(lastMs)) return null;
  return { kind: m[1] as ArchiveKind, firstMs, lastMs, contentId: m[4] as string };
}

const ARCHIVE_OBJECT_PATTERN = new RegExp(`^(\\d{8}T\\d{6}\\.\\d{3}Z)_\\d{8}T\\d{6}\\.\\d{3}Z_[0-9a-f]{${CONTENT_ID_CHARS}}$`);

/**
 * What D1 keeps of an object's key in the `archive_object` column of each event it holds (migration
 * 0007): the name within its partition without `.parquet`,
 * `20261206T101502.123Z_20261206T101559.004Z_3fa9c1e2b7d45a60` (58 ASCII bytes). The kind is the
 * table's, and the partition is rebuilt from the first instant ({@link keyFromArchiveObject}).
 * @param key a key made by {@link objectKey}
 * @throws Error for anything else (a caller bug)
 */
export function archiveObjectOf(key: string): string {
  const parsed = parseObjectKey(key);
  if (parsed === null) throw new Error("not an archive object key");
  return key.slice(key.lastIndexOf("/") + 1, key.length - OBJECT_SUFFIX.length);
}

/**
 * The object key an `archive_object` value stands for.
 * @param archiveObject a value written by {@link archiveObjectOf}
 * @returns the full key, or null when the value is not one (NULL in D1, or damaged): no object to look for
 */
export function keyFromArchiveObject(kind: ArchiveKind, archiveObject: string | null): string | null {
  if (archiveObject === null) return null;
  const m = ARCHIVE_OBJECT_PATTERN.exec(archiveObject);
  if (m === null) return null;
  const firstMs = parseCompactInstant(m[1] as string);
  if (Number.isNaN(firstMs)) return null;
  const key = `${hourPrefix(kind, firstMs)}${archiveObject}${OBJECT_SUFFIX}`;
  const parsed = parseObjectKey(key);
  // The last instant must lie in the first one's hour, as objectKey makes them.
  return parsed !== null && hourPrefix(kind, parsed.lastMs) === hourPrefix(kind, firstMs) && parsed.lastMs >= firstMs ? key : null;
}
