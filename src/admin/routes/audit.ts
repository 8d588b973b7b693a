/**
 * The audit routes of the admin API (docs/audit.md "Queries"): request events searched in D1, one event
 * by request id (D1, then the R2 archive past D1's window), and admin events. Each search is itself an
 * admin event, with its parameters in canonical order.
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ARCHIVE_LOOKUP_LIMITS, type ArchiveLookupResult, archivePlan, findArchivedAuditEvent } from "../../audit/archive/lookup";
import {
  type AuditSearchFilters,
  type Cursor,
  decodeCursor,
  findAuditEvent,
  hasKeyedFilter,
  MAX_UNKEYED_WINDOW_MS,
  searchAdminAuditEvents,
  searchAuditEvents,
} from "../../audit/query";
import type { AppEnv } from "../../env";
import { ApiError } from "../../errors";
import { errorMessage, log } from "../../log";
import { requestIdForLookup } from "../../request-id";
import { action, requireAdmin, setTarget } from "../middleware";
import {
  AdminAuditEventPage,
  AdminEventSearchQuery,
  AuditEventPage,
  AuditEventResponse,
  AuditSearchQuery,
  ErrorResponse,
  RequestIdParams,
} from "../schemas";
import { errors, security } from "./common";

/** Reads the audit trail; D1 trouble is a 503 (the caller retries), never a bare 500. */
async function auditDb<T>(c: Context<AppEnv>, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    log("error", "audit_query_failed", { request_id: c.get("requestId"), error: errorMessage(err) });
    throw new ApiError("admin_unavailable", "The audit trail cannot be read right now. Retry shortly.", { "Retry-After": "5" });
  }
}

/** Reads the R2 archive; R2 trouble is a 503 like D1's (the event may be there: never a 404), never a bare 500. */
async function auditArchive<T>(c: Context<AppEnv>, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    log("error", "audit_archive_read_failed", { request_id: c.get("requestId"), error: errorMessage(err) });
    throw new ApiError("admin_unavailable", "The audit archive cannot be read right now. Retry shortly.", { "Retry-After": "5" });
  }
}

/** The 404 of a lookup found neither in D1 nor in the archive, saying how far it looked. */
function auditEventNotFound(why: "too_recent" | "no_time" | ArchiveLookupResult): ApiError {
  const recent = "Events are stored a few seconds after the response: retry shortly if it is that recent.";
  let message: string;
  if (why === "too_recent") {
    message = `No audit event has this request id (yet). ${recent}`;
  } else if (why === "no_time") {
    message =
      "No audit event has this request id in D1 (the searchable trail of recent events), and the id is not a UUIDv7, " +
      'so it does not tell which hour of the archive to read; search the archive itself (docs/audit.md "Analytics on the archive"). ' +
      recent;
  } else if (why.outcome === "bounded") {
    const limits = ARCHIVE_LOOKUP_LIMITS;
    const stop =
      why.why === "listing"
        ? `its hour holds more objects than one lookup lists (${limits.maxListCalls} pages)`
        : why.why === "objects"
          ? `${why.candidates} objects may hold it, more than one lookup reads (${limits.maxObjects})`
          : `an object that may hold it is larger than one lookup reads (${limits.maxObjectBytes / 1_048_576} MiB)`;
    message =
      `No audit event has this request id in D1, nor in the ${why.objectsRead} archive objects read around its time, but the ` +
      `lookup stopped short: ${stop}. Search the archive itself (docs/audit.md "Analytics on the archive").`;
  } else {
    message =
      "No audit event has this request id: not in D1 (the searchable trail of recent events), nor in the archive objects of its time. " +
      "A denied request folded into a flood event is stored under the request id of the fold's last request.";
  }
  return new ApiError("audit_event_not_found", message);
}

/** `since`/`until` as epoch ms; `until` must lie after `since` (400 `query.until`). */
function timeRange(query: { since?: string; until?: string }): { sinceMs?: number; untilMs?: number } {
  const sinceMs = query.since === undefined ? undefined : Date.parse(query.since);
  const untilMs = query.until === undefined ? undefined : Date.parse(query.until);
  if (sinceMs !== undefined && untilMs !== undefined && untilMs <= sinceMs) {
    throw new ApiError("invalid_parameter", "query.until must be later than query.since.", {}, "query.until");
  }
  return { ...(sinceMs === undefined ? {} : { sinceMs }), ...(untilMs === undefined ? {} : { untilMs }) };
}

/** The position of a `cursor` parameter (400 `query.cursor` when it is not one of this search's cursors). */
function cursorParam(kind: "r" | "a", text: string | undefined): { after?: Cursor } {
  if (text === undefined) return {};
  const after = decodeCursor(kind, text);
  if (after === null) {
    throw new ApiError(
      "invalid_parameter",
      "query.cursor is not a cursor of this search: pass the next_cursor of the previous page unchanged.",
      {},
      "query.cursor",
    );
  }
  return { after };
}

/** The validated search parameters as a canonical query string for the admin event (fixed order; never the cursor). */
function canonicalQuery(values: Record<string, string | number | undefined>, order: readonly string[]): string {
  const params = new URLSearchParams();
  for (const name of order) {
    const value = values[name];
    if (value !== undefined) params.append(name, String(value));
  }
  return params.toString();
}

const AUDIT_QUERY_ORDER = [
  "request_id",
  "account_id",
  "key_id",
  "source_ip",
  "connecting_ip",
  "outcome",
  "would_refuse",
  "since",
  "until",
  "limit",
] as const;
const ADMIN_QUERY_ORDER = ["account_id", "key_id", "actor", "action", "since", "until", "limit"] as const;

const auditSearchRoute = createRoute({
  method: "get",
  path: "/v1/audit/events",
  operationId: "searchAuditEvents",
  summary: "Search request events, newest first",
  description:
    "Request events of the audit trail (D1 `audit_events`, docs/audit.md) matching every given filter, newest first " +
    "(by time, then event id), one page at a time. Events are stored a few seconds after their response. " +
    "Each search is itself recorded as an admin event (`audit.search`).",
  security,
  middleware: [action("audit.search"), requireAdmin("read")] as const,
  request: { query: AuditSearchQuery },
  responses: {
    200: { description: "One page of events; `next_cursor` continues.", content: { "application/json": { schema: AuditEventPage } } },
    ...errors(400, 401, 503),
  },
});

const auditGetRoute = createRoute({
  method: "get",
  path: "/v1/audit/requests/{request_id}",
  operationId: "getAuditEvent",
  summary: "The request event of one X-Request-Id",
  description:
    "The event of the response that carried this `X-Request-Id`, from D1 (the recent trail) or, when it has left D1, from the " +
    "R2 archive: a UUIDv7 request id carries its time, and only the archive objects whose time bounds cover it are read " +
    '(docs/audit.md "Past the D1 window"). A few seconds pass between a response and its event in D1; a denied request ' +
    "folded into a flood event is found only under the request id of the fold's last request. " +
    "Recorded as an admin event (`audit.get`).",
  security,
  middleware: [action("audit.get"), requireAdmin("read")] as const,
  request: { params: RequestIdParams },
  responses: {
    200: {
      description: "The event, and whether it came from D1 or the archive.",
      content: { "application/json": { schema: AuditEventResponse } },
    },
    ...errors(400, 401),
    404: {
      description:
        "`audit_event_not_found`: no event has this request id in D1 (yet) nor in the archive objects of its time; the message " +
        "says how far the lookup went (not a UUIDv7, so the archive was not searched; more archive objects than one lookup reads).",
      content: { "application/json": { schema: ErrorResponse } },
    },
    503: {
      description:
        "`admin_unavailable`: the audit trail (D1) or the archive (R2) cannot be read, or the admin settings or JWKS are unusable, " +
        "with Retry-After; `internal_error`: an unexpected failure.",
      content: { "application/json": { schema: ErrorResponse } },
    },
  },
});

const adminSearchRoute = createRoute({
  method: "get",
  path: "/v1/audit/admin-events",
  operationId: "searchAdminAuditEvents",
  summary: "Search admin events, newest first",
  description:
    "Admin events (D1 `admin_audit_events`: one per admin API request, searches included) matching every given filter, " +
    "newest first, one page at a time. Recorded as an admin event itself (`audit.admin_search`).",
  security,
  middleware: [action("audit.admin_search"), requireAdmin("read")] as const,
  request: { query: AdminEventSearchQuery },
  responses: {
    200: { description: "One page of admin events.", content: { "application/json": { schema: AdminAuditEventPage } } },
    ...errors(400, 401, 503),
  },
});

/** Registers the audit routes on the admin app. */
export function registerAuditRoutes(admin: OpenAPIHono<AppEnv>): void {
  admin.openapi(auditSearchRoute, async (c) => {
    const q = c.req.valid("query");
    setTarget(c, { accountId: q.account_id ?? null, keyId: q.key_id ?? null });
    const filters: AuditSearchFilters = {
      ...(q.account_id === undefined ? {} : { accountId: q.account_id }),
      ...(q.key_id === undefined ? {} : { keyId: q.key_id }),
      ...(q.request_id === undefined ? {} : { requestId: q.request_id }),
      ...(q.source_ip === undefined ? {} : { sourceIp: q.source_ip }),
      ...(q.connecting_ip === undefined ? {} : { connectingIp: q.connecting_ip }),
      ...(q.outcome === undefined ? {} : { outcome: q.outcome }),
      ...(q.would_refuse === undefined ? {} : { wouldRefuse: q.would_refuse }),
      ...timeRange(q),
      ...cursorParam("r", q.cursor),
      limit: q.limit,
    };
    // An outcome or would_refuse alone is tested row by row along a time index: bounded by the range, so the range is bounded.
    const unkeyed = filters.outcome !== undefined ? "outcome" : filters.wouldRefuse !== undefined ? "would_refuse" : null;
    if (unkeyed !== null && !hasKeyedFilter(filters)) {
      const span = (filters.untilMs ?? Date.now()) - (filters.sinceMs ?? Number.NEGATIVE_INFINITY);
      if (span > MAX_UNKEYED_WINDOW_MS) {
        throw new ApiError(
          "invalid_parameter",
          `query.since: a search by ${unkeyed} without account_id, key_id, request_id, source_ip or connecting_ip needs since, at most ${MAX_UNKEYED_WINDOW_MS / 3_600_000} hours before until (or now).`,
          {},
          "query.since",
        );
      }
    }
    setTarget(c, { query: canonicalQuery(q, AUDIT_QUERY_ORDER) });
    return c.json(await auditDb(c, () => searchAuditEvents(c.env.AUDIT_DB, filters)), 200);
  });

  admin.openapi(auditGetRoute, async (c) => {
    const requestId = requestIdForLookup(c.req.valid("param").request_id);
    setTarget(c, { query: canonicalQuery({ request_id: requestId }, ["request_id"]) });
    // D1 first: the recent trail. Then, for a UUIDv7 id old enough to have left D1, the archive objects of its time.
    let event = await auditDb(c, () => findAuditEvent(c.env.AUDIT_DB, requestId));
    let source: "d1" | "archive" = "d1";
    if (event === null) {
      const plan = archivePlan(requestId, Date.now());
      if (!plan.search) throw auditEventNotFound(plan.why);
      const archived = await auditArchive(c, () => findArchivedAuditEvent(c.env.AUDIT_ARCHIVE, requestId, plan.idTimeMs));
      if (archived.unreadable.length > 0) {
        log("error", "audit_archive_object_unreadable", { request_id: c.get("requestId"), keys: archived.unreadable });
      }
      if (archived.outcome === "bounded") {
        log("warn", "audit_archive_lookup_bounded", {
          request_id: c.get("requestId"),
          why: archived.why,
          candidates: archived.candidates,
          objects_read: archived.objectsRead,
          list_calls: archived.listCalls,
        });
      }
      if (archived.outcome !== "found") throw auditEventNotFound(archived);
      event = archived.event;
      source = "archive";
    }
    // Whose trail was read: the event's account and key.
    setTarget(c, { accountId: event.account_id, keyId: event.key_id });
    return c.json({ event, source }, 200);
  });

  admin.openapi(adminSearchRoute, async (c) => {
    const q = c.req.valid("query");
    setTarget(c, { accountId: q.account_id ?? null, keyId: q.key_id ?? null });
    const filters = {
      ...(q.account_id === undefined ? {} : { accountId: q.account_id }),
      ...(q.key_id === undefined ? {} : { keyId: q.key_id }),
      ...(q.actor === undefined ? {} : { actor: q.actor }),
      ...(q.action === undefined ? {} : { action: q.action }),
      ...timeRange(q),
      ...cursorParam("a", q.cursor),
      limit: q.limit,
    };
    setTarget(c, { query: canonicalQuery(q, ADMIN_QUERY_ORDER) });
    return c.json(await auditDb(c, () => searchAdminAuditEvents(c.env.AUDIT_DB, filters)), 200);
  });
}
