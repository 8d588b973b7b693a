/**
 * Credential header formats (DESIGN §2). Pure: decides from the header text alone, before any
 * KV read, whether a value can be a credential at all.
 */

/** `X-Spot-Api-Key`: the account id, `acct_` + 1..64 ASCII letters or digits. */
export const API_KEY_PATTERN = /^acct_[A-Za-z0-9]{1,64}$/;

/** `X-Spot-Api-Secret`: `sk_live_` or `sk_test_` + 4..128 ASCII letters or digits. */
export const API_SECRET_PATTERN = /^sk_(live|test)_[A-Za-z0-9]{4,128}$/;

/** A key's mode: live keys reach live origins; test keys are for integration work. */
export type KeyMode = "live" | "test";

/** A secret that passed {@link API_SECRET_PATTERN}, with the mode its prefix names. */
export interface ParsedSecret {
  secret: string;
  mode: KeyMode;
}

/** True when `value` is a well-formed account id (`acct_…`). */
export function isApiKey(value: string): boolean {
  return API_KEY_PATTERN.test(value);
}

/**
 * Parses a secret header value.
 * @returns the secret and its mode, or `null` when the value does not match {@link API_SECRET_PATTERN}
 *          (wrong prefix, length outside 4..128, or any character outside `[A-Za-z0-9]`, non-ASCII included).
 */
export function parseSecret(value: string): ParsedSecret | null {
  const match = API_SECRET_PATTERN.exec(value);
  if (!match) return null;
  return { secret: value, mode: match[1] as KeyMode };
}
