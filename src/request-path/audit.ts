/**
 * The last steps of every API request (src/request-path/handler.ts): stamp the answer with
 * `X-Request-Id`, the resolved `X-Spot-Api-Version` and deprecation headers, then build the audit
 * event and hand its sending to `ctx.waitUntil`, so the audit trail never delays or changes the
 * answer (DESIGN §8).
 */
import type { BatchLimits } from "../audit/batcher";
import { type AuditInput, type AuditOutcome, buildAuditEvent } from "../audit/event";
import { type AnyAuditEvent, DEFAULT_BATCH_LIMITS, sendAuditEvent } from "../audit/producer";
import type { Delivery } from "../forwarding/delivery";
import { forgedIdentityHeaders } from "../forwarding/headers";
import { API_VERSION_HEADER } from "../keys/credentials";
import { errorMessage, log } from "../log";
import { deprecationHeaders } from "../versioning/resolve";
import type { ApiCall, WaitUntil } from "./call";

/**
 * Builds the request's audit event from what the request path set on the call and the final answer,
 * and queues it (coalesced per isolate: src/audit/producer.ts), handing the batch's flush to
 * `ctx.waitUntil` when this request is the one that keeps it alive (src/audit/batcher.ts). Never
 * throws and never delays the answer: a failure to build the event is one `audit_build_failed` log
 * line with the request id.
 * @param res the final answer (its status is recorded)
 * @param ended for a forwarded response body: how it ended, and the milliseconds from arrival to the
 *        response headers (the event's `duration_ms`)
 */
export function recordAuditEvent(call: ApiCall, res: Response, ended?: BodyEnd): void {
  try {
    queueAuditEvent(call, buildAuditEvent(auditInput(call, res, ended)));
  } catch (err) {
    log("error", "audit_build_failed", { request_id: call.requestId, error: errorMessage(err) });
  }
}

/**
 * Queues an audit event, request or admin (src/admin/middleware.ts), in this isolate's batch and hands
 * `ctx.waitUntil` what this request must keep alive for it (src/audit/batcher.ts). Never throws.
 */
export function queueAuditEvent(c: { env: Env; executionCtx: WaitUntil }, event: AnyAuditEvent): void {
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
export function stampResponse(call: ApiCall, res: Response): Response {
  const version = call.version;
  try {
    stamp(res.headers, call.requestId, version);
    return res;
  } catch {
    // A WebSocket handshake (101) keeps its socket; anything else is copied into a mutable response.
    const headers = new Headers(res.headers);
    stamp(headers, call.requestId, version);
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers, webSocket: res.webSocket });
  }
}

function stamp(headers: Headers, requestId: string, version: ApiCall["version"]): void {
  headers.set("X-Request-Id", requestId);
  if (version === undefined) return;
  headers.set(API_VERSION_HEADER, version.entry.version);
  if (version.entry.status !== "deprecated") return;
  const deprecation = deprecationHeaders(version.entry);
  for (const name in deprecation) headers.set(name, deprecation[name] as string);
}

/** How a forwarded response body ended, and when its headers went out. */
export interface BodyEnd {
  delivery: Delivery;
  /** Milliseconds from arrival to the response headers. */
  durationMs: number;
}

function outcomeOf(call: ApiCall, res: Response, delivery: Delivery | undefined): AuditOutcome {
  if (call.errorCode) return res.status >= 500 ? "error" : "denied";
  // The origin's body broke off: the upstream failed, whatever its status said.
  if (delivery === "upstream_body_incomplete") return "error";
  return "allowed";
}

/** The event's reason: the error code of the answer, how a forwarded body failed to arrive, or `ok`. */
function reasonOf(call: ApiCall, delivery: Delivery | undefined): string {
  const code = call.errorCode;
  if (code !== undefined) return code;
  return delivery === undefined || delivery === "delivered" ? "ok" : delivery;
}

/**
 * The event's inputs. `country` and `colo` come from `request.cf` (DESIGN §8: Cloudflare's own
 * values, which a client cannot set). Reading `cf` is not free: workerd parses and deep-freezes the
 * whole object on first access (docs/benchmark.md).
 */
function auditInput(call: ApiCall, res: Response, ended: BodyEnd | undefined): AuditInput {
  const caller = call.caller;
  const clientIp = call.clientIp;
  const request = call.request;
  const cf = request.cf as { country?: unknown; colo?: unknown } | undefined;
  return {
    eventId: crypto.randomUUID(),
    timeMs: call.startedAtMs,
    requestId: call.requestId,
    rayId: call.header("cf-ray"),
    outcome: outcomeOf(call, res, ended?.delivery),
    reason: reasonOf(call, ended?.delivery),
    accountId: caller?.accountId ?? null,
    accountVerified: caller?.verified ?? false,
    keyId: caller?.keyId ?? null,
    mode: caller?.mode ?? null,
    requestedVersion: call.requestedVersion,
    resolvedVersion: call.version?.entry.version ?? null,
    origin: call.upstreamOrigin ?? null,
    method: request.method,
    host: call.url.host,
    path: call.url.pathname,
    status: res.status,
    durationMs: ended?.durationMs ?? Date.now() - call.startedAtMs,
    connectingIp: clientIp?.connectingIp ?? null,
    sourceIp: clientIp?.sourceIp ?? null,
    sourceIpFrom: clientIp?.sourceIpFrom ?? "none",
    forwarded: clientIp?.forwarded ?? { raw: null, rawLength: 0, entries: [], count: 0 },
    userAgent: call.header("user-agent"),
    country: typeof cf?.country === "string" ? cf.country : null,
    colo: typeof cf?.colo === "string" ? cf.colo : null,
    // Found by the forward step when the request got that far; otherwise (refused early) looked up here.
    forgedHeaders: call.forgedHeaders ?? forgedIdentityHeaders(request.headers),
    wouldRefuse: call.wouldRefuse ?? null,
  };
}
