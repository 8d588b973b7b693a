/**
 * Failed-attempt throttling per connecting address (README "Limits", docs/errors.md "Rate limits").
 *
 * Counts only credential failures — the 400/401 answers of the credential checks
 * ({@link CREDENTIAL_FAILURES}) — per `CF-Connecting-IP` (IPv6: per /64; never `X-Forwarded-For`),
 * with the `AUTH_FAILURE_LIMITER` rate-limiting binding as the shared counter of the Cloudflare
 * location and an isolate ledger as this isolate's memory of it:
 *
 *   before anything else   the address is blocked in this isolate → 429 `rate_limited`: no header
 *                          parsing, no HMAC, no KV read, no binding call
 *   after a failure        count it here and in the binding (one call); the binding says the location
 *                          is over the limit, or this isolate alone has seen more than the limit → this
 *                          answer becomes a 429; the limit reached (here or there) → block the address
 *                          in this isolate until the window ends
 *
 * So past `AUTH_FAILURE_LIMIT` failures in a window, an isolate spends no KV read on that address;
 * another isolate of the location spends at most the one failure that tells it the binding's verdict.
 * Successful requests never call this binding. A blocked address is refused whatever it sends, valid
 * credentials included: otherwise a flood could still tell a right guess from a wrong one.
 *
 * Binding missing, throwing or slow: the failure is still counted in the isolate, the binding's verdict
 * is skipped (fail open, logged `rate_limit_unavailable`). Failing closed would gain nothing — the
 * request is already refused — and secrets of ≥ 196 bits are not guessable at any rate.
 */
import { type Config, getConfig } from "../env";
import { ApiError, type ErrorCode, jsonErrorResponse } from "../errors";
import { consultLimiter } from "../ratelimit/binding";
import { rateLimitedHeaders } from "../ratelimit/headers";
import { secondsUntil, WindowLedger, windowEndMs } from "../ratelimit/ledger";
import { failedAuthKey, RATE_LIMIT_PERIOD_MS, RATE_LIMIT_PERIOD_SECONDS } from "../ratelimit/limits";
import type { ApiCall } from "./call";

/** The answers that count as a failed attempt: every refusal of the credential checks. */
export const CREDENTIAL_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "duplicate_header",
  "missing_api_key",
  "missing_api_secret",
  "malformed_api_key",
  "malformed_api_secret",
  "invalid_credentials",
]);

/** Addresses one isolate remembers at most. */
export const FAILED_AUTH_LEDGER_MAX_ENTRIES = 10_000;

const ledger = new WindowLedger(FAILED_AUTH_LEDGER_MAX_ENTRIES);

/** Tests: forget every count and block of this isolate. */
export function clearFailedAuthLedger(): void {
  ledger.clear();
}

function tooManyFailures(limit: number, untilMs: number, nowMs: number): ApiError {
  const retryAfter = secondsUntil(untilMs, nowMs);
  return new ApiError(
    "rate_limited",
    `Too many failed authentication attempts from this address. Retry after ${retryAfter} seconds.`,
    rateLimitedHeaders("failed-auth", limit, RATE_LIMIT_PERIOD_SECONDS, retryAfter),
  );
}

/**
 * Before anything else: an address this isolate has blocked is refused at once.
 * @throws ApiError `rate_limited` (429, with `Retry-After`, `RateLimit-Policy`, `RateLimit`)
 */
export function refuseBlockedAddress(call: ApiCall): void {
  const now = Date.now();
  // Nothing blocked in this isolate (the usual case): no need to work out the address's key.
  if (!ledger.anyBlocked(now)) return;
  const key = failedAuthKey(call.clientIp?.connectingIp ?? null);
  const blockedUntil = ledger.blockedUntil(key, now);
  if (blockedUntil > 0) throw tooManyFailures(call.config().authFailureLimit, blockedUntil, Date.now());
}

/**
 * After the answer: counts a credential failure (`call.errorCode` in {@link CREDENTIAL_FAILURES})
 * here and in the `AUTH_FAILURE_LIMITER` binding, and blocks the address when over the limit.
 * @param res the answer so far
 * @returns `res`, or a 429 `rate_limited` in its place when the binding says the location is over the limit
 */
export async function countFailedAttempt(call: ApiCall, res: Response): Promise<Response> {
  const answered = call.errorCode;
  // Report-only mode: a credential failure forwarded anyway counts the same (its address is then
  // blocked as in enforcement), but the origin's answer stays: the block applies from the next request.
  const code = answered ?? call.wouldRefuse;
  if (code === undefined || !CREDENTIAL_FAILURES.has(code)) return res;
  let config: Config;
  try {
    config = getConfig(call.env);
  } catch {
    return res;
  }
  const key = failedAuthKey(call.clientIp?.connectingIp ?? null);
  const limit = config.authFailureLimit;
  const now = Date.now();
  const seenHere = ledger.count(key, RATE_LIMIT_PERIOD_MS, now);
  const verdict =
    seenHere > limit
      ? "limited"
      : await consultLimiter(call.env.AUTH_FAILURE_LIMITER, "AUTH_FAILURE_LIMITER", key, config.rateLimitTimeoutMs, call.requestId);
  const end = windowEndMs(now, RATE_LIMIT_PERIOD_MS);
  if (verdict === "limited" || seenHere >= limit) ledger.block(key, end);
  if (verdict !== "limited" || answered === undefined) return res;
  const err = tooManyFailures(limit, end, Date.now());
  call.errorCode = err.code;
  return jsonErrorResponse(call.requestId, err);
}
