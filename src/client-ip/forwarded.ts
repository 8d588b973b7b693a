/**
 * Parsing of `X-Forwarded-For`, the de-facto header in which proxies list the addresses a request
 * passed through, left-most = the original client as asserted by the first proxy
 * (https://developer.mozilla.org/docs/Web/HTTP/Headers/X-Forwarded-For). RFC 7239 standardised the
 * same information as `Forwarded: for=…` (§5.2, node syntax §6) and describes this header's
 * history; its node forms (`[v6]:port`, `v4:port`, obfuscated `_hidden` identifiers, `unknown`)
 * also turn up in `X-Forwarded-For` and are handled here.
 *
 * Everything here is asserted by the client or its infrastructure: record it, never decide on it.
 * Every IP is parsed with ipaddr.js; nothing here throws, whatever the input.
 */
import ipaddr from "ipaddr.js";
import { capChars, isOws, trimOws } from "../text";

/** At most this many parsed entries are kept (left-most first); `count` still says how many there were. */
export const MAX_FORWARDED_ENTRIES = 20;

/** The raw header is kept up to this many UTF-16 code units; `rawLength` keeps the original length. */
export const MAX_FORWARDED_RAW_CHARS = 2048;

/** Each entry's `raw` is kept up to this many UTF-16 code units; a longer entry is never a valid node. */
export const MAX_ENTRY_RAW_CHARS = 64;

/** One comma-separated element of `X-Forwarded-For`. */
export interface ForwardedEntry {
  /** The element with surrounding spaces/tabs removed, cut to {@link MAX_ENTRY_RAW_CHARS} code units. */
  raw: string;
  /**
   * The address in normalised form (ipaddr.js `toString()`: IPv4 dotted decimal, IPv6 RFC 5952
   * compressed lower-case), IPv4-mapped IPv6 unwrapped to IPv4; `null` when the element is not a
   * valid node.
   */
  ip: string | null;
  /** Port given as `v4:port` or `[v6]:port` (1..65535), else `null`. */
  port: number | null;
  /** Family of `ip`; `null` when invalid. */
  family: "ipv4" | "ipv6" | null;
  /** Whether the element is an accepted address form. */
  valid: boolean;
}

/** The parsed header. */
export interface ForwardedChain {
  /** The header value as received, cut to {@link MAX_FORWARDED_RAW_CHARS} code units; `null` when absent. */
  raw: string | null;
  /** Length of the header as received, in UTF-16 code units; 0 when absent. */
  rawLength: number;
  /** The first {@link MAX_FORWARDED_ENTRIES} elements, left-most first. */
  entries: ForwardedEntry[];
  /** Number of elements in the whole header (commas + 1; 0 for an absent, empty or blank header). */
  count: number;
  /** True when anything was cut: elements beyond the entry cap, or the raw value beyond its cap. */
  truncated: boolean;
}

/**
 * Parses one element of `X-Forwarded-For`.
 *
 * Accepted forms (after trimming spaces/tabs):
 * - IPv4 in strict dotted-quad decimal (`203.0.113.9`); ipaddr's legacy forms (`127.1`, `0x7f.0.0.1`,
 *   `2130706433`, leading-zero octets) are refused because they are ambiguous;
 * - `v4:port` (`203.0.113.9:51234`);
 * - IPv6 in any compression (`2001:db8:85a3::8a2e:370:7334`; an element with two or more colons
 *   and no brackets is always a whole address, never host + port), including a trailing
 *   dotted-quad (`::ffff:203.0.113.10`, dotted part strictly decimal);
 * - `[v6]` and `[v6]:port`;
 * - IPv4-mapped IPv6 in either spelling is unwrapped: `ip` is the IPv4 address, family `ipv4`.
 *
 * Refused (kept with `valid: false`, `ip`/`port`/`family` null): anything else, including empty
 * elements, `unknown`, RFC 7239 obfuscated identifiers (`_hidden`), hostnames, quoted values,
 * `[v4]`, a port outside 1..65535 or not all digits, a bare v6 with a port, and IPv6 with a zone id
 * (`fe80::1%eth0`): a zone only means something on the host that wrote it, so it identifies no
 * client.
 *
 * @param raw one element (may include surrounding spaces/tabs); never throws
 */
export function parseIpEntry(raw: string): ForwardedEntry {
  const text = trimOws(typeof raw === "string" ? raw : "");
  const kept = capChars(text, MAX_ENTRY_RAW_CHARS);
  const invalid: ForwardedEntry = { raw: kept, ip: null, port: null, family: null, valid: false };
  if (text.length === 0 || text.length > MAX_ENTRY_RAW_CHARS) return invalid;

  let host: string;
  let portText: string | null = null;
  let bracketed = false;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) return invalid;
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return invalid;
      portText = rest.slice(1);
    }
    bracketed = true;
  } else {
    const first = text.indexOf(":");
    if (first >= 0 && first === text.lastIndexOf(":")) {
      // Exactly one colon: only `v4:port` (no IPv6 address has a single colon).
      host = text.slice(0, first);
      portText = text.slice(first + 1);
    } else {
      host = text;
    }
  }

  let port: number | null = null;
  if (portText !== null) {
    port = parsePort(portText);
    if (port === null) return invalid;
  }

  const address = parseAddress(host);
  if (address === null) return invalid;
  // Brackets enclose IPv6 literals only (RFC 3986 §3.2.2); v4:port never has brackets.
  if (bracketed && !address.wasIpv6) return invalid;
  if (!bracketed && portText !== null && address.wasIpv6) return invalid;

  return { raw: kept, ip: address.ip, port, family: address.family, valid: true };
}

/**
 * Parses the whole `X-Forwarded-For` value.
 *
 * Elements are separated by commas; an empty element (`a,,b`, a trailing comma) counts and is kept
 * as invalid. An absent header gives `raw: null`; an empty or blank one gives `raw` as received
 * and no elements. Only the first {@link MAX_FORWARDED_ENTRIES} elements are parsed; the rest are
 * only counted (by scanning for commas, without building objects). Never throws, whatever the size
 * or content of the value.
 *
 * @param header the header value (`Headers.get` result: repeated header lines arrive comma-joined)
 */
export function parseForwardedFor(header: string | null | undefined): ForwardedChain {
  if (typeof header !== "string") {
    return { raw: null, rawLength: 0, entries: [], count: 0, truncated: false };
  }
  const raw = capChars(header, MAX_FORWARDED_RAW_CHARS);
  const rawCut = raw.length < header.length;
  if (trimOws(header) === "") {
    return { raw, rawLength: header.length, entries: [], count: 0, truncated: rawCut };
  }

  const entries: ForwardedEntry[] = [];
  let count = 0;
  let start = 0;
  for (;;) {
    const comma = header.indexOf(",", start);
    const end = comma < 0 ? header.length : comma;
    if (entries.length < MAX_FORWARDED_ENTRIES) {
      // Trim in place, then copy at most one entry's worth: a 1 MB element costs no 1 MB copy.
      let s = start;
      let e = end;
      while (s < e && isOws(header.charCodeAt(s))) s++;
      while (e > s && isOws(header.charCodeAt(e - 1))) e--;
      entries.push(
        e - s > MAX_ENTRY_RAW_CHARS ? overlongEntry(header.slice(s, s + MAX_ENTRY_RAW_CHARS + 1)) : parseIpEntry(header.slice(s, e)),
      );
    }
    count++;
    if (comma < 0) break;
    start = comma + 1;
  }

  return { raw, rawLength: header.length, entries, count, truncated: rawCut || count > entries.length };
}

/** An element longer than any valid form; `prefix` is its trimmed start (a little over the cap). */
function overlongEntry(prefix: string): ForwardedEntry {
  return { raw: capChars(prefix, MAX_ENTRY_RAW_CHARS), ip: null, port: null, family: null, valid: false };
}

/** A parsed bare address (no brackets, no port). */
export interface ParsedAddress {
  /** Normalised form (ipaddr.js `toString()`); IPv4-mapped IPv6 unwrapped to IPv4. */
  ip: string;
  family: "ipv4" | "ipv6";
  /** Whether the text was written as IPv6 (true for `::ffff:1.2.3.4` although `family` is ipv4). */
  wasIpv6: boolean;
}

/**
 * Parses a bare IP address (no brackets, no port) with ipaddr.js: strict dotted-quad IPv4, or
 * IPv6 without zone id (a trailing dotted part must be strict dotted-quad). IPv4-mapped IPv6 is
 * unwrapped to IPv4; so is the deprecated IPv4-compatible spelling `::a.b.c.d`, which ipaddr.js
 * reads as `::ffff:a.b.c.d`. Returns `null` for anything else; never throws.
 */
export function parseAddress(text: string): ParsedAddress | null {
  if (typeof text !== "string" || text.length === 0 || text.length > MAX_ENTRY_RAW_CHARS) return null;
  try {
    if (text.includes(":")) {
      if (!ipaddr.IPv6.isValid(text)) return null;
      const v6 = ipaddr.IPv6.parse(text);
      if (v6.zoneId !== undefined && v6.zoneId !== "") return null;
      if (text.includes(".") && !ipaddr.IPv4.isValidFourPartDecimal(text.slice(text.lastIndexOf(":") + 1))) return null;
      if (v6.isIPv4MappedAddress()) return { ip: v6.toIPv4Address().toString(), family: "ipv4", wasIpv6: true };
      return { ip: v6.toString(), family: "ipv6", wasIpv6: true };
    }
    if (!ipaddr.IPv4.isValidFourPartDecimal(text)) return null;
    return { ip: ipaddr.IPv4.parse(text).toString(), family: "ipv4", wasIpv6: false };
  } catch {
    return null;
  }
}

/** `1`..`65535` written with 1..5 ASCII digits; anything else is `null`. */
function parsePort(text: string): number | null {
  if (text.length < 1 || text.length > 5) return null;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return null;
  }
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}
