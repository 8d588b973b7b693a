/**
 * The API version table: which published dates exist, their status, and the origin each is
 * served by (DESIGN §4). Validated once at start-up with zod; a bad table is a configuration
 * error, never something to guess around.
 *
 * Wire form (a JSON string, e.g. the `API_VERSIONS` variable, or the already-parsed array):
 *
 * ```json
 * [
 *   { "version": "2024-11-15", "status": "stable",  "origin": "https://v2024-11-15.origin.example" },
 *   { "version": "2025-03-01", "status": "preview", "origin": "https://preview.origin.example" },
 *   { "version": "2023-08-01", "status": "deprecated", "origin": "https://v2023.origin.example",
 *     "deprecated_on": "2024-06-01", "sunset": "2025-12-31" },
 *   { "version": "2025-06-01", "status": "stable", "origin": "https://v2025-06-01.origin.example",
 *     "sandbox_origin": "https://v2025-06-01.sandbox.example" }
 * ]
 * ```
 *
 * Test mode (docs/versions.md "Test mode"): a request made with a test-mode secret (`sk_test_`) is
 * sent to the entry's sandbox origin, never to its live `origin`: the entry's own `sandbox_origin`,
 * else the table-wide default (`SANDBOX_ORIGIN`), else none (test keys get 400
 * `test_mode_unavailable` for that version). A sandbox origin may never equal a live origin.
 */
import * as z from "zod";
import { isCalendarDate } from "./date";

/** Lifecycle of a published version: `stable` (may be the default), `preview` (only on explicit request), `deprecated` (served with Deprecation/Sunset headers until its sunset date). */
export type VersionStatus = "stable" | "preview" | "deprecated";

/** One published API version, validated and normalised. */
export interface VersionEntry {
  /** The version name: a real calendar date, `YYYY-MM-DD`. */
  version: string;
  status: VersionStatus;
  /**
   * Absolute `http:`/`https:` URL of the upstream serving this version: scheme and host
   * lower-cased, default port dropped, optional path prefix without trailing slash, never a
   * query, fragment or credentials (e.g. `https://v2024-11-15.origin.example` or
   * `https://origin.example/api`).
   */
  origin: string;
  /** `YYYY-MM-DD` the version was deprecated on (RFC 9745 `Deprecation`); set only for `deprecated`, else null. */
  deprecatedOn: string | null;
  /** Last `YYYY-MM-DD` (UTC) on which the version is served (RFC 8594 `Sunset`); set only for `deprecated`, else null. */
  sunset: string | null;
  /**
   * Where test-mode requests of this version go (normalised like `origin`): the entry's
   * `sandbox_origin`, else the table's default sandbox; null when test mode is not served for it.
   */
  sandboxOrigin: string | null;
}

/** A validated version table. */
export interface VersionTable {
  /** Every entry, sorted by version ascending (lexical order of `YYYY-MM-DD` is date order). */
  entries: readonly VersionEntry[];
  /** Entry by its exact version string. */
  byVersion: ReadonlyMap<string, VersionEntry>;
  /** The stable entry with the greatest version: what a request without a version header gets. */
  latestStable: VersionEntry;
}

/** Options of {@link parseVersionTable}. */
export interface ParseVersionTableOptions {
  /** Default sandbox origin for test-mode requests (`SANDBOX_ORIGIN`); empty or absent: none. */
  sandboxOrigin?: string | undefined;
}

/** Thrown by {@link parseVersionTable}; the message names the offending entry and field. */
export class VersionTableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VersionTableError";
  }
}

const calendarDate = z.string().refine(isCalendarDate, { message: "must be a real calendar date in YYYY-MM-DD form" });

/** Printable ASCII, no space: what an origin URL in configuration may contain. */
const ORIGIN_CHARS = /^[\x21-\x7e]+$/;

/**
 * Validates and normalises an origin URL. Returns the normalised string, or a reason it is refused.
 * `new URL` is used to parse a URL (not a date), after refusing everything it would silently repair.
 */
function normaliseOrigin(value: string): { ok: true; origin: string } | { ok: false; reason: string } {
  if (!ORIGIN_CHARS.test(value)) return { ok: false, reason: "must be printable ASCII without spaces" };
  if (value.includes("\\")) return { ok: false, reason: "must not contain a backslash" };
  if (value.includes("?")) return { ok: false, reason: "must not contain a query" };
  if (value.includes("#")) return { ok: false, reason: "must not contain a fragment" };
  if (!/^https?:\/\/[^/]/i.test(value)) return { ok: false, reason: "must be an absolute http:// or https:// URL" };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, reason: "must be an absolute http:// or https:// URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return { ok: false, reason: "must use http or https" };
  if (url.username !== "" || url.password !== "" || /^https?:\/\/[^/]*@/i.test(value)) {
    return { ok: false, reason: "must not contain credentials" };
  }
  if (url.hostname === "") return { ok: false, reason: "must name a host" };
  const path = url.pathname.replace(/\/+$/, "");
  return { ok: true, origin: `${url.origin}${path}` };
}

const originUrl = z.string().transform((value, ctx) => {
  const result = normaliseOrigin(value);
  if (!result.ok) {
    ctx.addIssue({ code: "custom", message: result.reason, input: value });
    return z.NEVER;
  }
  return result.origin;
});

/**
 * zod schema of one wire entry (snake_case, unknown keys refused so a typo such as `sunset_on`
 * is an error rather than silently ignored).
 */
export const versionEntrySchema = z
  .strictObject({
    version: calendarDate,
    status: z.enum(["stable", "preview", "deprecated"]),
    origin: originUrl,
    deprecated_on: calendarDate.optional(),
    sunset: calendarDate.optional(),
    sandbox_origin: originUrl.optional(),
  })
  .superRefine((entry, ctx) => {
    if (entry.status === "deprecated") {
      if (entry.deprecated_on === undefined) {
        ctx.addIssue({ code: "custom", path: ["deprecated_on"], message: "is required when status is deprecated" });
      }
      if (entry.sunset === undefined) {
        ctx.addIssue({ code: "custom", path: ["sunset"], message: "is required when status is deprecated" });
      }
      if (entry.deprecated_on !== undefined && entry.sunset !== undefined && entry.sunset < entry.deprecated_on) {
        ctx.addIssue({ code: "custom", path: ["sunset"], message: `must not be before deprecated_on (${entry.deprecated_on})` });
      }
    } else {
      if (entry.deprecated_on !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["deprecated_on"],
          message: `is only allowed when status is deprecated (status is ${entry.status})`,
        });
      }
      if (entry.sunset !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["sunset"],
          message: `is only allowed when status is deprecated (status is ${entry.status})`,
        });
      }
    }
  });

/** zod schema of the whole wire table: a non-empty array, versions unique, at least one `stable`. */
export const versionTableSchema = z
  .array(versionEntrySchema)
  .min(1, { message: "must list at least one version" })
  .superRefine((entries, ctx) => {
    const seen = new Map<string, number>();
    entries.forEach((entry, index) => {
      const first = seen.get(entry.version);
      if (first !== undefined) {
        ctx.addIssue({ code: "custom", path: [index, "version"], message: `duplicates entries[${first}] (version ${entry.version})` });
      } else {
        seen.set(entry.version, index);
      }
    });
    if (!entries.some((entry) => entry.status === "stable")) {
      ctx.addIssue({ code: "custom", path: [], message: "must contain at least one stable version" });
    }
  });

/**
 * Parses and validates the version table.
 *
 * @param input a JSON string holding the array, or the already-parsed array (wire form above)
 * @param options `sandboxOrigin`: the default sandbox origin of entries without `sandbox_origin`
 *   (`SANDBOX_ORIGIN`; empty or absent: none), validated like an `origin`
 * @returns the table, entries sorted by version ascending, frozen
 * @throws VersionTableError when the JSON does not parse or any rule fails: version not a real
 *   `YYYY-MM-DD` date, duplicate version, unknown status, origin not an absolute http(s) URL or
 *   carrying a query/fragment/credentials, a `deprecated` entry without `deprecated_on` and
 *   `sunset` (or a sunset before its deprecation), those fields on a non-deprecated entry, unknown
 *   keys, or no `stable` entry; a sandbox origin (an entry's or the default) that is not a valid origin
 *   or equals any live `origin` of the table. The message lists every problem as
 *   `entries[i] (version …).field: …`.
 */
export function parseVersionTable(input: unknown, options: ParseVersionTableOptions = {}): VersionTable {
  let data: unknown = input;
  if (typeof input === "string") {
    try {
      data = JSON.parse(input);
    } catch (error) {
      throw new VersionTableError(`API version table is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  const parsed = versionTableSchema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${describePath(data, issue.path)}: ${issue.message}`);
    throw new VersionTableError(`Invalid API version table: ${problems.join("; ")}`);
  }

  let defaultSandbox: string | null = null;
  if (options.sandboxOrigin !== undefined && options.sandboxOrigin.trim() !== "") {
    const result = normaliseOrigin(options.sandboxOrigin.trim());
    if (!result.ok) throw new VersionTableError(`Invalid SANDBOX_ORIGIN: ${result.reason}`);
    defaultSandbox = result.origin;
  }
  const liveOrigins = new Set(parsed.data.map((raw) => raw.origin));
  const problems: string[] = [];
  if (defaultSandbox !== null && liveOrigins.has(defaultSandbox)) {
    problems.push(`SANDBOX_ORIGIN: ${defaultSandbox} is a live origin; test-mode traffic must never reach a live origin`);
  }
  parsed.data.forEach((raw, index) => {
    if (raw.sandbox_origin !== undefined && liveOrigins.has(raw.sandbox_origin)) {
      problems.push(
        `${describePath(data, [index, "sandbox_origin"])}: ${raw.sandbox_origin} is a live origin; test-mode traffic must never reach a live origin`,
      );
    }
  });
  if (problems.length > 0) throw new VersionTableError(`Invalid API version table: ${problems.join("; ")}`);

  const entries: VersionEntry[] = parsed.data
    .map(
      (raw): VersionEntry =>
        Object.freeze({
          version: raw.version,
          status: raw.status,
          origin: raw.origin,
          deprecatedOn: raw.deprecated_on ?? null,
          sunset: raw.sunset ?? null,
          sandboxOrigin: raw.sandbox_origin ?? defaultSandbox,
        }),
    )
    .sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));

  const byVersion = new Map(entries.map((entry) => [entry.version, entry] as const));
  let latestStable: VersionEntry | undefined;
  for (const entry of entries) {
    if (entry.status === "stable") latestStable = entry;
  }
  if (latestStable === undefined) {
    // Unreachable: the schema requires a stable entry. Kept so the type needs no assertion.
    throw new VersionTableError("Invalid API version table: must contain at least one stable version");
  }
  return Object.freeze({ entries: Object.freeze(entries), byVersion, latestStable });
}

/** `entries[2] (version 2024-06-01).origin` for an issue path, naming the entry by its version when it has one. */
function describePath(data: unknown, path: readonly PropertyKey[]): string {
  if (path.length === 0) return "table";
  const [head, ...rest] = path;
  let label: string;
  if (typeof head === "number") {
    label = `entries[${head}]`;
    const item = Array.isArray(data) ? (data[head] as unknown) : undefined;
    if (typeof item === "object" && item !== null && "version" in item) {
      const version = (item as { version: unknown }).version;
      if (typeof version === "string") label += ` (version ${JSON.stringify(version.slice(0, 40))})`;
    }
  } else {
    label = String(head);
  }
  return rest.length === 0 ? label : `${label}.${rest.map(String).join(".")}`;
}
