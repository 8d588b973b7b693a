import { describe, expect, it } from "vitest";
import { deprecationHeaders, resolveVersion, supportedVersions, VERSIONS_DOC_URL } from "../../../src/versioning/resolve";
import { parseVersionTable } from "../../../src/versioning/table";
import { FIXTURE_TABLE_INPUT, TODAY } from "./fixtures";

const table = parseVersionTable(FIXTURE_TABLE_INPUT);
const SUPPORTED = "2023-08-01 (deprecated), 2024-06-01 (stable), 2024-11-15 (stable), 2025-03-01 (preview)";

describe("resolveVersion: header absent or blank → latest stable, never the preview", () => {
  it.each([[undefined], [null], [""], [" "], ["\t"], [" \t  "]])("%j → 2024-11-15, requested null", (header) => {
    const result = resolveVersion(header, table, TODAY);
    expect(result).toEqual({ ok: true, entry: table.byVersion.get("2024-11-15"), requested: null });
    if (result.ok) expect(result.entry.origin).toBe("https://v2024-11-15.origin.test");
  });
});

describe("resolveVersion: published versions (C5)", () => {
  it.each([
    ["2024-06-01", "2024-06-01", "https://v2024-06-01.origin.test", "stable"],
    ["2024-11-15", "2024-11-15", "https://v2024-11-15.origin.test", "stable"],
    ["2025-03-01", "2025-03-01", "https://preview.origin.test", "preview"], // a preview is served when named
    ["2023-08-01", "2023-08-01", "https://v2023-08-01.origin.test", "deprecated"], // deprecated, sunset 2099-12-31
    [" 2024-06-01\t", "2024-06-01", "https://v2024-06-01.origin.test", "stable"], // OWS trimmed
  ])("%j → %s at %s", (header, version, origin, status) => {
    const result = resolveVersion(header, table, TODAY);
    expect(result).toEqual({ ok: true, entry: expect.objectContaining({ version, origin, status }), requested: version });
  });
});

describe("resolveVersion: not a real YYYY-MM-DD → invalid_api_version (C5)", () => {
  it.each([
    ["2024-02-30", "2024-02-30"],
    ["2023-02-29", "2023-02-29"],
    ["2024-04-31", "2024-04-31"],
    ["1900-02-29", "1900-02-29"],
    ["2024-11-15T00:00:00Z", "2024-11-15T00:00:00Z"],
    ["2024-1-5", "2024-1-5"],
    ["+002024-11-15", "+002024-11-15"],
    ["20241115", "20241115"],
    ["2024-11- 15", "2024-11- 15"],
    ["2024-06-01, 2024-11-15", "2024-06-01, 2024-11-15"],
    ["latest", "latest"],
    ["2024-11-15\u00a0", "2024-11-15?"], // NBSP is not OWS: not trimmed, echoed as ?
    ["2024-11-15\r\nX-Evil: 1", "2024-11-15??X-Evil: 1"],
    ["é2024", "?2024"],
    ["x".repeat(65), `${"x".repeat(64)}...`],
    ["y".repeat(5000), `${"y".repeat(64)}...`],
  ])("%j", (header, shown) => {
    expect(resolveVersion(header, table, TODAY)).toEqual({
      ok: false,
      code: "invalid_api_version",
      requested: shown,
      message: `X-Spot-Api-Version must be a date in YYYY-MM-DD form naming a published version, e.g. 2024-11-15; got "${shown}".`,
    });
  });
});

it("resolveVersion: a lone surrogate is echoed as ?", () => {
  expect(resolveVersion("\ud800-01-01", table, TODAY)).toEqual({
    ok: false,
    code: "invalid_api_version",
    requested: "?-01-01",
    message: 'X-Spot-Api-Version must be a date in YYYY-MM-DD form naming a published version, e.g. 2024-11-15; got "?-01-01".',
  });
});

describe("resolveVersion: a real date that is not published → unsupported_api_version listing the versions", () => {
  it.each([["2024-02-29"], ["2024-11-16"], ["2024-06-02"], ["1999-12-31"]])("%s", (header) => {
    expect(resolveVersion(header, table, TODAY)).toEqual({
      ok: false,
      code: "unsupported_api_version",
      requested: header,
      message:
        `X-Spot-Api-Version ${header} is not a published API version. Supported versions: ${SUPPORTED}. ` +
        "Omit the header to use the latest stable version, 2024-11-15.",
    });
  });

  it("the list leaves out versions past their sunset but keeps those on their sunset day", () => {
    const onSunsetDay = resolveVersion("2024-02-29", table, "2024-01-01");
    expect(onSunsetDay.ok === false && onSunsetDay.message).toContain(`Supported versions: 2023-01-01 (deprecated), ${SUPPORTED}.`);
  });
});

describe("resolveVersion: sunset boundary (2023-01-01 sunsets on 2024-01-01)", () => {
  it.each([
    ["2023-06-30", true],
    ["2023-12-31", true],
    ["2024-01-01", true], // the sunset day itself is still served
    ["2024-01-02", false], // the day after is refused
    ["2025-06-15", false],
  ])("today %s → served: %s", (today, served) => {
    const result = resolveVersion("2023-01-01", table, today);
    if (served) {
      expect(result).toEqual({ ok: true, entry: table.byVersion.get("2023-01-01"), requested: "2023-01-01" });
    } else {
      expect(result).toEqual({
        ok: false,
        code: "unsupported_api_version",
        requested: "2023-01-01",
        message:
          "API version 2023-01-01 was sunset on 2024-01-01 and is no longer served. " +
          `Use the latest stable version, 2024-11-15, or another supported version: ${SUPPORTED}.`,
      });
    }
  });

  it.each([
    ["2099-12-31", true],
    ["2100-01-01", false],
  ])("2023-08-01 (sunset 2099-12-31) on %s → served: %s", (today, served) => {
    expect(resolveVersion("2023-08-01", table, today).ok).toBe(served);
  });

  it.each([["2024-13-01"], [""], ["2024-1-1"]])("an invalid today (%j) is a programming error", (today) => {
    expect(() => resolveVersion(undefined, table, today)).toThrow(RangeError);
  });
});

describe("supportedVersions", () => {
  it.each([
    ["2024-01-01", ["2023-01-01", "2023-08-01", "2024-06-01", "2024-11-15", "2025-03-01"]],
    ["2024-01-02", ["2023-08-01", "2024-06-01", "2024-11-15", "2025-03-01"]],
    ["2100-01-01", ["2024-06-01", "2024-11-15", "2025-03-01"]],
  ])("on %s", (today, expected) => {
    expect(supportedVersions(table, today).map((e) => e.version)).toEqual(expected);
  });
});

describe("deprecationHeaders", () => {
  it.each([
    [
      "2023-08-01",
      {
        Deprecation: "@1717200000", // 2024-06-01T00:00:00Z
        Sunset: "Thu, 31 Dec 2099 00:00:00 GMT",
        Link: '<https://docs.spot-thought.com/api/versions>; rel="deprecation"; type="text/html"',
      },
    ],
    [
      "2023-01-01",
      {
        Deprecation: "@1690848000", // 2023-08-01T00:00:00Z
        Sunset: "Mon, 01 Jan 2024 00:00:00 GMT",
        Link: '<https://docs.spot-thought.com/api/versions>; rel="deprecation"; type="text/html"',
      },
    ],
    ["2024-06-01", {}],
    ["2024-11-15", {}],
    ["2025-03-01", {}],
  ])("%s", (version, expected) => {
    const entry = table.byVersion.get(version);
    expect(entry).toBeDefined();
    if (entry) expect(deprecationHeaders(entry)).toStrictEqual(expected);
  });

  it.each([
    ["2024-06-01", "2025-12-31", "@1717200000", "Wed, 31 Dec 2025 00:00:00 GMT"],
    ["2024-02-29", "2024-02-29", "@1709164800", "Thu, 29 Feb 2024 00:00:00 GMT"],
    ["1970-01-01", "2000-03-05", "@0", "Sun, 05 Mar 2000 00:00:00 GMT"],
  ])("deprecated_on %s, sunset %s → %s / %s", (deprecatedOn, sunset, deprecation, sunsetHeader) => {
    const headers = deprecationHeaders({
      version: "1969-12-31",
      status: "deprecated",
      origin: "https://d.test",
      deprecatedOn,
      sunset,
      sandboxOrigin: null,
    });
    expect(headers).toStrictEqual({
      Deprecation: deprecation,
      Sunset: sunsetHeader,
      Link: `<${VERSIONS_DOC_URL}>; rel="deprecation"; type="text/html"`,
    });
  });
});
