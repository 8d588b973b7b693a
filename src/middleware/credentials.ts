/**
 * Refuses duplicated credential/version headers and malformed or missing credentials, before any
 * KV read. Sets `c.var.caller` (not verified yet).
 */
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { findDuplicateHeader, readCredentials } from "../keys/credentials";

export const credentials = createMiddleware<AppEnv>(async (c, next) => {
  const headers = c.req.raw.headers;
  const duplicate = findDuplicateHeader(headers);
  if (duplicate) throw new ApiError(duplicate.code, duplicate.message);
  const presented = readCredentials(headers);
  if ("code" in presented) {
    // A well-formed account id is still worth recording in the audit event, marked unverified.
    if (presented.accountId) c.set("caller", { accountId: presented.accountId, mode: null, keyId: null, verified: false });
    throw new ApiError(presented.code, presented.message);
  }
  c.set("caller", { accountId: presented.accountId, mode: presented.secret.mode, keyId: null, verified: false });
  await next();
});
