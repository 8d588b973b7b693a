import { describe, expect, it } from "vitest";
import {
  type ForwardedEntry,
  MAX_ENTRY_RAW_CHARS,
  MAX_FORWARDED_ENTRIES,
  MAX_FORWARDED_RAW_CHARS,
  parseForwardedFor,
  parseIpEntry,
} from "../../../src/client-ip/forwarded";

const valid = (raw: string, ip: string, family: "ipv4" | "ipv6", port: number | null = null): ForwardedEntry => ({
  raw,
  ip,
  port,
  family,
  valid: true,
});
const invalid = (raw: string): ForwardedEntry => ({ raw, ip: null, port: null, family: null, valid: false });

const C1 = "2001:db8:85a3::8a2e:370:7334, [2001:db8::1]:443, 203.0.113.9:51234, ::ffff:203.0.113.10, not-an-ip";

describe("parseIpEntry: accepted forms", () => {
  it.each([
    // IPv4
    ["203.0.113.9", valid("203.0.113.9", "203.0.113.9", "ipv4")],
    ["0.0.0.0", valid("0.0.0.0", "0.0.0.0", "ipv4")],
    ["255.255.255.255", valid("255.255.255.255", "255.255.255.255", "ipv4")],
    ["  198.51.100.7\t", valid("198.51.100.7", "198.51.100.7", "ipv4")],
    // v4:port
    ["203.0.113.9:51234", valid("203.0.113.9:51234", "203.0.113.9", "ipv4", 51234)],
    ["203.0.113.9:1", valid("203.0.113.9:1", "203.0.113.9", "ipv4", 1)],
    ["203.0.113.9:65535", valid("203.0.113.9:65535", "203.0.113.9", "ipv4", 65535)],
    // IPv6, every compression; the last group is never taken for a port
    ["2001:db8:85a3::8a2e:370:7334", valid("2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::8a2e:370:7334", "ipv6")],
    ["2001:0db8:85a3:0000:0000:8a2e:0370:7334", valid("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:db8:85a3::8a2e:370:7334", "ipv6")],
    ["2001:DB8::1", valid("2001:DB8::1", "2001:db8::1", "ipv6")],
    ["2001:db8::443", valid("2001:db8::443", "2001:db8::443", "ipv6")],
    ["1:2:3:4:5:6:7:8", valid("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8", "ipv6")],
    ["::1", valid("::1", "::1", "ipv6")],
    ["::", valid("::", "::", "ipv6")],
    ["fe80::", valid("fe80::", "fe80::", "ipv6")],
    ["2001:db8:0:0:1:0:0:1", valid("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", "ipv6")],
    ["64:ff9b::192.0.2.33", valid("64:ff9b::192.0.2.33", "64:ff9b::c000:221", "ipv6")],
    // [v6] and [v6]:port
    ["[2001:db8::1]", valid("[2001:db8::1]", "2001:db8::1", "ipv6")],
    ["[2001:db8::1]:443", valid("[2001:db8::1]:443", "2001:db8::1", "ipv6", 443)],
    ["[::1]:8080", valid("[::1]:8080", "::1", "ipv6", 8080)],
    // IPv4-mapped IPv6 → unwrapped IPv4
    ["::ffff:203.0.113.10", valid("::ffff:203.0.113.10", "203.0.113.10", "ipv4")],
    ["::FFFF:203.0.113.10", valid("::FFFF:203.0.113.10", "203.0.113.10", "ipv4")],
    ["::ffff:cb00:710a", valid("::ffff:cb00:710a", "203.0.113.10", "ipv4")],
    ["[::ffff:203.0.113.10]:8443", valid("[::ffff:203.0.113.10]:8443", "203.0.113.10", "ipv4", 8443)],
  ])("%j", (raw, expected) => {
    expect(parseIpEntry(raw)).toEqual(expected);
  });
});

describe("parseIpEntry: refused forms are kept raw and invalid", () => {
  it.each([
    ["not-an-ip"],
    ["unknown"],
    ["_hidden"],
    ["_SEVKISEK"],
    [""],
    ["example.com"],
    ['"[2001:db8::1]:443"'], // quoted (RFC 7239 Forwarded syntax) is not XFF syntax
    ["203.0.113.9:0"],
    ["203.0.113.9:65536"],
    ["203.0.113.9:99999"],
    ["203.0.113.9:"],
    ["203.0.113.9:-1"],
    ["203.0.113.9:+80"],
    ["203.0.113.9:80a"],
    ["203.0.113.9:1e3"],
    ["203.0.113.9: 80"],
    ["203.0.113.9:123456"],
    ["[2001:db8::1]:0"],
    ["[2001:db8::1]:70000"],
    ["[2001:db8::1]:"],
    ["[2001:db8::1]443"],
    ["[2001:db8::1"],
    ["2001:db8::1]"],
    ["[203.0.113.9]"], // brackets are for IPv6 only
    ["[203.0.113.9]:80"],
    ["[]"],
    ["256.1.1.1"],
    ["1.2.3"],
    ["1.2.3.4.5"],
    ["127.1"], // ipaddr's legacy shorthand: refused
    ["0x7f.0.0.1"],
    ["2130706433"],
    ["010.0.0.1"], // leading zero: octal in some parsers
    ["::ffff:010.0.0.1"],
    ["::ffff:0x7f.0.0.1"],
    ["1.2.3.4/24"],
    ["2001:db8::/32"],
    ["2001:db8:::1"],
    ["1::2::3"],
    ["2001:db8::g"],
    ["2001:db8::12345"],
    ["1:2:3:4:5:6:7:8:9"],
    ["fe80::1%eth0"], // zone id: meaningful only on the host that wrote it
    ["[fe80::1%25eth0]:80"],
    ["1.2.3.4 5.6.7.8"],
    ["１.２.３.４"], // full-width digits
    ["203.0.113.9\u0000"],
    ["Büro"],
  ])("%j", (raw) => {
    expect(parseIpEntry(raw)).toEqual(invalid(raw));
  });

  // Lone surrogates are compared as JSON (which escapes them): a failure diff holding a raw lone
  // surrogate would break the runner's reporter channel, which needs valid UTF-8.
  it("lone surrogates are invalid entries, kept raw", () => {
    expect(JSON.stringify(parseIpEntry("\ud800"))).toBe(JSON.stringify(invalid("\ud800")));
    expect(JSON.stringify(parseIpEntry(" \udfff1.2.3.4"))).toBe(JSON.stringify(invalid("\udfff1.2.3.4")));
    expect(JSON.stringify(parseIpEntry("1.2.3.4\udc00"))).toBe(JSON.stringify(invalid("1.2.3.4\udc00")));
  });

  it("caps raw at 64 chars, never splitting a surrogate pair", () => {
    expect(parseIpEntry("a".repeat(200))).toEqual(invalid("a".repeat(MAX_ENTRY_RAW_CHARS)));
    const emoji = `${"a".repeat(63)}😀bbb`; // the pair straddles the cap
    expect(parseIpEntry(emoji).raw).toBe("a".repeat(63));
  });

  it("never throws on a non-string at run time", () => {
    expect(parseIpEntry(undefined as unknown as string)).toEqual(invalid(""));
  });
});

describe("parseForwardedFor", () => {
  it("C1: every shape of address", () => {
    expect(parseForwardedFor(C1)).toEqual({
      raw: C1,
      rawLength: C1.length,
      count: 5,
      truncated: false,
      entries: [
        valid("2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::8a2e:370:7334", "ipv6"),
        valid("[2001:db8::1]:443", "2001:db8::1", "ipv6", 443),
        valid("203.0.113.9:51234", "203.0.113.9", "ipv4", 51234),
        valid("::ffff:203.0.113.10", "203.0.113.10", "ipv4"),
        invalid("not-an-ip"),
      ],
    });
  });

  it.each([
    [undefined, { raw: null, rawLength: 0, entries: [], count: 0, truncated: false }],
    [null, { raw: null, rawLength: 0, entries: [], count: 0, truncated: false }],
    ["", { raw: "", rawLength: 0, entries: [], count: 0, truncated: false }],
    ["  \t ", { raw: "  \t ", rawLength: 4, entries: [], count: 0, truncated: false }],
    [
      "203.0.113.9",
      { raw: "203.0.113.9", rawLength: 11, entries: [valid("203.0.113.9", "203.0.113.9", "ipv4")], count: 1, truncated: false },
    ],
    [
      "203.0.113.9,,unknown, ",
      {
        raw: "203.0.113.9,,unknown, ",
        rawLength: 22,
        entries: [valid("203.0.113.9", "203.0.113.9", "ipv4"), invalid(""), invalid("unknown"), invalid("")],
        count: 4,
        truncated: false,
      },
    ],
    [
      "Büro-Sync, 198.51.100.1",
      {
        raw: "Büro-Sync, 198.51.100.1",
        rawLength: 23,
        entries: [invalid("Büro-Sync"), valid("198.51.100.1", "198.51.100.1", "ipv4")],
        count: 2,
        truncated: false,
      },
    ],
  ])("%j", (header, expected) => {
    expect(parseForwardedFor(header)).toEqual(expected);
  });

  it("lone surrogates in the header never throw (compared as JSON, see above)", () => {
    const header = "\ud800, \udfff,192.0.2.1";
    expect(JSON.stringify(parseForwardedFor(header))).toBe(
      JSON.stringify({
        raw: header,
        rawLength: 14,
        entries: [invalid("\ud800"), invalid("\udfff"), valid("192.0.2.1", "192.0.2.1", "ipv4")],
        count: 3,
        truncated: false,
      }),
    );
  });

  it.each([
    [21, 21],
    [500, 500],
    [10_000, 10_000],
  ])("%i entries: counted, first 20 kept, truncated", (n, expectedCount) => {
    const header = Array.from({ length: n }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.1`).join(", ");
    const chain = parseForwardedFor(header);
    expect(chain.count).toBe(expectedCount);
    expect(chain.entries).toHaveLength(MAX_FORWARDED_ENTRIES);
    expect(chain.entries[0]).toEqual(valid("10.0.0.1", "10.0.0.1", "ipv4"));
    expect(chain.entries[19]).toEqual(valid("10.0.19.1", "10.0.19.1", "ipv4"));
    expect(chain.truncated).toBe(true);
    expect(chain.rawLength).toBe(header.length);
    expect(chain.raw).toBe(header.slice(0, Math.min(header.length, MAX_FORWARDED_RAW_CHARS)));
  });

  it("exactly 20 entries are not truncated", () => {
    const header = Array.from({ length: 20 }, (_, i) => `192.0.2.${i}`).join(",");
    const chain = parseForwardedFor(header);
    expect([chain.count, chain.entries.length, chain.truncated]).toEqual([20, 20, false]);
    expect(chain.entries[19]).toEqual(valid("192.0.2.19", "192.0.2.19", "ipv4"));
  });

  it("a 100 KB header: raw capped at 2048 chars, original length kept", () => {
    const header = `203.0.113.9, ${"x".repeat(100 * 1024)}`;
    const chain = parseForwardedFor(header);
    expect(chain.raw).toBe(header.slice(0, MAX_FORWARDED_RAW_CHARS));
    expect(chain.raw).toHaveLength(2048);
    expect(chain.rawLength).toBe(100 * 1024 + 13);
    expect(chain.count).toBe(2);
    expect(chain.truncated).toBe(true);
    expect(chain.entries).toEqual([valid("203.0.113.9", "203.0.113.9", "ipv4"), invalid("x".repeat(MAX_ENTRY_RAW_CHARS))]);
  });

  it("a 1 MB header of garbage never throws", () => {
    const header = "\u0000é\ud800,[:]".repeat(200_000);
    const chain = parseForwardedFor(header);
    expect(chain.count).toBe(200_001);
    expect(chain.entries).toHaveLength(20);
    expect(chain.entries.every((e) => !e.valid)).toBe(true);
    expect(chain.raw).toHaveLength(MAX_FORWARDED_RAW_CHARS);
  });

  it("the raw cap never splits a surrogate pair", () => {
    const header = `${"a".repeat(MAX_FORWARDED_RAW_CHARS - 1)}😀`;
    expect(parseForwardedFor(header).raw).toBe("a".repeat(MAX_FORWARDED_RAW_CHARS - 1));
  });

  it("an entry padded with long whitespace is trimmed before the length check", () => {
    const chain = parseForwardedFor(`${" ".repeat(500)}192.0.2.1${"\t".repeat(500)}, 192.0.2.2`);
    expect(chain.entries).toEqual([valid("192.0.2.1", "192.0.2.1", "ipv4"), valid("192.0.2.2", "192.0.2.2", "ipv4")]);
  });
});
