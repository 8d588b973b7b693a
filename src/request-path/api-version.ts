/**
 * Resolves `X-Spot-Api-Version` against the version table (DESIGN §4) and picks the upstream
 * origin: the version's live origin, or for a test-mode secret (`sk_test_`) its sandbox origin
 * (docs/versions.md "Test mode"). Sets `c.var.version` and `c.var.upstreamOrigin`; answers 400 for a
 * bad or unpublished version, and 400 `test_mode_unavailable` for a test-mode secret on a version
 * without a sandbox. Decided from the headers alone: no KV read.
 */
import type { Context } from "hono";
import { type AppEnv, requireConfig } from "../env";
import { ApiError } from "../errors";
import { API_VERSION_HEADER } from "../keys/credentials";
import { resolveVersionMemo, todayUtcCached } from "../versioning/memo";
import { supportedVersions } from "../versioning/resolve";

/**
 * Sets `c.var.requestedVersion`, `c.var.version` and `c.var.upstreamOrigin`.
 * @throws ApiError `invalid_api_version` or `unsupported_api_version` (400, src/versioning/resolve.ts),
 *         `test_mode_unavailable` (400)
 */
export function resolveApiVersion(c: Context<AppEnv>): void {
  const { versions } = requireConfig(c.env, c.get("requestId"));
  const header = c.req.header(API_VERSION_HEADER);
  const resolution = resolveVersionMemo(header, versions, Date.now());
  c.set("requestedVersion", resolution.requested);
  if (!resolution.ok) throw new ApiError(resolution.code, resolution.message);
  const { entry } = resolution;
  // The mode named by the secret's prefix; authenticate then requires the key record to have the same mode.
  if (c.get("caller")?.mode === "test") {
    if (entry.sandboxOrigin === null) {
      const withSandbox = supportedVersions(versions, todayUtcCached(Date.now()))
        .filter((e) => e.sandboxOrigin !== null)
        .map((e) => e.version);
      throw new ApiError(
        "test_mode_unavailable",
        `API version ${entry.version} has no sandbox, so test-mode keys (sk_test_) cannot use it. ` +
          (withSandbox.length > 0 ? `Versions with a sandbox: ${withSandbox.join(", ")}.` : "No version has a sandbox at the moment."),
      );
    }
    c.set("version", { requested: resolution.requested, entry, origin: entry.sandboxOrigin });
    c.set("upstreamOrigin", entry.sandboxOrigin);
  } else {
    c.set("version", { requested: resolution.requested, entry, origin: entry.origin });
    c.set("upstreamOrigin", entry.origin);
  }
}
