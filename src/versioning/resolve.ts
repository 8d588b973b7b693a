/**
 * Version resolution (DESIGN §4): `X-Spot-Api-Version` → one entry of the version table.
 *
 * Resolution is exact. The header must name a published version; omitted or empty means the
 * latest stable version (never a preview). A preview is served only when named explicitly. A
 * deprecated version is served, with RFC 9745 `Deprecation` and RFC 8594 `Sunset` headers, up to
 * and including its sunset date (UTC) and refused from the next day on.
 */

import { trimOws } from "../text";
import { isCalendarDate, parseCalendarDate, utcMidnightMs } from "./date";
import type { VersionEntry, VersionTable } from "./table";

/** Name of the request (and response/upstream) header carrying the API version. */
export const API_VERSION_HEADER = "X-Spot-Api-Version";

/** Documentation page linked from the `Link: …; rel="deprecation"` header (RFC 9745 §3). */
export const VERSIONS_DOC_URL = "https://docs.spot-thought.com/api/versions";

/** Longest part of a client-sent value echoed back in a message or recorded as `requested`. */
export const MAX_ECHOED_VERSION_CHARS = 64;

/**
 * Outcome of {@link resolveVersion}.
 *
 * - `ok: true`: serve `entry`; `requested` is the trimmed header value, or `null` when the header
 *   was absent, empty or only spaces/tabs (the default was applied).
 * - `ok: false`: answer 400 with `code`. `requested` is the trimmed value made safe to log (at most
 *   {@link MAX_ECHOED_VERSION_CHARS} characters, anything outside printable ASCII replaced with `?`,
 *   `...` appended when cut); `message` is the human sentence for the error body.
 */
export type VersionResolution =
  | { ok: true; entry: VersionEntry; requested: string | null }
  | { ok: false; code: "invalid_api_version" | "unsupported_api_version"; requested: string; message: string };

/**
 * Resolves the value of `X-Spot-Api-Version` against the table.
 *
 * @param header the header value as received (`Headers.get` result); `null`/`undefined`, `""` or
 *   only spaces/tabs select `table.latestStable`. Otherwise surrounding spaces/tabs (RFC 9110 OWS)
 *   are trimmed, and nothing else.
 * @param table  the validated version table
 * @param today  the current UTC date, `YYYY-MM-DD` (see `todayUtc`); a deprecated entry is served
 *   while `sunset >= today`
 * @returns `invalid_api_version` when the value is not a strict, real `YYYY-MM-DD` date;
 *   `unsupported_api_version` when it is a date that is not published (the message lists the
 *   supported versions) or a deprecated version past its sunset (the message names the sunset
 *   date and the latest stable version)
 * @throws RangeError when `today` is not a real `YYYY-MM-DD` date (a programming error)
 */
export function resolveVersion(header: string | null | undefined, table: VersionTable, today: string): VersionResolution {
  if (!isCalendarDate(today)) throw new RangeError(`resolveVersion: today must be a YYYY-MM-DD date, got ${JSON.stringify(today)}`);

  const value = trimOws(header ?? "");
  if (value === "") return { ok: true, entry: table.latestStable, requested: null };

  if (!isCalendarDate(value)) {
    const shown = safeEcho(value);
    return {
      ok: false,
      code: "invalid_api_version",
      requested: shown,
      message: `${API_VERSION_HEADER} must be a date in YYYY-MM-DD form naming a published version, e.g. ${table.latestStable.version}; got "${shown}".`,
    };
  }

  const entry = table.byVersion.get(value);
  if (entry === undefined) {
    return {
      ok: false,
      code: "unsupported_api_version",
      requested: value,
      message:
        `${API_VERSION_HEADER} ${value} is not a published API version. ` +
        `Supported versions: ${describeSupported(table, today)}. Omit the header to use the latest stable version, ${table.latestStable.version}.`,
    };
  }

  if (isPastSunset(entry, today)) {
    return {
      ok: false,
      code: "unsupported_api_version",
      requested: value,
      message:
        `API version ${value} was sunset on ${entry.sunset} and is no longer served. ` +
        `Use the latest stable version, ${table.latestStable.version}, or another supported version: ${describeSupported(table, today)}.`,
    };
  }

  return { ok: true, entry, requested: value };
}

/**
 * Entries still served on `today` (every entry except deprecated ones past their sunset), in
 * version order.
 *
 * @param today current UTC date, `YYYY-MM-DD`
 */
export function supportedVersions(table: VersionTable, today: string): VersionEntry[] {
  return table.entries.filter((entry) => !isPastSunset(entry, today));
}

/**
 * Response headers announcing deprecation of the served version.
 *
 * For a `deprecated` entry:
 * - `Deprecation: @<seconds>`: RFC 9745 §2.1, a Structured Fields Date (RFC 9651 §3.3.7), the Unix
 *   time in seconds of `deprecated_on` at 00:00:00 UTC, e.g. `@1717200000` for 2024-06-01;
 * - `Sunset: <IMF-fixdate>`: RFC 8594 §3, an HTTP-date (RFC 9110 §5.6.7) of `sunset` at 00:00:00
 *   GMT, e.g. `Wed, 31 Dec 2025 00:00:00 GMT` (the version stays served through that whole UTC
 *   day; RFC 8594 lets the resource become unavailable at or after this instant);
 * - `Link: <https://docs.spot-thought.com/api/versions>; rel="deprecation"; type="text/html"`:
 *   RFC 9745 §3.
 *
 * `{}` for any other entry (or a deprecated entry missing its dates, which the table forbids).
 */
export function deprecationHeaders(entry: VersionEntry): Record<string, string> {
  if (entry.status !== "deprecated") return {};
  const deprecatedOn = entry.deprecatedOn === null ? null : parseCalendarDate(entry.deprecatedOn);
  const sunset = entry.sunset === null ? null : parseCalendarDate(entry.sunset);
  if (deprecatedOn === null || sunset === null) return {};
  return {
    Deprecation: `@${Math.floor(utcMidnightMs(deprecatedOn) / 1000)}`,
    Sunset: imfFixdate(utcMidnightMs(sunset)),
    Link: `<${VERSIONS_DOC_URL}>; rel="deprecation"; type="text/html"`,
  };
}

function isPastSunset(entry: VersionEntry, today: string): boolean {
  return entry.status === "deprecated" && entry.sunset !== null && entry.sunset < today;
}

function describeSupported(table: VersionTable, today: string): string {
  return supportedVersions(table, today)
    .map((entry) => `${entry.version} (${entry.status})`)
    .join(", ");
}

/** At most MAX_ECHOED_VERSION_CHARS code units, non-printable-ASCII replaced by `?`, `...` when cut. */
function safeEcho(value: string): string {
  let out = "";
  const n = Math.min(value.length, MAX_ECHOED_VERSION_CHARS);
  for (let i = 0; i < n; i++) {
    const code = value.charCodeAt(i);
    out += code >= 0x20 && code <= 0x7e ? value[i] : "?";
  }
  return value.length > MAX_ECHOED_VERSION_CHARS ? `${out}...` : out;
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] as const;

/** RFC 9110 §5.6.7 IMF-fixdate, e.g. `Wed, 31 Dec 2025 00:00:00 GMT`. */
function imfFixdate(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    `${WEEKDAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCFullYear()).padStart(4, "0")} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} GMT`
  );
}
