/**
 * Request ids as UUIDv7 (src/request-id.ts): the RFC 9562 layout (the example of its Appendix A.6),
 * version and variant bits, order, and the time read back from an id.
 */
import { v7 } from "uuid";
import { describe, expect, it } from "vitest";
import { newRequestId, requestIdForLookup, uuidv7Time } from "../../src/request-id";

/** RFC 9562 Appendix A.6: unix_ts_ms 0x017F22E279B0 (2022-02-22T19:22:22.000Z), rand_a 0xCC3, rand_b 0x18C4DC0C0C07398F. */
const RFC_EXAMPLE = "017f22e2-79b0-7cc3-98c4-dc0c0c07398f";
const RFC_EXAMPLE_MS = 0x017f22e279b0;

/** Version nibble and variant bits of a UUID in text form. */
function bits(id: string): { version: number; variant: number } {
  return { version: Number.parseInt(id.charAt(14), 16), variant: Number.parseInt(id.charAt(19), 16) >> 2 };
}

describe("the RFC 9562 example", () => {
  it("its time is 2022-02-22T19:22:22.000Z", () => {
    expect(RFC_EXAMPLE_MS).toBe(Date.UTC(2022, 1, 22, 19, 22, 22, 0));
    expect(uuidv7Time(RFC_EXAMPLE)).toBe(RFC_EXAMPLE_MS);
    expect(uuidv7Time(RFC_EXAMPLE.toUpperCase())).toBe(RFC_EXAMPLE_MS);
  });

  it("the generator lays out the same bits: its 32-bit counter is rand_a and the top 20 bits of rand_b", () => {
    // The counter is rand_a (0xCC3) followed by the top 20 of rand_b's 62 bits; the other 42 bits of
    // rand_b come from the random bytes (the low 2 bits of byte 10, then bytes 11 to 15).
    const randA = 0xcc3;
    const randB = 0x18c4dc0c0c07398fn;
    const counter = ((randA << 20) | Number(randB >> 42n)) >>> 0;
    const random = new Uint8Array(16);
    random[10] = Number((randB >> 40n) & 0x03n);
    for (let i = 11; i < 16; i++) random[i] = Number((randB >> BigInt(8 * (15 - i))) & 0xffn);
    expect(v7({ msecs: RFC_EXAMPLE_MS, seq: counter, random })).toBe(RFC_EXAMPLE);
  });
});

describe("newRequestId", () => {
  it("makes UUIDv7s: lowercase 8-4-4-4-12, version 7, variant 10, the time of now", () => {
    const before = Date.now();
    const id = newRequestId();
    const after = Date.now();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(bits(id)).toEqual({ version: 7, variant: 0b10 });
    const t = uuidv7Time(id) as number;
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(after);
  });

  it("10,000 ids in a row: all different, sorted as text in the order made (also within one millisecond)", () => {
    const ids = Array.from({ length: 10_000 }, () => newRequestId());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // The Workers clock stands still without I/O: most of these share one millisecond.
    const times = new Set(ids.map((id) => uuidv7Time(id)));
    expect(times.size).toBeLessThan(ids.length);
  });

  it("the random part differs from call to call (at least the last 10 hex digits)", () => {
    const tails = new Set(Array.from({ length: 100 }, () => newRequestId().slice(-10)));
    expect(tails.size).toBe(100);
  });
});

describe("uuidv7Time", () => {
  it.each([
    ["a UUIDv4 (the older request ids)", "5f0c1c9e-3f5e-4a54-9b1e-0b8a3f7d2c11"],
    ["the nil UUID", "00000000-0000-0000-0000-000000000000"],
    ["the max UUID", "ffffffff-ffff-ffff-ffff-ffffffffffff"],
    ["a UUIDv6", "1ec9414c-232a-6b00-b3c8-9f6bdeced846"],
    ["version 7 with the wrong variant (0xxx)", "017f22e2-79b0-7cc3-18c4-dc0c0c07398f"],
    ["version 7 with the wrong variant (110x)", "017f22e2-79b0-7cc3-c8c4-dc0c0c07398f"],
    ["no hyphens", "017f22e279b07cc398c4dc0c0c07398f"],
    ["braces", "{017f22e2-79b0-7cc3-98c4-dc0c0c07398f}"],
    ["a urn", "urn:uuid:017f22e2-79b0-7cc3-98c4-dc0c0c07398f"],
    ["one digit short", "017f22e2-79b0-7cc3-98c4-dc0c0c07398"],
    ["a non-hex digit", "017f22e2-79b0-7cc3-98c4-dc0c0c07398g"],
    ["a test id", "req-e05"],
    ["empty", ""],
  ])("null for %s", (_name, id) => {
    expect(uuidv7Time(id)).toBeNull();
  });

  it.each([
    ["the earliest", "00000000-0000-7000-8000-000000000000", 0],
    ["the latest", "ffffffff-ffff-7fff-bfff-ffffffffffff", 2 ** 48 - 1],
    ["2026-12-06T10:59:59.999Z", "01a24b02-bb7f-7000-8000-000000000000", Date.UTC(2026, 11, 6, 10, 59, 59, 999)],
  ])("reads %s", (_name, id, ms) => {
    expect(uuidv7Time(id)).toBe(ms);
  });
});

describe("requestIdForLookup", () => {
  it.each([
    ["a UUIDv7 in capitals → lowercase", RFC_EXAMPLE.toUpperCase(), RFC_EXAMPLE],
    ["a UUIDv4 in capitals → lowercase", "5F0C1C9E-3F5E-4A54-9B1E-0B8A3F7D2C11", "5f0c1c9e-3f5e-4a54-9b1e-0b8a3f7d2c11"],
    ["a lowercase UUID stays", RFC_EXAMPLE, RFC_EXAMPLE],
    ["another id stays as sent", "Req-E05", "Req-E05"],
  ])("%s", (_name, id, expected) => {
    expect(requestIdForLookup(id)).toBe(expected);
  });
});
