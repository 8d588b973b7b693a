/**
 * The two limits of the request path and how they map onto the rate-limiting bindings of
 * wrangler.toml (README "Limits"; docs/errors.md "Rate limits"). Pure.
 *
 * - Failed attempts per connecting address: binding `AUTH_FAILURE_LIMITER`, counter key from
 *   {@link failedAuthKey}, one call per credential failure, limit `AUTH_FAILURE_LIMIT` per
 *   {@link RATE_LIMIT_PERIOD_SECONDS} (the binding's `simple.limit` must equal it; a test checks).
 * - Requests per key: the binding of the key's tier, `KEY_RATE_LIMIT_<n>` with `simple.limit` = n
 *   per {@link RATE_LIMIT_PERIOD_SECONDS} ({@link keyLimiterName}), counter key `key:<key_id>`.
 *   A binding's limit is fixed at deploy time, hence one binding per tier. (The newer `delta`
 *   argument would let one binding weigh requests differently per key, but the Miniflare of the test
 *   runtime refuses it; revisit when every runtime supports it.)
 */
import ipaddr from "ipaddr.js";
import type { RateLimitTier } from "../keys/policy";

/** Period of every rate-limiting binding, seconds (the binding accepts 10 or 60). */
export const RATE_LIMIT_PERIOD_SECONDS = 60;
export const RATE_LIMIT_PERIOD_MS = RATE_LIMIT_PERIOD_SECONDS * 1000;

/** Name of the binding that counts requests of keys limited to `tier` per minute. */
export function keyLimiterName(tier: RateLimitTier): `KEY_RATE_LIMIT_${RateLimitTier}` {
  return `KEY_RATE_LIMIT_${tier}`;
}

/**
 * Counter key of the failed-attempt limit for a connecting address: an IPv4 address as is; an IPv6
 * address by its /64 (one customer line or host usually holds a whole /64, so counting single IPv6
 * addresses would let one attacker rotate through 2^64 of them); no usable address: one shared key.
 * @param connectingIp the normalised connecting IP (src/client-ip/resolve.ts) or null
 */
export function failedAuthKey(connectingIp: string | null): string {
  if (connectingIp === null) return "fail:none";
  try {
    const address = ipaddr.parse(connectingIp);
    if (address.kind() === "ipv4") return `fail:${address.toString()}`;
    const parts = (address as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16));
    return `fail:${parts.join(":")}::/64`;
  } catch {
    return "fail:none";
  }
}
