/**
 * Resolves `X-Spot-Api-Version` against the version table (DESIGN §4) and picks the upstream
 * origin. Sets `c.var.version` and `c.var.upstreamOrigin`; answers 400 for a bad or unpublished version.
 */
import { createMiddleware } from "hono/factory";
import { type AppEnv, requireConfig } from "../env";
import { ApiError } from "../errors";
import { API_VERSION_HEADER } from "../keys/credentials";
import { todayUtc } from "../versioning/date";
import { resolveVersion } from "../versioning/resolve";

export const apiVersion = createMiddleware<AppEnv>(async (c, next) => {
  const { versions } = requireConfig(c.env, c.get("requestId"));
  const header = c.req.header(API_VERSION_HEADER);
  const resolution = resolveVersion(header, versions, todayUtc(Date.now()));
  c.set("requestedVersion", resolution.requested);
  if (!resolution.ok) throw new ApiError(resolution.code, resolution.message);
  c.set("version", { requested: resolution.requested, entry: resolution.entry });
  c.set("upstreamOrigin", resolution.entry.origin);
  await next();
});
