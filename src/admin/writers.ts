/**
 * Who may write (docs/admin-api.md "Authentication"): the pure decision, from claims that
 * src/admin/auth.ts has already verified and extracted. A token may write when EITHER its
 * permissions claim holds `keys:write`, OR it matches one of the writer lists:
 *
 *   ADMIN_WRITERS_EMAILS          comma-separated emails, matched case-insensitively against `email`
 *                                 (identity tokens only: a token with a non-empty `sub`)
 *   ADMIN_WRITERS_GROUPS          comma-separated group names, matched exactly against the groups
 *                                 claim at ADMIN_GROUPS_CLAIM (a dotted path, default `custom.groups`)
 *   ADMIN_WRITERS_SERVICE_TOKENS  comma-separated Access service-token client ids, matched exactly
 *                                 against `common_name` of a service token (empty `sub`)
 *
 * Empty lists match nothing. A list that cannot be used (an email without `@`, an entry with
 * whitespace inside) is an AdminConfigError: the admin API answers 503, never a pass.
 */

/** The permission every write (create, rotate, revoke, import, update, suspend, resume) needs. */
export const WRITE_PERMISSION = "keys:write";

/** The writer lists, parsed. */
export interface WriterRules {
  /** Lower-cased. */
  emails: ReadonlySet<string>;
  groups: ReadonlySet<string>;
  serviceTokens: ReadonlySet<string>;
}

/** What the decision looks at, from a verified token. */
export interface WriterClaims {
  permissions: readonly string[];
  /** `email`, only for an identity token; null otherwise. */
  email: string | null;
  groups: readonly string[];
  /** `common_name` of an Access service token (empty `sub`); null for any other token. */
  serviceToken: string | null;
}

/** A writer list that cannot be used; the caller turns it into its own configuration error. */
export class WriterListError extends Error {
  override name = "WriterListError";
}

/** Longest entry accepted in a writer list (an email is at most 254 characters). */
const MAX_ENTRY_CHARS = 256;

function entries(name: string, value: string | undefined): string[] {
  const out: string[] = [];
  for (const raw of (value ?? "").split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    if (entry.length > MAX_ENTRY_CHARS) throw new WriterListError(`${name}: an entry is longer than ${MAX_ENTRY_CHARS} characters`);
    out.push(entry);
  }
  return out;
}

/**
 * Parses the writer lists.
 * @throws WriterListError naming the bad setting
 */
export function parseWriterRules(settings: {
  emails: string | undefined;
  groups: string | undefined;
  serviceTokens: string | undefined;
}): WriterRules {
  const emails = entries("ADMIN_WRITERS_EMAILS", settings.emails).map((email) => {
    if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new WriterListError(`ADMIN_WRITERS_EMAILS: "${email}" is not an email address`);
    return email.toLowerCase();
  });
  const serviceTokens = entries("ADMIN_WRITERS_SERVICE_TOKENS", settings.serviceTokens);
  for (const id of serviceTokens) {
    if (/\s/.test(id)) throw new WriterListError(`ADMIN_WRITERS_SERVICE_TOKENS: "${id}" is not a client id (it contains whitespace)`);
  }
  return {
    emails: new Set(emails),
    groups: new Set(entries("ADMIN_WRITERS_GROUPS", settings.groups)),
    serviceTokens: new Set(serviceTokens),
  };
}

/** True when the token may write: `keys:write` in its permissions, or a match in one of the lists. */
export function mayWrite(claims: WriterClaims, rules: WriterRules): boolean {
  if (claims.permissions.includes(WRITE_PERMISSION)) return true;
  if (claims.email !== null && rules.emails.has(claims.email.toLowerCase())) return true;
  if (claims.groups.some((group) => rules.groups.has(group))) return true;
  return claims.serviceToken !== null && rules.serviceTokens.has(claims.serviceToken);
}
