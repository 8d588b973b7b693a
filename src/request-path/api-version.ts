/**
 * Resolves `X-Spot-Api-Version` against the version table (DESIGN §4) and picks the upstream
 * origin: the version's live origin, or for a test-mode secret (`sk_test_`) its sandbox origin
 * (docs/versions.md "Test mode"). Sets `call.version` and `call.upstreamOrigin`; answers 400 for a
 * bad or unpublished version, and 400 `test_mode_unavailable` for a test-mode secret on a version
 * without a sandbox. Decided from the headers alone: no KV read.
 */
import { ApiError } from "../errors";
import { API_VERSION_HEADER } from "../keys/credentials";
import { resolveVersionMemo, todayUtcCached } from "../versioning/memo";
import { supportedVersions } from "../versioning/resolve";
import type { ApiCall } from "./call";

/**
 * Sets `call.requestedVersion`, `call.version` and `call.upstreamOrigin`.
 * @throws ApiError `invalid_api_version` or `unsupported_api_version` (400, src/versioning/resolve.ts),
 *         `test_mode_unavailable` (400)
 */
export function resolveApiVersion(call: ApiCall): void {
  const { versions } = call.config();
  const header = call.header(API_VERSION_HEADER) ?? undefined;
  const resolution = resolveVersionMemo(header, versions, Date.now());
  call.requestedVersion = resolution.requested;
  if (!resolution.ok) throw new ApiError(resolution.code, resolution.message);
  const { entry } = resolution;
  // The mode named by the secret's prefix; authenticate then requires the key record to have the same mode.
  if (call.caller?.mode === "test") {
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
    call.version = { requested: resolution.requested, entry, origin: entry.sandboxOrigin };
    call.upstreamOrigin = entry.sandboxOrigin;
  } else {
    call.version = { requested: resolution.requested, entry, origin: entry.origin };
    call.upstreamOrigin = entry.origin;
  }
}
