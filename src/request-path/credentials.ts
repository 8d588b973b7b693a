/**
 * The credential headers' checks (DESIGN §3): a key, secret or version header sent twice, or a key or
 * secret missing or malformed, is refused here, before any hashing or KV read.
 */
import type { Context } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { findDuplicateHeader, type PresentedCredentials, readCredentials } from "../keys/credentials";

/**
 * Reads `X-Spot-Api-Key` and `X-Spot-Api-Secret` and sets `c.var.caller` (not verified yet). A
 * well-formed account id is recorded even when the secret is refused, for the audit event.
 * @returns the presented credentials; the secret stays in the caller's hands, never in `c.var`
 * @throws ApiError `duplicate_header` (400), `missing_api_key` / `missing_api_secret` (401),
 *         `malformed_api_key` / `malformed_api_secret` (400) (docs/errors.md)
 */
export function checkCredentials(c: Context<AppEnv>): PresentedCredentials {
  const headers = c.req.raw.headers;
  const duplicate = findDuplicateHeader(headers);
  if (duplicate) throw new ApiError(duplicate.code, duplicate.message);
  const presented = readCredentials(headers);
  if ("code" in presented) {
    if (presented.accountId) c.set("caller", { accountId: presented.accountId, mode: null, keyId: null, verified: false });
    throw new ApiError(presented.code, presented.message);
  }
  c.set("caller", { accountId: presented.accountId, mode: presented.secret.mode, keyId: null, verified: false });
  return presented;
}
