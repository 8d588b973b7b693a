/**
 * Enforces the verified key's policy (docs/storage.md "Key policy"), after authenticate and before
 * forwarding, with no KV read of its own (the policy travels in the key record):
 *
 * 1. IP allowlist: when the key has one, the connecting IP (`CF-Connecting-IP`, never
 *    `X-Forwarded-For`) must lie in one of its CIDR ranges, else 403 `ip_not_allowed`. Checked first,
 *    so requests from elsewhere never spend the key's quota.
 * 2. Rate limit: the key's `rate_limit_per_minute`, else `KEY_RATE_LIMIT_PER_MINUTE`, counted by the
 *    binding of that tier (`KEY_RATE_LIMIT_<n>`) under `key:<key_id>` (per Cloudflare location,
 *    approximate: src/ratelimit/limits.ts). Over it: 429 `rate_limited` with `Retry-After`, `RateLimit-Policy` and
 *    `RateLimit` (draft-ietf-httpapi-ratelimit-headers); the key is then refused in this isolate
 *    until the window ends without further binding calls.
 *
 * The binding missing, throwing or slower than `RATE_LIMIT_TIMEOUT_MS`: the request is served
 * (fail open, logged `rate_limit_unavailable`): the credentials are verified, and a limiter outage
 * must not become an API outage.
 */
import { ApiError } from "../errors";
import { enforcedTier, isIpAllowed } from "../keys/policy";
import { consultLimiter } from "../ratelimit/binding";
import { rateLimitedHeaders } from "../ratelimit/headers";
import { secondsUntil, WindowLedger, windowEndMs } from "../ratelimit/ledger";
import { keyLimiterName, RATE_LIMIT_PERIOD_MS, RATE_LIMIT_PERIOD_SECONDS } from "../ratelimit/limits";
import type { ApiCall } from "./call";

/** Keys one isolate remembers as over their limit, at most. */
export const KEY_LEDGER_MAX_ENTRIES = 10_000;

const ledger = new WindowLedger(KEY_LEDGER_MAX_ENTRIES);

/** Tests: forget which keys this isolate saw over their limit. */
export function clearKeyLimitLedger(): void {
  ledger.clear();
}

function keyRateLimited(perMinute: number, untilMs: number, nowMs: number): ApiError {
  const retryAfter = secondsUntil(untilMs, nowMs);
  return new ApiError(
    "rate_limited",
    `This API key is limited to ${perMinute} requests per minute. Retry after ${retryAfter} seconds.`,
    rateLimitedHeaders("key", perMinute, RATE_LIMIT_PERIOD_SECONDS, retryAfter),
  );
}

/**
 * @throws ApiError `ip_not_allowed` (403), `rate_limited` (429, with `Retry-After`, `RateLimit-Policy`,
 *         `RateLimit`), `authorizer_unavailable` (503) when called before authentication
 */
export async function enforceKeyPolicy(call: ApiCall): Promise<void> {
  const caller = call.caller;
  if (!caller?.verified || !caller.keyId) {
    // Unreachable after authenticate; fail closed if the order is wrong.
    throw new ApiError("authorizer_unavailable", "The request was not authenticated.");
  }
  const policy = caller.policy;
  if (policy?.ipAllowlist && !isIpAllowed(call.clientIp?.connectingIp ?? null, policy.ipAllowlist)) {
    throw new ApiError("ip_not_allowed", "This API key may not be used from this IP address (the key has an IP allowlist).");
  }

  const config = call.config();
  const perMinute = enforcedTier(policy?.rateLimitPerMinute ?? config.keyRateLimitPerMinute);
  // Each tier is its own binding (its own counters); this isolate's memory of a block is per tier too,
  // so raising a key's limit takes effect without waiting for the old block to end here.
  const counterKey = `key:${caller.keyId}`;
  const ledgerKey = `${counterKey}@${perMinute}`;
  const blockedUntil = ledger.anyBlocked(Date.now()) ? ledger.blockedUntil(ledgerKey, Date.now()) : 0;
  if (blockedUntil > 0) throw keyRateLimited(perMinute, blockedUntil, Date.now());
  const name = keyLimiterName(perMinute);
  const verdict = await consultLimiter(call.env[name], name, counterKey, config.rateLimitTimeoutMs, call.requestId);
  if (verdict === "limited") {
    const now = Date.now();
    const end = windowEndMs(now, RATE_LIMIT_PERIOD_MS);
    ledger.block(ledgerKey, end);
    throw keyRateLimited(perMinute, end, now);
  }
}
