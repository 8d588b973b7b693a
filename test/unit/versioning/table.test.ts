import { describe, expect, it } from "vitest";
import { parseVersionTable, VersionTableError } from "../../../src/versioning/table";
import { FIXTURE_TABLE_INPUT } from "./fixtures";

const stable = (version: string, origin = `https://v${version}.origin.test`) => ({ version, status: "stable", origin });

describe("parseVersionTable: valid tables", () => {
  it("parses the fixture array: sorted ascending, camelCase fields, latest stable", () => {
    const table = parseVersionTable(FIXTURE_TABLE_INPUT);
    expect(table.entries.map((e) => e.version)).toEqual(["2023-01-01", "2023-08-01", "2024-06-01", "2024-11-15", "2025-03-01"]);
    expect(table.latestStable).toEqual({
      version: "2024-11-15",
      status: "stable",
      origin: "https://v2024-11-15.origin.test",
      deprecatedOn: null,
      sunset: null,
      sandboxOrigin: null,
    });
    expect(table.byVersion.get("2023-08-01")).toEqual({
      version: "2023-08-01",
      status: "deprecated",
      origin: "https://v2023-08-01.origin.test",
      deprecatedOn: "2024-06-01",
      sunset: "2099-12-31",
      sandboxOrigin: null,
    });
    expect(table.byVersion.get("2025-03-01")?.status).toBe("preview");
    expect(table.byVersion.size).toBe(5);
  });

  it("parses the same table given as a JSON string", () => {
    expect(parseVersionTable(JSON.stringify(FIXTURE_TABLE_INPUT))).toEqual(parseVersionTable(FIXTURE_TABLE_INPUT));
  });

  it("never picks a preview (even a later one) as latest stable", () => {
    const table = parseVersionTable([stable("2024-01-01"), { version: "2026-01-01", status: "preview", origin: "https://p.test" }]);
    expect(table.latestStable.version).toBe("2024-01-01");
  });

  it.each([
    ["https://origin.test", "https://origin.test"],
    ["https://origin.test/", "https://origin.test"],
    ["https://ORIGIN.Test/api/v1/", "https://origin.test/api/v1"],
    ["https://origin.test/api//", "https://origin.test/api"],
    ["https://origin.test:443/x", "https://origin.test/x"],
    ["https://origin.test:8443", "https://origin.test:8443"],
    ["http://localhost:8787", "http://localhost:8787"],
    ["http://127.0.0.1:9001/", "http://127.0.0.1:9001"],
    ["HTTPS://origin.test", "https://origin.test"],
  ])("origin %s is normalised to %s", (origin, expected) => {
    expect(parseVersionTable([stable("2024-01-01", origin)]).latestStable.origin).toBe(expected);
  });
});

describe("parseVersionTable: sandbox origins (test mode)", () => {
  it("an entry's sandbox_origin wins over the default; entries without one get the default, normalised", () => {
    const table = parseVersionTable([stable("2024-06-01"), { ...stable("2024-11-15"), sandbox_origin: "https://SANDBOX-1115.test/" }], {
      sandboxOrigin: "https://sandbox.test:443/api/",
    });
    expect(table.byVersion.get("2024-06-01")?.sandboxOrigin).toBe("https://sandbox.test/api");
    expect(table.byVersion.get("2024-11-15")?.sandboxOrigin).toBe("https://sandbox-1115.test");
  });

  it.each([[undefined], [""], ["   "]])("no default (%j) and no sandbox_origin: null, test mode not served", (sandboxOrigin) => {
    expect(parseVersionTable([stable("2024-06-01")], { sandboxOrigin }).latestStable.sandboxOrigin).toBeNull();
  });

  it.each([
    [
      "the default is a live origin",
      [stable("2024-06-01", "https://live.test")],
      "https://LIVE.test/",
      "SANDBOX_ORIGIN: https://live.test is a live origin",
    ],
    [
      "an entry's sandbox is another entry's live origin",
      [stable("2024-06-01", "https://a.test"), { ...stable("2024-11-15", "https://b.test"), sandbox_origin: "https://a.test" }],
      undefined,
      'entries[1] (version "2024-11-15").sandbox_origin: https://a.test is a live origin',
    ],
    [
      "the default is not a URL",
      [stable("2024-06-01")],
      "sandbox.test",
      "Invalid SANDBOX_ORIGIN: must be an absolute http:// or https:// URL",
    ],
    [
      "an entry's sandbox has a query",
      [{ ...stable("2024-06-01"), sandbox_origin: "https://s.test/?x=1" }],
      undefined,
      "sandbox_origin: must not contain a query",
    ],
  ])("%s → VersionTableError", (_name, input, sandboxOrigin, message) => {
    expect(() => parseVersionTable(input, { sandboxOrigin })).toThrow(VersionTableError);
    expect(() => parseVersionTable(input, { sandboxOrigin })).toThrow(message);
  });
});

describe("parseVersionTable: invalid tables throw VersionTableError naming the problem", () => {
  const base = [stable("2024-06-01"), stable("2024-11-15")];
  it.each([
    ["not JSON", "[{", "API version table is not valid JSON"],
    ["a JSON object", '{"version":"2024-06-01"}', "Invalid API version table: table: Invalid input: expected array"],
    ["an empty array", [], "table: must list at least one version"],
    ["null", null, "expected array"],
    [
      "duplicate version",
      [...base, stable("2024-06-01", "https://other.test")],
      'entries[2] (version "2024-06-01").version: duplicates entries[0] (version 2024-06-01)',
    ],
    [
      "no stable entry",
      [{ version: "2025-03-01", status: "preview", origin: "https://p.test" }],
      "table: must contain at least one stable version",
    ],
    [
      "impossible version date",
      [stable("2024-02-30")],
      'entries[0] (version "2024-02-30").version: must be a real calendar date in YYYY-MM-DD form',
    ],
    ["version not YYYY-MM-DD", [stable("2024-1-5")], 'entries[0] (version "2024-1-5").version: must be a real calendar date'],
    [
      "unknown status",
      [...base, { version: "2025-01-01", status: "beta", origin: "https://b.test" }],
      'entries[2] (version "2025-01-01").status: Invalid option',
    ],
    [
      "origin with query",
      [stable("2024-01-01", "https://origin.test/?a=1")],
      'entries[0] (version "2024-01-01").origin: must not contain a query',
    ],
    ["origin with bare ?", [stable("2024-01-01", "https://origin.test/?")], ".origin: must not contain a query"],
    ["origin with fragment", [stable("2024-01-01", "https://origin.test/#x")], ".origin: must not contain a fragment"],
    ["origin with credentials", [stable("2024-01-01", "https://user:pw@origin.test")], ".origin: must not contain credentials"],
    ["origin with user only", [stable("2024-01-01", "https://user@origin.test")], ".origin: must not contain credentials"],
    ["relative origin", [stable("2024-01-01", "/v1")], ".origin: must be an absolute http:// or https:// URL"],
    ["scheme-less origin", [stable("2024-01-01", "origin.test")], ".origin: must be an absolute http:// or https:// URL"],
    ["ftp origin", [stable("2024-01-01", "ftp://origin.test")], ".origin: must be an absolute http:// or https:// URL"],
    ["javascript origin", [stable("2024-01-01", "javascript:alert(1)")], ".origin: must be an absolute http:// or https:// URL"],
    ["origin with space", [stable("2024-01-01", "https://origin.test/a b")], ".origin: must be printable ASCII without spaces"],
    ["origin with backslash", [stable("2024-01-01", "https://origin.test\\@evil.test")], ".origin: must not contain a backslash"],
    ["origin https:///path", [stable("2024-01-01", "https:///evil.test")], ".origin: must be an absolute http:// or https:// URL"],
    ["origin not a string", [{ version: "2024-01-01", status: "stable", origin: 42 }], ".origin: Invalid input: expected string"],
    [
      "deprecated without sunset",
      [...base, { version: "2023-08-01", status: "deprecated", origin: "https://d.test", deprecated_on: "2024-06-01" }],
      'entries[2] (version "2023-08-01").sunset: is required when status is deprecated',
    ],
    [
      "deprecated without deprecated_on",
      [...base, { version: "2023-08-01", status: "deprecated", origin: "https://d.test", sunset: "2099-12-31" }],
      'entries[2] (version "2023-08-01").deprecated_on: is required when status is deprecated',
    ],
    [
      "deprecated with impossible sunset",
      [
        ...base,
        { version: "2023-08-01", status: "deprecated", origin: "https://d.test", deprecated_on: "2024-06-01", sunset: "2025-02-29" },
      ],
      'entries[2] (version "2023-08-01").sunset: must be a real calendar date',
    ],
    [
      "sunset before deprecated_on",
      [
        ...base,
        { version: "2023-08-01", status: "deprecated", origin: "https://d.test", deprecated_on: "2024-06-01", sunset: "2024-05-31" },
      ],
      'entries[2] (version "2023-08-01").sunset: must not be before deprecated_on (2024-06-01)',
    ],
    [
      "sunset on a stable entry",
      [{ ...stable("2024-01-01"), sunset: "2099-12-31" }],
      'entries[0] (version "2024-01-01").sunset: is only allowed when status is deprecated (status is stable)',
    ],
    [
      "deprecated_on on a preview entry",
      [...base, { version: "2025-03-01", status: "preview", origin: "https://p.test", deprecated_on: "2024-06-01" }],
      'entries[2] (version "2025-03-01").deprecated_on: is only allowed when status is deprecated (status is preview)',
    ],
    [
      "unknown key (typo)",
      [{ ...stable("2024-01-01"), sunset_on: "2099-12-31" }],
      'entries[0] (version "2024-01-01"): Unrecognized key: "sunset_on"',
    ],
  ])("%s", (_name, input, expectedFragment) => {
    let caught: unknown;
    try {
      parseVersionTable(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(VersionTableError);
    expect((caught as VersionTableError).name).toBe("VersionTableError");
    expect((caught as VersionTableError).message).toContain(expectedFragment);
  });

  it("lists every problem, not only the first", () => {
    expect(() =>
      parseVersionTable([
        stable("2024-02-30", "https://a.test/?q"),
        { version: "2024-06-01", status: "preview", origin: "https://p.test" },
      ]),
    ).toThrow(
      'Invalid API version table: entries[0] (version "2024-02-30").version: must be a real calendar date in YYYY-MM-DD form; ' +
        'entries[0] (version "2024-02-30").origin: must not contain a query',
    );
  });
});
