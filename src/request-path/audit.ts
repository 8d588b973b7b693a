/**
 * The last steps of every API request (src/request-path/handler.ts): stamp the answer with
 * `X-Request-Id`, the resolved `X-Spot-Api-Version` and deprecation headers, then build the audit
 * event and hand its sending to `ctx.waitUntil`, so the audit trail never delays or changes the
 * answer (DESIGN §8).
 */
import type { Context } from "hono";
import type { BatchLimits } from "../audit/batcher";
import { type AuditInput, type AuditOutcome, buildAuditEvent } from "../audit/event";
import { type AnyAuditEvent, DEFAULT_BATCH_LIMITS, sendAuditEvent } from "../audit/producer";
import type { AppEnv } from "../env";
import type { Delivery } from "../forwarding/delivery";
import { forgedIdentityHeaders } from "../forwarding/headers";
import { API_VERSION_HEADER } from "../keys/credentials";
import { errorMessage, log } from "../log";
import { deprecationHeaders } from "../versioning/resolve";

/**
 * Builds the request's audit event from what the request path set in `c.var` and the final answer,
 * and queues it (coalesced per isolate: src/audit/producer.ts), handing the batch's flush to
 * `ctx.waitUntil` when this request is the one that keeps it alive (src/audit/batcher.ts). Never
 * throws and never delays the answer: a failure to build the event is one `audit_build_failed` log
 * line with the request id.
 * @param url the request URL, parsed once by the caller
 * @param res the final answer (its status is recorded)
 * @param ended for a forwarded response body: how it ended, and the milliseconds from arrival to the
 *        response headers (the event's `duration_ms`)
 */
export function recordAuditEvent(c: Context<AppEnv>, url: URL, res: Response, ended?: BodyEnd): void {
  try {
    queueAuditEvent(c, buildAuditEvent(auditInput(c, url, res, ended)));
  } catch (err) {
    log("error", "audit_build_failed", { request_id: c.get("requestId"), error: errorMessage(err) });
  }
}

/**
 * Queues an audit event, request or admin (src/admin/middleware.ts), in this isolate's batch and hands
 * `ctx.waitUntil` what this request must keep alive for it (src/audit/batcher.ts). Never throws.
 */
export function queueAuditEvent(c: Context<AppEnv>, event: AnyAuditEvent): void {
  const { keepAlive } = sendAuditEvent(c.env.AUDIT_QUEUE, event, batchLimits(c.env));
  if (keepAlive !== undefined) c.executionCtx.waitUntil(keepAlive);
}

/** The bounds last read, and the setting they were read from (one per isolate in practice). */
let readLimits: { setting: string | undefined; limits: BatchLimits } | undefined;

/**
 * Batch bounds from `AUDIT_BATCH_DELAY_MS` (milliseconds, 0..1000), read again only when the setting
 * changes. Read leniently: the audit path must work even when the rest of the configuration does
 * not, so a bad value means the default.
 */
export function batchLimits(env: Env): BatchLimits {
  const setting = env.AUDIT_BATCH_DELAY_MS;
  if (readLimits !== undefined && readLimits.setting === setting) return readLimits.limits;
  const delay = Number(setting);
  const valid = setting !== undefined && setting !== "" && Number.isInteger(delay) && delay >= 0 && delay <= 1000;
  const limits = valid ? { ...DEFAULT_BATCH_LIMITS, maxDelayMs: delay } : DEFAULT_BATCH_LIMITS;
  readLimits = { setting, limits };
  return limits;
}

/**
 * Adds the headers every answer carries: `X-Request-Id`, and once the version is resolved
 * `X-Spot-Api-Version` with `Deprecation`/`Sunset`/`Link` when they apply (docs/versions.md).
 * @returns `res` itself, or a copy with mutable headers when the origin's response had immutable ones
 */
export function stampResponse(c: Context<AppEnv>, res: Response): Response {
  const stamps: Record<string, string> = { "X-Request-Id": c.get("requestId") };
  const version = c.get("version");
  if (version) {
    stamps[API_VERSION_HEADER] = version.entry.version;
    Object.assign(stamps, deprecationHeaders(version.entry));
  }
  try {
    for (const [name, value] of Object.entries(stamps)) res.headers.set(name, value);
    return res;
  } catch {
    // A WebSocket handshake (101) keeps its socket; anything else is copied into a mutable response.
    const headers = new Headers(res.headers);
    for (const [name, value] of Object.entries(stamps)) headers.set(name, value);
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers, webSocket: res.webSocket });
  }
}

/** How a forwarded response body ended, and when its headers went out. */
export interface BodyEnd {
  delivery: Delivery;
  /** Milliseconds from arrival to the response headers. */
  durationMs: number;
}

function outcomeOf(c: Context<AppEnv>, res: Response, delivery: Delivery | undefined): AuditOutcome {
  if (c.get("errorCode")) return res.status >= 500 ? "error" : "denied";
  // The origin's body broke off: the upstream failed, whatever its status said.
  if (delivery === "upstream_body_incomplete") return "error";
  return "allowed";
}

/** The event's reason: the error code of the answer, how a forwarded body failed to arrive, or `ok`. */
function reasonOf(c: Context<AppEnv>, delivery: Delivery | undefined): string {
  const code = c.get("errorCode");
  if (code !== undefined) return code;
  return delivery === undefined || delivery === "delivered" ? "ok" : delivery;
}

/**
 * The event's inputs. `country` and `colo` come from `request.cf` (DESIGN §8: Cloudflare's own
 * values, which a client cannot set). Reading `cf` is not free: workerd parses and deep-freezes the
 * whole object on first access (docs/benchmark.md).
 */
function auditInput(c: Context<AppEnv>, url: URL, res: Response, ended: BodyEnd | undefined): AuditInput {
  const caller = c.get("caller");
  const clientIp = c.get("clientIp");
  const cf = c.req.raw.cf as { country?: unknown; colo?: unknown } | undefined;
  return {
    eventId: crypto.randomUUID(),
    timeMs: c.get("startedAtMs"),
    requestId: c.get("requestId"),
    rayId: c.req.header("cf-ray") ?? null,
    outcome: outcomeOf(c, res, ended?.delivery),
    reason: reasonOf(c, ended?.delivery),
    accountId: caller?.accountId ?? null,
    accountVerified: caller?.verified ?? false,
    keyId: caller?.keyId ?? null,
    mode: caller?.mode ?? null,
    requestedVersion: c.get("requestedVersion") ?? null,
    resolvedVersion: c.get("version")?.entry.version ?? null,
    origin: c.get("upstreamOrigin") ?? null,
    method: c.req.method,
    host: url.host,
    path: url.pathname,
    status: res.status,
    durationMs: ended?.durationMs ?? Date.now() - c.get("startedAtMs"),
    connectingIp: clientIp?.connectingIp ?? null,
    sourceIp: clientIp?.sourceIp ?? null,
    sourceIpFrom: clientIp?.sourceIpFrom ?? "none",
    forwarded: clientIp?.forwarded ?? { raw: null, rawLength: 0, entries: [], count: 0 },
    userAgent: c.req.header("user-agent") ?? null,
    country: typeof cf?.country === "string" ? cf.country : null,
    colo: typeof cf?.colo === "string" ? cf.colo : null,
    // Found by the forward handler when the request got that far; otherwise (refused early) looked up here.
    forgedHeaders: c.get("forgedHeaders") ?? forgedIdentityHeaders(c.req.raw.headers),
    wouldRefuse: c.get("wouldRefuse") ?? null,
  };
}
