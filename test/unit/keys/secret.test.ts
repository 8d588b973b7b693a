import { afterEach, describe, expect, it, vi } from "vitest";
import { API_SECRET_PATTERN } from "../../../src/keys/format";
import {
  BASE62,
  base62Fixed,
  checksumOf,
  crc32,
  generateSecret,
  hasValidChecksum,
  randomBase62,
  SECRET_BODY_CHARS,
  secretFormat,
  secretHint,
} from "../../../src/keys/secret";

afterEach(() => vi.restoreAllMocks());

describe("crc32 and base62", () => {
  it("crc32 is CRC-32/ISO-HDLC (check value of 123456789 is 0xCBF43926; empty is 0)", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array())).toBe(0);
    expect(crc32(new TextEncoder().encode("The quick brown fox jumps over the lazy dog"))).toBe(0x414fa339);
  });

  it.each([
    [0, "000000"],
    [61, "00000z"],
    [62, "000010"],
    [0xffffffff, "4gfFC3"],
  ])("base62Fixed(%i, 6) = %s (digits, then A-Z, then a-z; zero-padded)", (value, text) => {
    expect(base62Fixed(value, 6)).toBe(text);
  });

  it("the checksum is base62(crc32(random part)) in 6 characters, and covers only the random part", () => {
    const random = "zQWBuTSOoRi4A9spHcVY5ncnsDkxkJabc";
    expect(checksumOf(random)).toBe(base62Fixed(crc32(new TextEncoder().encode(random)), 6));
    expect(hasValidChecksum(`sk_live_${random}${checksumOf(random)}`)).toBe(true);
    expect(hasValidChecksum(`sk_test_${random}${checksumOf(random)}`)).toBe(true);
  });
});

describe("generateSecret", () => {
  it("is prefix + 33 random + 6 checksum Base62 characters, accepted by the header format", () => {
    for (const mode of ["live", "test"] as const) {
      const secret = generateSecret(mode);
      expect(secret).toMatch(new RegExp(`^sk_${mode}_[0-9A-Za-z]{39}$`));
      expect(API_SECRET_PATTERN.test(secret)).toBe(true);
      expect(secretFormat(secret)).toBe("checksum");
      expect(hasValidChecksum(secret)).toBe(true);
    }
  });

  it("never repeats (1,000 draws)", () => {
    const seen = new Set(Array.from({ length: 1000 }, () => generateSecret("live")));
    expect(seen.size).toBe(1000);
  });

  it("draws from crypto.getRandomValues and rejects bytes ≥ 248 (no modulo bias)", () => {
    const spy = vi.spyOn(crypto, "getRandomValues").mockImplementation(<T extends ArrayBufferView | null>(array: T): T => {
      const bytes = array as unknown as Uint8Array;
      const feed = [248, 255, 0, 61, 62, 247];
      for (let i = 0; i < bytes.length; i++) bytes[i] = feed[i % feed.length] as number;
      return array;
    });
    // 248 and 255 are skipped; 0 → "0", 61 → "z", 62 → "0", 247 → 247 % 62 = 61 → "z"
    expect(randomBase62(4)).toBe("0z0z");
    expect(spy).toHaveBeenCalled();
  });

  it("uses every character of the alphabet about equally (chi-square, 62 bins)", () => {
    const counts = new Map<string, number>();
    const text = randomBase62(62_000);
    for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(62);
    const expected = 1000;
    const chi = [...BASE62].reduce((sum, ch) => sum + ((counts.get(ch) ?? 0) - expected) ** 2 / expected, 0);
    // 61 degrees of freedom: p = 1e-6 is about 125. A byte % 62 without rejection would skew 0..7 by ~25 %.
    expect(chi).toBeLessThan(125);
  });
});

describe("telling formats apart", () => {
  const good = generateSecret("live");
  it.each([
    ["sk_live_abcd", "legacy", true],
    [`sk_live_${"a".repeat(38)}`, "legacy", true],
    [`sk_live_${"a".repeat(40)}`, "legacy", true],
    [good, "checksum", true],
    [`${good.slice(0, -1)}${good.endsWith("A") ? "B" : "A"}`, "checksum", false],
    [`sk_live_${good.slice(9)}${good[8]}`, "checksum", false],
  ])("%s is %s, checksum ok: %s", (secret, format, ok) => {
    expect(secret.length - 8 === SECRET_BODY_CHARS).toBe(format === "checksum");
    expect(secretFormat(secret)).toBe(format);
    expect(hasValidChecksum(secret)).toBe(ok);
  });

  it("a single changed character in the random part is caught", () => {
    const secret = generateSecret("test");
    for (let i = 8; i < 8 + 33; i++) {
      const ch = secret[i] === "a" ? "b" : "a";
      expect(hasValidChecksum(`${secret.slice(0, i)}${ch}${secret.slice(i + 1)}`)).toBe(false);
    }
  });
});

describe("secretHint", () => {
  it.each([
    ["sk_live_abcd", null],
    [`sk_live_${"a".repeat(19)}`, null],
    [`sk_live_${"a".repeat(16)}WXYZ`, "WXYZ"],
  ])("%s → %j", (secret, hint) => {
    expect(secretHint(secret)).toBe(hint);
  });
});
