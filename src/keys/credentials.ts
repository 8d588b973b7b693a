/**
 * Reads the credential and version headers of a request (DESIGN §2). Pure: decides from the
 * headers alone, before any KV read.
 */
import { trimOws } from "../text";
import { isApiKey, type ParsedSecret, parseSecret } from "./format";

export const API_KEY_HEADER = "X-Spot-Api-Key";
export const API_SECRET_HEADER = "X-Spot-Api-Secret";
export const API_VERSION_HEADER = "X-Spot-Api-Version";

/** A failed check: the error code and the human sentence the integrator gets. */
export interface HeaderProblem {
  code: "duplicate_header" | "missing_api_key" | "missing_api_secret" | "malformed_api_key" | "malformed_api_secret";
  message: string;
  /** The account id when the key header itself was well-formed (for the audit trail; not verified). */
  accountId?: string;
}

/**
 * A header sent twice reaches the Worker as one value joined with ", " (Fetch standard, "combine").
 * No valid key, secret or version contains a comma, so any comma means two values: refused, never guessed.
 * @returns the first of key, secret, version that was sent more than once, else null
 */
export function findDuplicateHeader(headers: Headers): HeaderProblem | null {
  for (const name of [API_KEY_HEADER, API_SECRET_HEADER, API_VERSION_HEADER]) {
    if (headers.get(name)?.includes(",")) {
      return { code: "duplicate_header", message: `${name} was sent more than once; send it exactly once.` };
    }
  }
  return null;
}

/** The presented credentials once their formats are right; nothing here is verified yet. */
export interface PresentedCredentials {
  accountId: string;
  secret: ParsedSecret;
}

/**
 * Checks presence and format of `X-Spot-Api-Key` and `X-Spot-Api-Secret`.
 * Missing (absent or empty) → 401 codes; present but malformed → 400 codes (docs/errors.md).
 * @returns the credentials, or the problem to answer with
 */
export function readCredentials(headers: Headers): PresentedCredentials | HeaderProblem {
  const accountId = trimOws(headers.get(API_KEY_HEADER) ?? "");
  const secretValue = trimOws(headers.get(API_SECRET_HEADER) ?? "");
  if (!accountId) return { code: "missing_api_key", message: `Send your account id in the ${API_KEY_HEADER} header (acct_…).` };
  if (!isApiKey(accountId)) {
    return { code: "malformed_api_key", message: `${API_KEY_HEADER} must be acct_ followed by 1 to 64 ASCII letters or digits.` };
  }
  if (!secretValue) {
    return {
      code: "missing_api_secret",
      message: `Send your secret in the ${API_SECRET_HEADER} header (sk_live_… or sk_test_…).`,
      accountId,
    };
  }
  const secret = parseSecret(secretValue);
  if (!secret) {
    return {
      code: "malformed_api_secret",
      message: `${API_SECRET_HEADER} must be sk_live_ or sk_test_ followed by 4 to 128 ASCII letters or digits.`,
      accountId,
    };
  }
  return { accountId, secret };
}
