import { describe, expect, it } from "vitest";
import { todayUtc } from "../../../src/versioning/date";
import { resolveVersionMemo, todayUtcCached, VERSION_MEMO_MAX_ENTRIES, VERSION_MEMO_MAX_HEADER_CHARS } from "../../../src/versioning/memo";
import { resolveVersion } from "../../../src/versioning/resolve";
import { parseVersionTable } from "../../../src/versioning/table";
import { FIXTURE_TABLE_INPUT } from "./fixtures";

const table = parseVersionTable([
  ...FIXTURE_TABLE_INPUT,
  // Sunset at the end of 2030-06-01: served on that day, refused from the next.
  { version: "2022-01-01", status: "deprecated", origin: "https://v2022.origin.test", deprecated_on: "2023-01-01", sunset: "2030-06-01" },
]);
const AT = (iso: string) => Date.parse(iso);

describe("todayUtcCached", () => {
  it.each([
    "2030-06-01T00:00:00.000Z",
    "2030-06-01T23:59:59.999Z",
    "2030-06-02T00:00:00.000Z",
    "2030-05-31T12:00:00.000Z",
    "1970-01-01T00:00:00.000Z",
    "2024-02-29T23:59:59.999Z",
  ])("%s gives the day todayUtc gives, in any order", (iso) => {
    expect(todayUtcCached(AT(iso))).toBe(todayUtc(AT(iso)));
  });
});

describe("resolveVersionMemo", () => {
  it.each([
    [undefined],
    [null],
    [""],
    ["2024-06-01"],
    [" 2024-06-01\t"],
    ["2025-03-01"],
    ["2023-01-01"],
    ["2024-02-30"],
    ["1999-01-01"],
    ["latest"],
  ])("%j: the same answer as resolveVersion, the first time and the next", (header) => {
    const now = AT("2025-06-15T10:00:00Z");
    const expected = resolveVersion(header, table, "2025-06-15");
    expect(resolveVersionMemo(header, table, now)).toEqual(expected);
    expect(resolveVersionMemo(header, table, now)).toEqual(expected);
  });

  it("answers anew when the UTC day changes: served on the sunset day, refused the next", () => {
    const served = resolveVersionMemo("2022-01-01", table, AT("2030-06-01T23:59:59.999Z"));
    expect(served.ok).toBe(true);
    const refused = resolveVersionMemo("2022-01-01", table, AT("2030-06-02T00:00:00.000Z"));
    expect(refused).toMatchObject({ ok: false, code: "unsupported_api_version" });
  });

  it("shares one frozen answer per header, and keeps answering right past its bound", () => {
    const now = AT("2025-06-15T10:00:00Z");
    const first = resolveVersionMemo("2024-06-01", table, now);
    expect(resolveVersionMemo("2024-06-01", table, now)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    for (let i = 0; i <= VERSION_MEMO_MAX_ENTRIES; i++) resolveVersionMemo(`made-up-${i}`, table, now);
    expect(resolveVersionMemo("2024-06-01", table, now)).toEqual(resolveVersion("2024-06-01", table, "2025-06-15"));
  });

  it("resolves a long header each time instead of remembering it (a padded header cannot fill memory)", () => {
    const now = AT("2025-06-15T10:00:00Z");
    const padded = `2024-06-01${" ".repeat(VERSION_MEMO_MAX_HEADER_CHARS)}`;
    const a = resolveVersionMemo(padded, table, now);
    const b = resolveVersionMemo(padded, table, now);
    expect(a).toEqual(resolveVersion(padded, table, "2025-06-15"));
    expect(a.ok).toBe(true);
    expect(b).not.toBe(a);
    expect(Object.isFrozen(a)).toBe(false);
  });

  it("keeps tables apart", () => {
    const other = parseVersionTable([{ version: "2024-06-01", status: "stable", origin: "https://elsewhere.origin.test" }]);
    const now = AT("2025-06-15T10:00:00Z");
    const a = resolveVersionMemo(null, table, now);
    const b = resolveVersionMemo(null, other, now);
    expect(a.ok && a.entry.origin).toBe("https://v2024-11-15.origin.test");
    expect(b.ok && b.entry.origin).toBe("https://elsewhere.origin.test");
  });
});
