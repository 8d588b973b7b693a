// spot-keys: where and how to connect (SPOT_ADMIN_URL, SPOT_ADMIN_TOKEN, the Access service token, or a
// dev token minted for a local URL; docs/cli.md "Where it connects").

import { accessHeaders, isLocalUrl, localBaseUrl, mintDevToken } from "../admin-client.mjs";
import { UsageError } from "./errors.mjs";

/** @returns {Promise<{ baseUrl: string, token: string | null, headers: Record<string, string> }>} */
export async function connection() {
  const baseUrl = process.env.SPOT_ADMIN_URL?.trim() || localBaseUrl();
  let token = process.env.SPOT_ADMIN_TOKEN?.trim() || null;
  let headers;
  try {
    headers = accessHeaders(process.env, token);
  } catch (err) {
    throw new UsageError(err.message);
  }
  // An Access service token needs no admin token: Access adds its own JWT to the request.
  if (!token && !("CF-Access-Client-Id" in headers)) {
    if (!isLocalUrl(baseUrl))
      throw new UsageError(
        `SPOT_ADMIN_TOKEN is not set: an admin token (or SPOT_ACCESS_CLIENT_ID and SPOT_ACCESS_CLIENT_SECRET) is needed for ${baseUrl}`,
      );
    try {
      token = await mintDevToken();
    } catch (err) {
      throw new UsageError(err.message);
    }
  }
  return { baseUrl, token, headers };
}
