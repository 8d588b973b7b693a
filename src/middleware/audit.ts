/**
 * The outermost middleware after the request id: on the way out it stamps every response with
 * `X-Request-Id`, the resolved `X-Spot-Api-Version` and deprecation headers, then builds the audit
 * event and hands its sending to `ctx.waitUntil`, so the audit trail never delays or changes the
 * response (DESIGN §8).
 */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { BatchLimits } from "../audit/batcher";
import { type AuditOutcome, buildAuditEvent } from "../audit/event";
import { DEFAULT_BATCH_LIMITS, sendAuditEvent } from "../audit/producer";
import type { AppEnv } from "../env";
import { forgedIdentityHeaders } from "../forwarding/headers";
import { API_VERSION_HEADER } from "../keys/credentials";
import { errorMessage, log } from "../log";
import { deprecationHeaders } from "../versioning/resolve";

export const audit = createMiddleware<AppEnv>(async (c, next) => {
  c.set("startedAtMs", Date.now());
  await next();
  stampResponse(c);
  try {
    const event = buildAuditEvent(auditInput(c));
    c.executionCtx.waitUntil(sendAuditEvent(c.env.AUDIT_QUEUE, event, batchLimits(c.env)));
  } catch (err) {
    // Building the event must never change the response; say so in the log with the request id.
    log("error", "audit_build_failed", { request_id: c.get("requestId"), error: errorMessage(err) });
  }
});

/**
 * Batch bounds from `AUDIT_BATCH_DELAY_MS` (milliseconds, 0..1000). Read leniently: the audit path
 * must work even when the rest of the configuration does not, so a bad value means the default.
 * Also used for the admin API's events (src/admin/app.ts).
 */
export function batchLimits(env: Env): BatchLimits {
  const delay = Number(env.AUDIT_BATCH_DELAY_MS);
  const valid =
    env.AUDIT_BATCH_DELAY_MS !== undefined && env.AUDIT_BATCH_DELAY_MS !== "" && Number.isInteger(delay) && delay >= 0 && delay <= 1000;
  return valid ? { ...DEFAULT_BATCH_LIMITS, maxDelayMs: delay } : DEFAULT_BATCH_LIMITS;
}

/** Adds the response headers every answer carries; copes with an origin response whose headers are immutable. */
function stampResponse(c: Context<AppEnv>): void {
  const stamps: Record<string, string> = { "X-Request-Id": c.get("requestId") };
  const version = c.get("version");
  if (version) {
    stamps[API_VERSION_HEADER] = version.entry.version;
    Object.assign(stamps, deprecationHeaders(version.entry));
  }
  let res = c.res;
  try {
    for (const [name, value] of Object.entries(stamps)) res.headers.set(name, value);
  } catch {
    // A WebSocket handshake (101) keeps its socket; anything else is copied into a mutable response.
    const headers = new Headers(res.headers);
    for (const [name, value] of Object.entries(stamps)) headers.set(name, value);
    res = new Response(res.body, { status: res.status, statusText: res.statusText, headers, webSocket: res.webSocket });
    c.res = undefined;
    c.res = res;
  }
}

function outcomeOf(c: Context<AppEnv>): AuditOutcome {
  if (c.get("errorCode")) {
    const status = c.res.status;
    return status >= 500 ? "error" : "denied";
  }
  return "allowed";
}

function auditInput(c: Context<AppEnv>) {
  const url = new URL(c.req.url);
  const caller = c.get("caller");
  const clientIp = c.get("clientIp");
  const cf = c.req.raw.cf as { country?: string; colo?: string } | undefined;
  return {
    eventId: crypto.randomUUID(),
    timeMs: c.get("startedAtMs"),
    requestId: c.get("requestId"),
    rayId: c.req.header("cf-ray") ?? null,
    outcome: outcomeOf(c),
    reason: c.get("errorCode") ?? "ok",
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
    status: c.res.status,
    durationMs: Date.now() - c.get("startedAtMs"),
    connectingIp: clientIp?.connectingIp ?? null,
    sourceIp: clientIp?.sourceIp ?? null,
    sourceIpFrom: clientIp?.sourceIpFrom ?? "none",
    forwarded: clientIp?.forwarded ?? { raw: null, rawLength: 0, entries: [], count: 0 },
    userAgent: c.req.header("user-agent") ?? null,
    country: cf?.country ?? null,
    colo: cf?.colo ?? null,
    // Found by the forward handler when the request got that far; otherwise (refused early) looked up here.
    forgedHeaders: c.get("forgedHeaders") ?? forgedIdentityHeaders(c.req.raw.headers),
  };
}
