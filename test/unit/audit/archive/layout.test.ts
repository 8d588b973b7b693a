import { describe, expect, it } from "vitest";
import {
  archiveObjectOf,
  compactInstant,
  hourPrefix,
  keyFromArchiveObject,
  objectKey,
  parseCompactInstant,
  parseObjectKey,
} from "../../../../src/audit/archive/layout";

const T = Date.UTC(2026, 11, 6, 10, 15, 2, 123);

describe("archive layout", () => {
  it("partitions by kind, UTC day and hour (Hive style)", () => {
    expect(hourPrefix("request", T)).toBe("audit/v1/kind=request/dt=2026-12-06/hour=10/");
    expect(hourPrefix("admin", Date.UTC(2027, 0, 1, 0, 0, 0, 0))).toBe("audit/v1/kind=admin/dt=2027-01-01/hour=00/");
  });

  it("any year an event's time can have (0000–9999) keeps four digits, so its key parses", () => {
    for (const time of ["0050-01-01T00:00:00.000Z", "0000-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z"]) {
      const ms = Date.parse(time);
      expect(hourPrefix("request", ms)).toBe(`audit/v1/kind=request/dt=${time.slice(0, 10)}/hour=${time.slice(11, 13)}/`);
      expect(parseObjectKey(objectKey("request", ms, ms, "0123456789abcdef"))).toEqual({
        kind: "request",
        firstMs: ms,
        lastMs: ms,
        contentId: "0123456789abcdef",
      });
    }
  });

  it("names an object by its time bounds and content id, and reads the name back", () => {
    const key = objectKey("request", T, T + 56_881, "3fa9c1e2b7d45a60");
    expect(key).toBe("audit/v1/kind=request/dt=2026-12-06/hour=10/20261206T101502.123Z_20261206T101559.004Z_3fa9c1e2b7d45a60.parquet");
    expect(parseObjectKey(key)).toEqual({ kind: "request", firstMs: T, lastMs: T + 56_881, contentId: "3fa9c1e2b7d45a60" });
  });

  it("compact instants sort as text and parse back", () => {
    expect(compactInstant(T)).toBe("20261206T101502.123Z");
    expect(parseCompactInstant("20261206T101502.123Z")).toBe(T);
    expect(parseCompactInstant("2026-12-06T10:15:02.123Z")).toBeNaN();
  });

  it.each([
    ["another hour", () => objectKey("request", T, T + 3_600_000, "3fa9c1e2b7d45a60")],
    ["bounds reversed", () => objectKey("request", T, T - 1, "3fa9c1e2b7d45a60")],
    ["a malformed content id", () => objectKey("request", T, T, "XYZ")],
  ])("refuses %s", (_name, make) => {
    expect(make).toThrow();
  });

  it.each([
    "audit/v1/kind=request/dt=2026-12-06/hour=10/notes.txt",
    "audit/v2/kind=request/dt=2026-12-06/hour=10/20261206T101502.123Z_20261206T101559.004Z_3fa9c1e2b7d45a60.parquet",
    "audit/v1/kind=other/dt=2026-12-06/hour=10/20261206T101502.123Z_20261206T101559.004Z_3fa9c1e2b7d45a60.parquet",
  ])("ignores %s", (key) => {
    expect(parseObjectKey(key)).toBeNull();
  });
});

describe("archive_object: what D1 keeps of a key", () => {
  const key = objectKey("admin", T, T + 56_881, "3fa9c1e2b7d45a60");

  it("is the name within the partition without .parquet (58 bytes), and gives the key back", () => {
    const name = archiveObjectOf(key);
    expect(name).toBe("20261206T101502.123Z_20261206T101559.004Z_3fa9c1e2b7d45a60");
    expect(new TextEncoder().encode(name).byteLength).toBe(58);
    expect(keyFromArchiveObject("admin", name)).toBe(key);
    expect(keyFromArchiveObject("request", name)).toBe(key.replace("kind=admin", "kind=request"));
  });

  it.each([
    ["NULL (a row from before the archive)", null],
    ["empty", ""],
    ["a whole key", "audit/v1/kind=admin/dt=2026-12-06/hour=10/20261206T101502.123Z_20261206T101559.004Z_3fa9c1e2b7d45a60.parquet"],
    ["with the suffix", "20261206T101502.123Z_20261206T101559.004Z_3fa9c1e2b7d45a60.parquet"],
    ["bounds in two hours", "20261206T101502.123Z_20261206T111559.004Z_3fa9c1e2b7d45a60"],
    ["bounds reversed", "20261206T101502.123Z_20261206T101501.004Z_3fa9c1e2b7d45a60"],
    ["an impossible instant", "20261306T101502.123Z_20261306T101559.004Z_3fa9c1e2b7d45a60"],
    ["an upper-case content id", "20261206T101502.123Z_20261206T101559.004Z_3FA9C1E2B7D45A60"],
  ])("names no object when %s", (_name, value) => {
    expect(keyFromArchiveObject("request", value)).toBeNull();
  });

  it("refuses what is not a key (a caller bug)", () => {
    expect(() => archiveObjectOf("audit/v1/kind=request/dt=2026-12-06/hour=10/notes.txt")).toThrow();
  });
});
