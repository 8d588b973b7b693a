/**
 * Rate-limit response fields of draft-ietf-httpapi-ratelimit-headers (revision -11, "RateLimit header
 * fields for HTTP"): both are Structured Field Lists (RFC 9651) of one Item each, a String naming the
 * policy with parameters.
 *
 *   RateLimit-Policy: "key";q=600;w=60     quota q (requests) per window w (seconds)      §3
 *   RateLimit: "key";r=0;t=42              r requests available, within t seconds          §4
 *
 * The authorizer sends them with its 429s only (the draft makes them optional on any response, §6.2):
 * the rate-limiting binding reports no remaining quota, so `r` is known only when it is 0. Retry-After
 * (RFC 9110 §10.2.3) carries the same number of seconds as `t`. Pure.
 */

/** Names of the authorizer's two policies (sf-string, no quotes or backslashes inside). */
export type RateLimitPolicyName = "key" | "failed-auth";

/** `"<name>";q=<quota>;w=<windowSeconds>` (draft §3.1: q and w are non-negative Integers). */
export function rateLimitPolicyField(name: RateLimitPolicyName, quota: number, windowSeconds: number): string {
  return `"${name}";q=${Math.max(0, Math.floor(quota))};w=${Math.max(1, Math.floor(windowSeconds))}`;
}

/** `"<name>";r=<remaining>;t=<seconds>` (draft §4.1). */
export function rateLimitField(name: RateLimitPolicyName, remaining: number, resetSeconds: number): string {
  return `"${name}";r=${Math.max(0, Math.floor(remaining))};t=${Math.max(0, Math.ceil(resetSeconds))}`;
}

/**
 * Headers of a 429: `Retry-After`, `RateLimit-Policy` and `RateLimit` (r=0).
 * @param quota          requests allowed per window
 * @param windowSeconds  the window, seconds
 * @param retryAfterSeconds whole seconds until the caller may try again (≥ 1)
 */
export function rateLimitedHeaders(
  name: RateLimitPolicyName,
  quota: number,
  windowSeconds: number,
  retryAfterSeconds: number,
): Record<string, string> {
  return {
    "Retry-After": String(retryAfterSeconds),
    "RateLimit-Policy": rateLimitPolicyField(name, quota, windowSeconds),
    RateLimit: rateLimitField(name, 0, retryAfterSeconds),
  };
}
