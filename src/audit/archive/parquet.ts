/**
 * Audit events as Parquet (docs/audit.md "Archive"): one column per D1 column of `audit_events` /
 * `admin_audit_events` (src/audit/columns.ts), typed, Snappy-compressed, written with hyparquet-writer
 * and read back with hyparquet (both pure JavaScript: they run in workerd as in Node). Pure.
 *
 * Types: text → STRING (UTF-8); `status` (0–999) and `v` → INT32; counts, lengths and durations
 * (`*_length`, `*_count`, `duration_ms`) and `time_ms` → INT64, because the event schema bounds a count
 * only by 2^53 − 1 (`z.number().int().nonnegative()`) and INT32 would refuse a valid event D1 stores;
 * `time` → TIMESTAMP (milliseconds, UTC); flags → BOOLEAN; the JSON arrays (`forwarded_chain`,
 * `forged_headers`, `changes`) → JSON text. A column is nullable where the event field may be null.
 */
import { parquetReadObjects } from "hyparquet";
import { parquetWriteBuffer } from "hyparquet-writer";
import type { AdminAuditEvent } from "../admin-event";
import { ADMIN_EVENT_COLUMNS, AUDIT_EVENT_COLUMNS } from "../columns";
import type { AuditEvent } from "../event";
import { CONTENT_ID_CHARS } from "./layout";

/** Media type of every archive object (R2 `httpMetadata.contentType`). */
export const PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet";

/**
 * Version of the archive's column set, written into each object's R2 custom metadata
 * (`schema_version`): 1 = the columns of REQUEST_ARCHIVE_COLUMNS / ADMIN_ARCHIVE_COLUMNS as of migration
 * 0006. A column added later (a new D1 column) is appended and read as missing in older files (Parquet
 * readers merge by name); a column whose type or meaning changes needs a new version.
 */
export const ARCHIVE_SCHEMA_VERSION = 1;

type ColumnType = "STRING" | "INT32" | "INT64" | "BOOLEAN" | "TIMESTAMP" | "JSON";

interface ColumnSpec<E> {
  type: ColumnType;
  nullable: boolean;
  /** The column's value for an event, in the type the writer takes (Date for TIMESTAMP, bigint for INT64, the value itself for JSON). */
  value: (e: E) => unknown;
}

const text = <E>(get: (e: E) => string): ColumnSpec<E> => ({ type: "STRING", nullable: false, value: get });
const textOrNull = <E>(get: (e: E) => string | null): ColumnSpec<E> => ({ type: "STRING", nullable: true, value: get });
const int = <E>(get: (e: E) => number): ColumnSpec<E> => ({ type: "INT32", nullable: false, value: get });
/** A non-negative safe integer the schema does not bound further: INT64 (read back as a bigint). */
const count = <E>(get: (e: E) => number): ColumnSpec<E> => ({ type: "INT64", nullable: false, value: (e) => BigInt(get(e)) });
const flag = <E>(get: (e: E) => boolean): ColumnSpec<E> => ({ type: "BOOLEAN", nullable: false, value: get });
const json = <E>(get: (e: E) => unknown): ColumnSpec<E> => ({ type: "JSON", nullable: false, value: get });
const instant = <E extends { time: string }>(): ColumnSpec<E> => ({ type: "TIMESTAMP", nullable: false, value: (e) => new Date(e.time) });
const epochMs = <E extends { time: string }>(): ColumnSpec<E> => ({
  type: "INT64",
  nullable: false,
  value: (e) => BigInt(Date.parse(e.time)),
});

/** Every column of `audit_events`, in its order: a column added there without a type here does not compile. */
export const REQUEST_ARCHIVE_COLUMNS: { readonly [C in (typeof AUDIT_EVENT_COLUMNS)[number]]: ColumnSpec<AuditEvent> } = {
  event_id: text((e) => e.event_id),
  v: int((e) => e.v),
  time: instant(),
  time_ms: epochMs(),
  request_id: text((e) => e.request_id),
  ray_id: textOrNull((e) => e.ray_id),
  outcome: text((e) => e.outcome),
  reason: text((e) => e.reason),
  account_id: textOrNull((e) => e.account_id),
  account_verified: flag((e) => e.account_verified),
  key_id: textOrNull((e) => e.key_id),
  mode: textOrNull((e) => e.mode),
  requested_version: textOrNull((e) => e.requested_version),
  resolved_version: textOrNull((e) => e.resolved_version),
  origin: textOrNull((e) => e.origin),
  method: text((e) => e.method),
  host: text((e) => e.host),
  path: text((e) => e.path),
  path_length: count((e) => e.path_length),
  status: int((e) => e.status),
  duration_ms: count((e) => e.duration_ms),
  connecting_ip: textOrNull((e) => e.connecting_ip),
  source_ip: textOrNull((e) => e.source_ip),
  source_ip_from: text((e) => e.source_ip_from),
  source_ip_asserted: flag((e) => e.source_ip_asserted),
  forwarded_for: textOrNull((e) => e.forwarded_for),
  forwarded_for_length: count((e) => e.forwarded_for_length),
  forwarded_chain: json((e) => e.forwarded_chain),
  forwarded_count: count((e) => e.forwarded_count),
  user_agent: textOrNull((e) => e.user_agent),
  user_agent_length: count((e) => e.user_agent_length),
  country: textOrNull((e) => e.country),
  colo: textOrNull((e) => e.colo),
  truncated: flag((e) => e.truncated),
  forged_headers: json((e) => e.forged_headers),
  forged_headers_count: count((e) => e.forged_headers_count),
  folded_count: count((e) => e.folded_count ?? 0),
  would_refuse: textOrNull((e) => e.would_refuse),
};

/** Every column of `admin_audit_events`, in its order. */
export const ADMIN_ARCHIVE_COLUMNS: { readonly [C in (typeof ADMIN_EVENT_COLUMNS)[number]]: ColumnSpec<AdminAuditEvent> } = {
  event_id: text((e) => e.event_id),
  v: int((e) => e.v),
  time: instant(),
  time_ms: epochMs(),
  request_id: text((e) => e.request_id),
  ray_id: textOrNull((e) => e.ray_id),
  action: text((e) => e.action),
  outcome: text((e) => e.outcome),
  reason: text((e) => e.reason),
  status: int((e) => e.status),
  actor_sub: textOrNull((e) => e.actor_sub),
  actor_email: textOrNull((e) => e.actor_email),
  account_id: textOrNull((e) => e.account_id),
  key_id: textOrNull((e) => e.key_id),
  new_key_id: textOrNull((e) => e.new_key_id),
  method: text((e) => e.method),
  path: text((e) => e.path),
  query: textOrNull((e) => e.query),
  connecting_ip: textOrNull((e) => e.connecting_ip),
  user_agent: textOrNull((e) => e.user_agent),
  duration_ms: count((e) => e.duration_ms),
  changes: json((e) => e.changes ?? []),
  truncated: flag((e) => e.truncated),
};

/** Rows per row group: one group for any object the consumer writes (at most 100 × 100 events). */
const ROW_GROUP_SIZE = 10_000;

function encode<E>(columns: Record<string, ColumnSpec<E>>, order: readonly string[], events: readonly E[]): Uint8Array {
  const columnData = order.map((name) => {
    const spec = columns[name] as ColumnSpec<E>;
    const data = new Array(events.length);
    for (let i = 0; i < events.length; i++) data[i] = spec.value(events[i] as E);
    return { name, data, type: spec.type, nullable: spec.nullable };
  });
  const buffer = parquetWriteBuffer({ columnData, codec: "SNAPPY", rowGroupSize: ROW_GROUP_SIZE });
  return new Uint8Array(buffer);
}

/**
 * One Parquet file of request events, rows in the order given.
 * @returns the file's bytes
 */
export function encodeRequestEvents(events: readonly AuditEvent[]): Uint8Array {
  return encode(REQUEST_ARCHIVE_COLUMNS, AUDIT_EVENT_COLUMNS, events);
}

/** One Parquet file of admin events, rows in the order given. */
export function encodeAdminEvents(events: readonly AdminAuditEvent[]): Uint8Array {
  return encode(ADMIN_ARCHIVE_COLUMNS, ADMIN_EVENT_COLUMNS, events);
}

/**
 * The rows of an archived file as plain objects, column name → value as hyparquet decodes it
 * (STRING → string, INT32 → number, INT64 → bigint (counts, lengths, durations, `time_ms`), TIMESTAMP → Date, BOOLEAN → boolean, JSON → the
 * parsed value), optionally only those whose `request_id` is the one given.
 */
export async function readArchivedRows(bytes: ArrayBuffer, requestId?: string): Promise<Record<string, unknown>[]> {
  return await parquetReadObjects({
    file: bytes,
    ...(requestId === undefined ? {} : { filter: { request_id: { $eq: requestId } } }),
  });
}

/**
 * The content id of an object: the first {@link CONTENT_ID_CHARS} hex characters of SHA-256 over its
 * event ids, sorted and joined with a newline. The same events give the same id whatever their order.
 */
export async function contentIdOf(eventIds: readonly string[]): Promise<string> {
  const joined = [...eventIds].sort().join("\n");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(joined)));
  let hex = "";
  for (const byte of digest.subarray(0, CONTENT_ID_CHARS / 2)) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
