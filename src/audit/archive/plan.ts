/**
 * Which archive objects a consumer batch writes, and what its redelivery leaves out (docs/audit.md
 * "Archive"). Pure: the consumer (src/audit/consumer.ts) reads D1 and R2 and hands the answers here.
 *
 * - One object per (kind, UTC hour) of the batch's events, not one per queue message: each object is
 *   one R2 Class A write, so a batch of up to 100 messages × 100 events costs one or two writes.
 * - An object's key comes from its events alone (layout.ts objectKey: kind, hour, first and last
 *   time, content id of the event ids), and its rows are in a fixed order (time, then event id), so the
 *   same events always make the same key and the same bytes: a redelivered batch overwrites its own
 *   objects.
 * - Queues may put retried messages into other batches, which would make other keys. So D1 is the
 *   ledger: each row's `archive_object` names the object that holds it (layout.ts archiveObjectOf).
 *   On a redelivery the consumer reads those names, asks R2 which objects exist, and
 *   {@link splitLedger} says which events are archived already (left out of this batch's objects) and
 *   which are not (put into this batch's objects, their `archive_object` moved there:
 *   {@link relinkPlan}).
 */
import { type AdminAuditEvent, isAdminEvent } from "../admin-event";
import type { AuditEvent } from "../event";
import type { AnyAuditEvent } from "../producer";
import { type ArchiveKind, archiveObjectOf, hourPrefix, keyFromArchiveObject, objectKey } from "./layout";
import { contentIdOf } from "./parquet";

/** The kind an event is archived as: admin events (`kind: "admin"`) apart from request events. */
export function archiveKindOf(event: AnyAuditEvent): ArchiveKind {
  return isAdminEvent(event) ? "admin" : "request";
}

interface GroupBase {
  /** The object's R2 key (layout.ts objectKey). */
  key: string;
  /** What D1 stores in `archive_object` for each of its events (layout.ts archiveObjectOf). */
  archiveObject: string;
  /** Epoch milliseconds of the earliest and the latest event inside. */
  firstMs: number;
  lastMs: number;
}

/** One archive object to write: events of one kind and one UTC hour, ordered by time, then event id. */
export type ArchiveGroup =
  | (GroupBase & { kind: "request"; events: AuditEvent[] })
  | (GroupBase & { kind: "admin"; events: AdminAuditEvent[] });

/** Event ids by kind (an admin event and a request event may share an id: they are different rows). */
export interface EventIdsByKind {
  request: Set<string>;
  admin: Set<string>;
}

export function emptyIds(): EventIdsByKind {
  return { request: new Set(), admin: new Set() };
}

/**
 * The objects for some events: one per (kind, UTC hour), in key order. An event id seen twice within a
 * kind is archived once (the first one; D1's INSERT OR IGNORE keeps the first too).
 * @param events validated events (`time` is an ISO 8601 instant, years 0000–9999)
 * @returns no groups for no events
 * @throws Error for an event whose `time` does not parse (the schema lets none through)
 */
export async function planArchiveObjects(events: readonly AnyAuditEvent[]): Promise<ArchiveGroup[]> {
  const seen = emptyIds();
  const byHour = new Map<string, { kind: ArchiveKind; rows: { timeMs: number; event: AnyAuditEvent }[] }>();
  for (const event of events) {
    const kind = archiveKindOf(event);
    if (seen[kind].has(event.event_id)) continue;
    seen[kind].add(event.event_id);
    const timeMs = Date.parse(event.time);
    if (Number.isNaN(timeMs)) throw new Error(`event ${event.event_id} has no usable time`);
    const prefix = hourPrefix(kind, timeMs);
    let hour = byHour.get(prefix);
    if (hour === undefined) {
      hour = { kind, rows: [] };
      byHour.set(prefix, hour);
    }
    hour.rows.push({ timeMs, event });
  }
  const groups: ArchiveGroup[] = [];
  for (const { kind, rows } of byHour.values()) {
    rows.sort((a, b) => a.timeMs - b.timeMs || (a.event.event_id < b.event.event_id ? -1 : a.event.event_id > b.event.event_id ? 1 : 0));
    const firstMs = (rows[0] as (typeof rows)[number]).timeMs;
    const lastMs = (rows[rows.length - 1] as (typeof rows)[number]).timeMs;
    const key = objectKey(kind, firstMs, lastMs, await contentIdOf(rows.map((r) => r.event.event_id)));
    const base = { key, archiveObject: archiveObjectOf(key), firstMs, lastMs };
    groups.push(
      kind === "admin"
        ? { ...base, kind, events: rows.map((r) => r.event as AdminAuditEvent) }
        : { ...base, kind, events: rows.map((r) => r.event as AuditEvent) },
    );
  }
  return groups.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** A row of a redelivered event found in D1: where it says the event is archived. */
export interface LedgerEntry {
  kind: ArchiveKind;
  eventId: string;
  /** The `archive_object` column: null for rows from before the archive (migration 0007). */
  archiveObject: string | null;
}

/** The distinct object keys the entries name (entries without a usable name name none), in key order. */
export function keysToCheck(entries: readonly LedgerEntry[]): string[] {
  const keys = new Set<string>();
  for (const e of entries) {
    const key = keyFromArchiveObject(e.kind, e.archiveObject);
    if (key !== null) keys.add(key);
  }
  return [...keys].sort();
}

/**
 * Which events found in D1 are archived already.
 * @param entries the D1 rows of a redelivery's events
 * @param existing the keys among {@link keysToCheck} that R2 has (`head` found them)
 * @returns `archived`: events whose object exists (leave them out of this batch's objects);
 *          `pending`: the others (their object was never written, or the row predates the archive):
 *          they go into this batch's objects and their row is moved there ({@link relinkPlan})
 */
export function splitLedger(
  entries: readonly LedgerEntry[],
  existing: ReadonlySet<string>,
): { archived: EventIdsByKind; pending: LedgerEntry[] } {
  const archived = emptyIds();
  const pending: LedgerEntry[] = [];
  for (const e of entries) {
    const key = keyFromArchiveObject(e.kind, e.archiveObject);
    if (key !== null && existing.has(key)) archived[e.kind].add(e.eventId);
    else pending.push(e);
  }
  return { archived, pending };
}

/** Rows whose `archive_object` must change: one UPDATE of `table` per entry. */
export interface Relink {
  kind: ArchiveKind;
  archiveObject: string;
  eventIds: string[];
}

/**
 * The `archive_object` changes a redelivery needs: each pending event goes to the object of this batch
 * that holds it; rows that already name that object (the same batch again, whose object was not
 * written) need no change.
 * @param groups this batch's objects (planArchiveObjects, after leaving out the archived events)
 * @param pending splitLedger's `pending`
 * @returns one entry per object with rows to move, in the order of `groups`
 */
export function relinkPlan(groups: readonly ArchiveGroup[], pending: readonly LedgerEntry[]): Relink[] {
  const current = { request: new Map<string, string | null>(), admin: new Map<string, string | null>() };
  for (const e of pending) current[e.kind].set(e.eventId, e.archiveObject);
  const out: Relink[] = [];
  for (const g of groups) {
    const ids: string[] = [];
    for (const event of g.events) {
      const now = current[g.kind].get(event.event_id);
      if (now !== undefined && now !== g.archiveObject) ids.push(event.event_id);
    }
    if (ids.length > 0) out.push({ kind: g.kind, archiveObject: g.archiveObject, eventIds: ids });
  }
  return out;
}
