import { beforeEach, describe, expect, it } from "vitest";
import {
  CLIENT_IP_MEMO_MAX_CONNECTING_CHARS,
  CLIENT_IP_MEMO_MAX_XFF_CHARS,
  clearClientIpMemo,
  resolveClientIpMemo,
} from "../../../src/client-ip/memo";
import { resolveClientIp } from "../../../src/client-ip/resolve";

beforeEach(() => clearClientIpMemo());

const PAIRS: [string | null, string | null][] = [
  ["198.51.100.23", "203.0.113.9, 10.0.0.1"],
  ["198.51.100.23", null],
  [null, "203.0.113.9"],
  [null, null],
  ["::ffff:198.51.100.7", "not-an-ip, 2001:db8::1"],
  ["garbage", ""],
];

describe("resolveClientIpMemo", () => {
  it.each(PAIRS)("gives what resolveClientIp gives for (%s, %s), the first time and the next", (cf, xff) => {
    const expected = resolveClientIp(cf, xff);
    expect(resolveClientIpMemo(cf, xff)).toEqual(expected);
    expect(resolveClientIpMemo(cf, xff)).toEqual(expected);
  });

  it("shares one deeply frozen result per pair", () => {
    const first = resolveClientIpMemo("198.51.100.23", "203.0.113.9, 10.0.0.1");
    expect(resolveClientIpMemo("198.51.100.23", "203.0.113.9, 10.0.0.1")).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.forwarded)).toBe(true);
    expect(Object.isFrozen(first.forwarded.entries)).toBe(true);
    expect(first.forwarded.entries.every((e) => Object.isFrozen(e))).toBe(true);
  });

  it("keeps an absent header apart from an empty one", () => {
    expect(resolveClientIpMemo("198.51.100.23", null)).toEqual(resolveClientIp("198.51.100.23", null));
    expect(resolveClientIpMemo("198.51.100.23", "")).toEqual(resolveClientIp("198.51.100.23", ""));
    expect(resolveClientIpMemo(null, "198.51.100.23")).not.toEqual(resolveClientIpMemo("198.51.100.23", null));
  });

  it("parses a long X-Forwarded-For every time instead of remembering it", () => {
    const long = Array.from({ length: 40 }, (_, i) => `203.0.113.${i}`).join(", ");
    expect(long.length).toBeGreaterThan(CLIENT_IP_MEMO_MAX_XFF_CHARS);
    const a = resolveClientIpMemo("198.51.100.23", long);
    const b = resolveClientIpMemo("198.51.100.23", long);
    expect(a).toEqual(resolveClientIp("198.51.100.23", long));
    expect(b).not.toBe(a);
    expect(Object.isFrozen(a)).toBe(false);
  });

  it("parses a long CF-Connecting-IP every time instead of remembering it", () => {
    const long = `198.51.100.23${" ".repeat(CLIENT_IP_MEMO_MAX_CONNECTING_CHARS)}`;
    const a = resolveClientIpMemo(long, null);
    expect(a).toEqual(resolveClientIp(long, null));
    expect(resolveClientIpMemo(long, null)).not.toBe(a);
  });
});
