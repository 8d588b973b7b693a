/**
 * Who is calling (DESIGN §5).
 *
 * - `CF-Connecting-IP` is set by Cloudflare's edge to the address that opened the connection
 *   (https://developers.cloudflare.com/fundamentals/reference/http-headers/). It is the only address
 *   trusted for decisions (rate limits, allowlists).
 * - `X-Forwarded-For` is what the customer's own proxies assert about the original caller
 *   (MDN X-Forwarded-For; RFC 7239 for the standardised `Forwarded` field and its history). It is
 *   recorded and labelled as asserted, never used for access decisions.
 */
import { trimOws } from "../text";
import { type ForwardedChain, parseAddress, parseForwardedFor } from "./forwarded";

/** The client addresses of one request. */
export interface ClientIp {
  /**
   * `CF-Connecting-IP`, normalised (ipaddr.js `toString()`, IPv4-mapped IPv6 unwrapped); `null`
   * when absent or not a bare IP address. The only address trusted for decisions.
   */
  connectingIp: string | null;
  /** The parsed `X-Forwarded-For` chain (asserted). */
  forwarded: ForwardedChain;
  /**
   * The original caller for the audit trail: the left-most valid element among the parsed (first
   * 20) forwarded entries, else `connectingIp`, else `null`. Asserted when taken from the chain.
   */
  sourceIp: string | null;
  /** Where `sourceIp` came from. */
  sourceIpFrom: "x-forwarded-for" | "cf-connecting-ip" | "none";
}

/**
 * Resolves the client addresses of a request from its headers. Never throws.
 *
 * @param cfConnectingIp value of `CF-Connecting-IP` (a bare IPv4 or IPv6 address; surrounding
 *   spaces/tabs are ignored, anything else such as a port, brackets or a zone id makes it `null`)
 * @param xForwardedFor  value of `X-Forwarded-For`, parsed with {@link parseForwardedFor}
 */
export function resolveClientIp(cfConnectingIp: string | null | undefined, xForwardedFor: string | null | undefined): ClientIp {
  const connectingIp = typeof cfConnectingIp === "string" ? (parseAddress(trimOws(cfConnectingIp))?.ip ?? null) : null;
  const forwarded = parseForwardedFor(xForwardedFor);
  const asserted = forwarded.entries.find((entry) => entry.valid && entry.ip !== null);
  if (asserted?.ip) {
    return { connectingIp, forwarded, sourceIp: asserted.ip, sourceIpFrom: "x-forwarded-for" };
  }
  if (connectingIp !== null) {
    return { connectingIp, forwarded, sourceIp: connectingIp, sourceIpFrom: "cf-connecting-ip" };
  }
  return { connectingIp, forwarded, sourceIp: null, sourceIpFrom: "none" };
}

/** Removes C0 control characters (CR, LF, NUL, TAB…) and DEL: never copied into an outgoing header. */
function stripControls(value: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) {
      out += value.slice(from, i);
      from = i + 1;
    }
  }
  return from === 0 ? value : out + value.slice(from);
}

/**
 * The `X-Forwarded-For` value to send upstream: the incoming chain as received, with the
 * connecting address appended as the hop that reached Cloudflare (the usual proxy convention,
 * MDN X-Forwarded-For).
 *
 * The incoming value has control characters (CR, LF, NUL, TAB, DEL…) removed and surrounding
 * spaces trimmed; it is otherwise passed on unchanged, invalid elements included, and not capped
 * (it already passed the edge's header size limits). Results:
 * - incoming `a, b` and connecting `c` → `a, b, c`;
 * - no (or blank) incoming value → `c`;
 * - incoming but no connecting address → the incoming value;
 * - neither → `null` (send no header).
 *
 * @param xForwardedFor the incoming `X-Forwarded-For` value
 * @param connectingIp  {@link ClientIp.connectingIp} (already validated and normalised)
 */
export function upstreamForwardedFor(xForwardedFor: string | null | undefined, connectingIp: string | null): string | null {
  const incoming = typeof xForwardedFor === "string" ? trimOws(stripControls(xForwardedFor)) : "";
  const hop = typeof connectingIp === "string" ? stripControls(connectingIp).trim() : "";
  if (incoming === "") return hop === "" ? null : hop;
  if (hop === "") return incoming;
  return `${incoming}, ${hop}`;
}
