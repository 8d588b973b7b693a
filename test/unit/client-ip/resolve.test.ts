import { describe, expect, it } from "vitest";
import { parseForwardedFor } from "../../../src/client-ip/forwarded";
import { resolveClientIp, upstreamForwardedFor } from "../../../src/client-ip/resolve";

const C1 = "2001:db8:85a3::8a2e:370:7334, [2001:db8::1]:443, 203.0.113.9:51234, ::ffff:203.0.113.10, not-an-ip";

describe("resolveClientIp", () => {
  it("C1: connecting IP stays the CF one; source is the left-most valid forwarded entry", () => {
    const result = resolveClientIp("198.51.100.23", C1);
    expect(result).toEqual({
      connectingIp: "198.51.100.23",
      forwarded: parseForwardedFor(C1),
      sourceIp: "2001:db8:85a3::8a2e:370:7334",
      sourceIpFrom: "x-forwarded-for",
    });
    expect(result.forwarded.entries.map((e) => [e.ip, e.port, e.valid])).toEqual([
      ["2001:db8:85a3::8a2e:370:7334", null, true],
      ["2001:db8::1", 443, true],
      ["203.0.113.9", 51234, true],
      ["203.0.113.10", null, true],
      [null, null, false],
    ]);
  });

  it.each([
    // [CF-Connecting-IP, X-Forwarded-For, connectingIp, sourceIp, sourceIpFrom]
    ["198.51.100.23", undefined, "198.51.100.23", "198.51.100.23", "cf-connecting-ip"],
    ["198.51.100.23", null, "198.51.100.23", "198.51.100.23", "cf-connecting-ip"],
    ["198.51.100.23", "", "198.51.100.23", "198.51.100.23", "cf-connecting-ip"],
    ["198.51.100.23", "unknown, _hidden, not-an-ip", "198.51.100.23", "198.51.100.23", "cf-connecting-ip"],
    ["198.51.100.23", "unknown, 192.0.2.60:1234, 203.0.113.1", "198.51.100.23", "192.0.2.60", "x-forwarded-for"],
    [undefined, undefined, null, null, "none"],
    [null, null, null, null, "none"],
    ["", "", null, null, "none"],
    [undefined, "203.0.113.1", null, "203.0.113.1", "x-forwarded-for"],
    // invalid CF-Connecting-IP values are never trusted
    ["not-an-ip", undefined, null, null, "none"],
    ["198.51.100.23:443", undefined, null, null, "none"],
    ["[2001:db8::1]", undefined, null, null, "none"],
    ["198.51.100.23, 203.0.113.1", undefined, null, null, "none"],
    ["127.1", undefined, null, null, "none"],
    ["fe80::1%eth0", undefined, null, null, "none"],
    ["198.51.100.23\r\n", undefined, null, null, "none"],
    ["not-an-ip", "203.0.113.1", null, "203.0.113.1", "x-forwarded-for"],
    // normalisation of a valid one
    [" 198.51.100.23 ", undefined, "198.51.100.23", "198.51.100.23", "cf-connecting-ip"],
    ["2001:DB8:0:0::1", undefined, "2001:db8::1", "2001:db8::1", "cf-connecting-ip"],
    ["::ffff:198.51.100.23", undefined, "198.51.100.23", "198.51.100.23", "cf-connecting-ip"],
  ])("CF %j, XFF %j → connecting %j, source %j from %s", (cf, xff, connectingIp, sourceIp, sourceIpFrom) => {
    const result = resolveClientIp(cf, xff);
    expect({ connectingIp: result.connectingIp, sourceIp: result.sourceIp, sourceIpFrom: result.sourceIpFrom }).toEqual({
      connectingIp,
      sourceIp,
      sourceIpFrom,
    });
  });

  it("500 forwarded entries: the chain is capped but source still comes from the left-most", () => {
    const header = Array.from({ length: 500 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(", ");
    const result = resolveClientIp("198.51.100.23", header);
    expect([result.forwarded.count, result.forwarded.entries.length, result.forwarded.truncated]).toEqual([500, 20, true]);
    expect([result.sourceIp, result.sourceIpFrom]).toEqual(["10.0.0.0", "x-forwarded-for"]);
  });
});

describe("upstreamForwardedFor", () => {
  it.each([
    // [incoming X-Forwarded-For, connecting IP, expected]
    [C1, "198.51.100.23", `${C1}, 198.51.100.23`], // C1
    ["203.0.113.1", "198.51.100.23", "203.0.113.1, 198.51.100.23"],
    ["  203.0.113.1 ,10.0.0.1  ", "198.51.100.23", "203.0.113.1 ,10.0.0.1, 198.51.100.23"],
    [undefined, "198.51.100.23", "198.51.100.23"],
    [null, "198.51.100.23", "198.51.100.23"],
    ["", "198.51.100.23", "198.51.100.23"],
    [" \t ", "198.51.100.23", "198.51.100.23"],
    ["203.0.113.1", null, "203.0.113.1"],
    [undefined, null, null],
    ["", null, null],
    ["\r\n", null, null],
    ["203.0.113.1\r\nX-Injected: 1", "198.51.100.23", "203.0.113.1X-Injected: 1, 198.51.100.23"],
    ["203.0.113.1\u0000,\t10.0.0.1\u007f", "2001:db8::1", "203.0.113.1,10.0.0.1, 2001:db8::1"],
    ["Büro, not-an-ip", "198.51.100.23", "Büro, not-an-ip, 198.51.100.23"], // invalid elements pass through
  ])("%j + %j → %j", (incoming, connecting, expected) => {
    expect(upstreamForwardedFor(incoming, connecting)).toBe(expected);
  });
});
