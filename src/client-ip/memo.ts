/**
 * An isolate-level memo of {@link resolveClientIp}: the same callers send the same
 * `CF-Connecting-IP` / `X-Forwarded-For` pair request after request, so the parse (ipaddr.js, one
 * parse per address) is done once per pair. Results are deep-frozen, since one object is shared by
 * every request with that pair; the memo holds at most {@link CLIENT_IP_MEMO_MAX_ENTRIES} pairs and
 * is emptied when full, and pairs whose `X-Forwarded-For` is longer than
 * {@link CLIENT_IP_MEMO_MAX_XFF_CHARS} (or `CF-Connecting-IP` longer than
 * {@link CLIENT_IP_MEMO_MAX_CONNECTING_CHARS}) are parsed every time, so its size stays bounded in bytes.
 */
import type { ForwardedEntry } from "./forwarded";
import { type ClientIp, resolveClientIp } from "./resolve";

/** Pairs remembered per isolate, at most. */
export const CLIENT_IP_MEMO_MAX_ENTRIES = 1024;
/** Longest `X-Forwarded-For` (UTF-16 code units) whose result is remembered. */
export const CLIENT_IP_MEMO_MAX_XFF_CHARS = 256;
/** Longest `CF-Connecting-IP` remembered (an IPv6 address in any notation is shorter). */
export const CLIENT_IP_MEMO_MAX_CONNECTING_CHARS = 64;

const memo = new Map<string, ClientIp>();

/**
 * Same result as {@link resolveClientIp} (src/client-ip/resolve.ts), frozen.
 * @param cfConnectingIp `CF-Connecting-IP` as received, or null when absent
 * @param xForwardedFor `X-Forwarded-For` as received, or null when absent
 */
export function resolveClientIpMemo(cfConnectingIp: string | null, xForwardedFor: string | null): ClientIp {
  if (
    (xForwardedFor !== null && xForwardedFor.length > CLIENT_IP_MEMO_MAX_XFF_CHARS) ||
    (cfConnectingIp !== null && cfConnectingIp.length > CLIENT_IP_MEMO_MAX_CONNECTING_CHARS)
  ) {
    return resolveClientIp(cfConnectingIp, xForwardedFor);
  }
  // Header values never contain a line feed, so the key is unambiguous; "\r" marks an absent header.
  const key = `${cfConnectingIp ?? "\r"}\n${xForwardedFor ?? "\r"}`;
  let result = memo.get(key);
  if (result === undefined) {
    result = freezeClientIp(resolveClientIp(cfConnectingIp, xForwardedFor));
    if (memo.size >= CLIENT_IP_MEMO_MAX_ENTRIES) memo.clear();
    memo.set(key, result);
  }
  return result;
}

/** Tests: forget every remembered pair. */
export function clearClientIpMemo(): void {
  memo.clear();
}

function freezeClientIp(ip: ClientIp): ClientIp {
  for (const entry of ip.forwarded.entries) Object.freeze(entry as ForwardedEntry);
  Object.freeze(ip.forwarded.entries);
  Object.freeze(ip.forwarded);
  return Object.freeze(ip);
}
