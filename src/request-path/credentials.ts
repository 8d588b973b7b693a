/**
 * The credential headers' checks (DESIGN §3): a key, secret or version header sent twice, or a key or
 * secret missing or malformed, is refused here, before any hashing or KV read.
 */
import { ApiError } from "../errors";
import { findDuplicateHeader, type PresentedCredentials, readCredentials } from "../keys/credentials";
import type { ApiCall } from "./call";

/**
 * Reads `X-Spot-Api-Key` and `X-Spot-Api-Secret` and sets `call.caller` (not verified yet). A
 * well-formed account id is recorded even when the secret is refused, for the audit event.
 * @returns the presented credentials; the secret stays in the caller's hands, never on the call
 * @throws ApiError `duplicate_header` (400), `missing_api_key` / `missing_api_secret` (401),
 *         `malformed_api_key` / `malformed_api_secret` (400) (docs/errors.md)
 */
export function checkCredentials(call: ApiCall): PresentedCredentials {
  const headers = call.request.headers;
  const duplicate = findDuplicateHeader(headers);
  if (duplicate) throw new ApiError(duplicate.code, duplicate.message);
  const presented = readCredentials(headers);
  if ("code" in presented) {
    if (presented.accountId) call.caller = { accountId: presented.accountId, mode: null, keyId: null, verified: false };
    throw new ApiError(presented.code, presented.message);
  }
  call.caller = { accountId: presented.accountId, mode: presented.secret.mode, keyId: null, verified: false };
  return presented;
}
