/**
 * Per-key policy (docs/storage.md "Key policy"): an IP allowlist of CIDR ranges and a rate limit
 * override. Pure.
 *
 * The allowlist is matched against the connecting IP only (`CF-Connecting-IP`, the address that
 * opened the connection to Cloudflare; DESIGN §5), never against `X-Forwarded-For`, which anyone can
 * write. Ranges are parsed and matched with ipaddr.js; the CIDR notation is RFC 4632 (IPv4) and
 * RFC 4291 §2.3 (IPv6 prefixes).
 */
import ipaddr from "ipaddr.js";
import { parseAddress } from "../client-ip/forwarded";

/** Most ranges one key's allowlist may hold. */
export const MAX_ALLOWLIST_ENTRIES = 100;
/** Longest CIDR text accepted (a full IPv6 address with a /128 is 43 characters). */
export const MAX_CIDR_CHARS = 64;
/**
 * The per-key rate limits on offer, in requests per minute (per Cloudflare location). A rate-limiting
 * binding's limit is fixed in wrangler.toml, so each tier is one binding (`KEY_RATE_LIMIT_<n>`,
 * src/ratelimit/limits.ts); a key's override and the default must be one of them. Adding a tier is a
 * binding in wrangler.toml plus an entry here.
 */
export const RATE_LIMIT_TIERS_PER_MINUTE = [60, 120, 300, 600, 1200, 3000, 6000, 12000, 30000, 60000] as const;
export type RateLimitTier = (typeof RATE_LIMIT_TIERS_PER_MINUTE)[number];
export const MIN_RATE_LIMIT_PER_MINUTE = RATE_LIMIT_TIERS_PER_MINUTE[0];
export const MAX_RATE_LIMIT_PER_MINUTE = RATE_LIMIT_TIERS_PER_MINUTE[RATE_LIMIT_TIERS_PER_MINUTE.length - 1] as RateLimitTier;

/** Whether `value` is one of {@link RATE_LIMIT_TIERS_PER_MINUTE}. */
export function isRateLimitTier(value: unknown): value is RateLimitTier {
  return (RATE_LIMIT_TIERS_PER_MINUTE as readonly unknown[]).includes(value);
}

/**
 * The tier a stored limit is enforced with: the largest tier not above it (never more generous than
 * what was set), the smallest tier for anything below it. Only matters if tiers change after a limit
 * was stored; the admin API accepts tiers only.
 */
export function enforcedTier(perMinute: number): RateLimitTier {
  let tier: RateLimitTier = MIN_RATE_LIMIT_PER_MINUTE;
  for (const candidate of RATE_LIMIT_TIERS_PER_MINUTE) if (candidate <= perMinute) tier = candidate;
  return tier;
}

/** The policy of a key as the request path uses it; `null` fields mean "not set" (no allowlist; the default limit). */
export interface KeyPolicy {
  /** Normalised CIDR ranges (see {@link normalizeCidr}); null: any address may use the key. */
  ipAllowlist: readonly string[] | null;
  /** Requests per minute for this key; null: the configured default (`KEY_RATE_LIMIT_PER_MINUTE`). */
  rateLimitPerMinute: number | null;
}

export type CidrResult = { ok: true; cidr: string } | { ok: false; reason: string };

/**
 * Parses one allowlist entry and returns its normal form `address/prefix`: IPv4 in dotted decimal,
 * IPv6 in RFC 5952 form (lower case, longest zero run compressed).
 *
 * Accepted: `203.0.113.0/24`, `2001:db8::/32`, and a bare address (`198.51.100.7` = `/32`,
 * `2001:db8::1` = `/128`). Refused, with the reason: anything with spaces, a prefix outside 0..32
 * (IPv4) or 0..128 (IPv6) or written with a sign or leading zeros, host bits set below the prefix
 * (`10.1.2.3/8`: the reason names `10.0.0.0/8`), the ambiguous IPv4 forms ipaddr.js also reads
 * (`127.1`, `0x7f.0.0.1`, leading-zero octets), IPv6 zone ids, and IPv4-mapped IPv6 (`::ffff:1.2.3.0/120`:
 * connecting addresses of that form are matched as IPv4, so write the IPv4 range).
 * Never throws.
 */
export function normalizeCidr(text: string): CidrResult {
  if (typeof text !== "string" || text.length === 0) return { ok: false, reason: "must be an IP address or a CIDR range" };
  if (text.length > MAX_CIDR_CHARS) return { ok: false, reason: `must be at most ${MAX_CIDR_CHARS} characters` };
  if (/\s/.test(text)) return { ok: false, reason: "must not contain spaces" };
  const slash = text.indexOf("/");
  const host = slash < 0 ? text : text.slice(0, slash);
  const address = parseAddress(host);
  if (address === null) return { ok: false, reason: `${JSON.stringify(host)} is not an IPv4 or IPv6 address` };
  if (address.wasIpv6 && address.family === "ipv4") {
    return { ok: false, reason: `IPv4-mapped IPv6 is matched as IPv4: write the range as IPv4 (e.g. ${address.ip}/32)` };
  }
  const maxPrefix = address.family === "ipv4" ? 32 : 128;
  let prefix = maxPrefix;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > maxPrefix) {
      return { ok: false, reason: `the prefix length must be a whole number from 0 to ${maxPrefix}` };
    }
    prefix = Number(prefixText);
  }
  const cidr = `${address.ip}/${prefix}`;
  const network =
    address.family === "ipv4" ? ipaddr.IPv4.networkAddressFromCIDR(cidr).toString() : ipaddr.IPv6.networkAddressFromCIDR(cidr).toString();
  if (network !== address.ip) {
    return { ok: false, reason: `has bits set below its /${prefix} prefix: did you mean ${network}/${prefix}?` };
  }
  return { ok: true, cidr };
}

/** A parsed allowlist, ready for {@link isIpAllowed}. */
export interface CompiledAllowlist {
  ranges: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>;
}

const compiled = new WeakMap<readonly string[], CompiledAllowlist>();

/**
 * Parses normalised ranges once per array (cached by identity, so a record held in the isolate
 * cache is parsed once). Entries that do not parse are skipped: they never match.
 */
export function compileAllowlist(cidrs: readonly string[]): CompiledAllowlist {
  const hit = compiled.get(cidrs);
  if (hit) return hit;
  const ranges: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> = [];
  for (const cidr of cidrs) {
    try {
      ranges.push(ipaddr.parseCIDR(cidr));
    } catch {
      // A stored range is validated on every KV read; one that still fails to parse matches nothing.
    }
  }
  const list = { ranges };
  compiled.set(cidrs, list);
  return list;
}

/**
 * Whether `ip` lies in one of the ranges. `ip` is the connecting IP as resolved by
 * src/client-ip/resolve.ts (normalised, IPv4-mapped IPv6 already unwrapped); `null` (no usable
 * `CF-Connecting-IP`) is never allowed. An IPv4 address only matches IPv4 ranges, IPv6 only IPv6.
 * Never throws.
 */
export function isIpAllowed(ip: string | null, cidrs: readonly string[]): boolean {
  if (ip === null) return false;
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.parse(ip);
  } catch {
    return false;
  }
  for (const [range, prefix] of compileAllowlist(cidrs).ranges) {
    if (range.kind() === address.kind() && address.match(range, prefix)) return true;
  }
  return false;
}
