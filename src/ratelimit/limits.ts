/**
 * The two limits of the request path and how they map onto the rate-limiting bindings of
 * wrangler.toml (README "Limits"; docs/errors.md "Rate limits"). Pure.
 *
 * - Failed attempts per connecting address: binding `AUTH_FAILURE_LIMITER`, counter key from
 *   {@link failedAuthKey}, one unit per credential failure, limit `AUTH_FAILURE_LIMIT` per
 *   {@link RATE_LIMIT_PERIOD_SECONDS} (the binding's `simple.limit` must equal it).
 * - Requests per key: binding `KEY_RATE_LIMITER`, counter key `key:<key_id>`. The binding's limit is
 *   fixed in wrangler.toml, so every key shares one capacity of {@link KEY_RATE_LIMIT_UNITS} units per
 *   period and a request of a key limited to N per minute weighs {@link keyLimitDelta}(N) units
 *   (`delta`): the binding then allows ⌈UNITS / delta⌉ ≥ N requests, at most about N²/UNITS more
 *   than N (≤ 1.7 % at the largest N allowed, exact for every N that divides 6,000,000).
 */
import ipaddr from "ipaddr.js";
import { MAX_RATE_LIMIT_PER_MINUTE } from "../keys/policy";

/** Period of both bindings, seconds (the binding accepts 10 or 60). */
export const RATE_LIMIT_PERIOD_SECONDS = 60;
export const RATE_LIMIT_PERIOD_MS = RATE_LIMIT_PERIOD_SECONDS * 1000;
/** `simple.limit` of `KEY_RATE_LIMITER` in wrangler.toml: the units one key may spend per period. */
export const KEY_RATE_LIMIT_UNITS = 6_000_000;

/**
 * Units one request of a key limited to `perMinute` requests per minute costs (`delta` of the call).
 * @param perMinute 1..{@link MAX_RATE_LIMIT_PER_MINUTE}
 */
export function keyLimitDelta(perMinute: number): number {
  const n = Math.min(Math.max(Math.floor(perMinute), 1), MAX_RATE_LIMIT_PER_MINUTE);
  return Math.max(1, Math.floor(KEY_RATE_LIMIT_UNITS / n));
}

/** Requests per period the binding actually allows for a key limited to `perMinute` (≥ perMinute). */
export function effectiveKeyLimit(perMinute: number): number {
  return Math.ceil(KEY_RATE_LIMIT_UNITS / keyLimitDelta(perMinute));
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
