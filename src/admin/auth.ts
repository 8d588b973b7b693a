/**
 * Admin authentication (docs/admin-api.md "Authentication"): a JWT in `Authorization: Bearer`
 * (RFC 6750), verified with jose against the configured JWKS (RFC 7517), with issuer, audience and
 * algorithms pinned (RFC 7519 §4.1, RFC 8725 §3.1), `exp` and `sub` required, `nbf` and `iat` (when
 * present) not in the future beyond {@link CLOCK_TOLERANCE_SECONDS}. `sub` may be empty only for a
 * Cloudflare Access service token, which names itself in `common_name` (its client id) instead.
 * Writes need {@link WRITE_PERMISSION} in the permissions claim or a match in a writer list
 * (src/admin/writers.ts, the decision; this module extracts the claims it looks at).
 *
 * Configuration (wrangler.toml [vars]; locally .dev.vars):
 *   ADMIN_JWKS_URL | ADMIN_JWKS   exactly one: a remote JWKS URL (https) or an inline JWKS (JSON)
 *   ADMIN_JWT_ISSUER              expected `iss`
 *   ADMIN_JWT_AUDIENCE            expected `aud`
 *   ADMIN_JWT_ALGORITHMS          comma-separated asymmetric algorithms (e.g. "RS256", "ES256")
 *   ADMIN_PERMISSIONS_CLAIM       claim holding permissions (array of strings or space-separated string);
 *                                 a top-level name, else a dotted path (`custom.permissions`)
 *   ADMIN_GROUPS_CLAIM            dotted path of the groups claim (default `custom.groups`)
 *   ADMIN_WRITERS_EMAILS | ADMIN_WRITERS_GROUPS | ADMIN_WRITERS_SERVICE_TOKENS   writer lists
 * A configuration that cannot be used answers 503 `admin_unavailable`: never a pass.
 */
import { createLocalJWKSet, createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import * as z from "zod";
import { mayWrite, parseWriterRules, WRITE_PERMISSION, WriterListError, type WriterRules } from "./writers";

export { WRITE_PERMISSION };
/** Seconds of clock skew accepted on `exp`, `nbf` and `iat`. */
export const CLOCK_TOLERANCE_SECONDS = 30;
/** Longest token accepted, in characters (a JWT with a large key set in its header is far shorter). */
export const MAX_TOKEN_CHARS = 8192;
/** The realm of the admin API's `WWW-Authenticate: Bearer` challenges. */
export const ADMIN_REALM = "spot-admin";
/** Asymmetric JWS algorithms that may be pinned; HMAC ("HS*") and "none" never are. */
export const ALLOWED_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

/** The verified caller of the admin API. */
export interface AdminActor {
  /** Who it is, as recorded in admin events: `sub`, or for an Access service token (empty `sub`) its `common_name`. */
  sub: string;
  /** `email` claim when present (Cloudflare Access puts it there for a person), else null. */
  email: string | null;
  permissions: string[];
  /** Group names at the groups claim path; empty when absent. */
  groups: string[];
  /** `common_name` (the client id) of an Access service token; null for any other token. */
  serviceToken: string | null;
  /** May change keys: `keys:write` in the permissions or a match in a writer list. */
  canWrite: boolean;
}

export interface AdminAuthConfig {
  getKey: JWTVerifyGetKey;
  issuer: string;
  audience: string;
  algorithms: string[];
  permissionsClaim: string;
  groupsClaim: string;
  writers: WriterRules;
}

/** The admin authentication settings cannot be used; the admin API answers 503 `admin_unavailable`. */
export class AdminConfigError extends Error {
  override name = "AdminConfigError";
}

/** Token rejected: 401 `invalid_admin_token` with `reason` (a sentence for the operator). */
export class AdminTokenError extends Error {
  override name = "AdminTokenError";
}

/** The JWKS could not be fetched or used: 503 `admin_unavailable`. */
export class AdminKeysUnavailableError extends Error {
  override name = "AdminKeysUnavailableError";
}

const InlineJwksSchema = z.object({
  keys: z
    .array(
      z.looseObject({ kty: z.string() }).refine((key) => !("d" in key) && !("k" in key), {
        message: "must hold public keys only (no private `d`, no symmetric `k`)",
      }),
    )
    .min(1),
});

let cached: { sources: readonly unknown[]; config: AdminAuthConfig } | null = null;

/**
 * Reads the admin settings once per isolate (again only when a source value changes); the remote
 * key set keeps its own cache (jose: 10 min max age, 30 s cooldown between refetches).
 * @throws AdminConfigError naming the bad setting
 */
export function getAdminAuthConfig(env: Env): AdminAuthConfig {
  const sources = [
    env.ADMIN_JWKS_URL,
    env.ADMIN_JWKS,
    env.ADMIN_JWT_ISSUER,
    env.ADMIN_JWT_AUDIENCE,
    env.ADMIN_JWT_ALGORITHMS,
    env.ADMIN_PERMISSIONS_CLAIM,
    env.ADMIN_GROUPS_CLAIM,
    env.ADMIN_WRITERS_EMAILS,
    env.ADMIN_WRITERS_GROUPS,
    env.ADMIN_WRITERS_SERVICE_TOKENS,
  ];
  if (cached?.sources.every((value, i) => value === sources[i])) return cached.config;

  const url = env.ADMIN_JWKS_URL?.trim() ?? "";
  const inline = env.ADMIN_JWKS?.trim() ?? "";
  if ((url === "") === (inline === "")) throw new AdminConfigError("set exactly one of ADMIN_JWKS_URL and ADMIN_JWKS");
  let getKey: JWTVerifyGetKey;
  if (url !== "") {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new AdminConfigError("ADMIN_JWKS_URL is not a URL");
    }
    if (parsed.protocol !== "https:") throw new AdminConfigError("ADMIN_JWKS_URL must be https");
    getKey = createRemoteJWKSet(parsed, { timeoutDuration: 5_000, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
  } else {
    let jwks: z.infer<typeof InlineJwksSchema>;
    try {
      jwks = InlineJwksSchema.parse(JSON.parse(inline));
    } catch (err) {
      throw new AdminConfigError(`ADMIN_JWKS is not a usable JWKS: ${err instanceof z.ZodError ? z.prettifyError(err) : "not JSON"}`);
    }
    getKey = createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]);
  }

  const issuer = env.ADMIN_JWT_ISSUER?.trim() ?? "";
  const audience = env.ADMIN_JWT_AUDIENCE?.trim() ?? "";
  if (issuer === "") throw new AdminConfigError("ADMIN_JWT_ISSUER is not set");
  if (audience === "") throw new AdminConfigError("ADMIN_JWT_AUDIENCE is not set");
  const algorithms = (env.ADMIN_JWT_ALGORITHMS ?? "")
    .split(",")
    .map((a) => a.trim())
    .filter((a) => a !== "");
  if (algorithms.length === 0) throw new AdminConfigError("ADMIN_JWT_ALGORITHMS is empty");
  for (const alg of algorithms) {
    if (!ALLOWED_ALGORITHMS.includes(alg))
      throw new AdminConfigError(`ADMIN_JWT_ALGORITHMS: ${alg} is not an allowed asymmetric algorithm`);
  }
  const permissionsClaim = claimPathSetting("ADMIN_PERMISSIONS_CLAIM", env.ADMIN_PERMISSIONS_CLAIM, "permissions");
  const groupsClaim = claimPathSetting("ADMIN_GROUPS_CLAIM", env.ADMIN_GROUPS_CLAIM, DEFAULT_GROUPS_CLAIM);
  let writers: WriterRules;
  try {
    writers = parseWriterRules({
      emails: env.ADMIN_WRITERS_EMAILS,
      groups: env.ADMIN_WRITERS_GROUPS,
      serviceTokens: env.ADMIN_WRITERS_SERVICE_TOKENS,
    });
  } catch (err) {
    if (err instanceof WriterListError) throw new AdminConfigError(err.message);
    throw err;
  }

  const config: AdminAuthConfig = { getKey, issuer, audience, algorithms, permissionsClaim, groupsClaim, writers };
  cached = { sources, config };
  return config;
}

/**
 * The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 9110 §11.1).
 * @returns the token, or null when the header is absent, empty, of another scheme, or sent twice
 */
export function bearerToken(header: string | undefined): string | null {
  const match = /^\s*Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header ?? "");
  return match?.[1] ?? null;
}

/** Where Cloudflare Access puts custom OIDC claims and SAML attributes, a `groups` one included. */
export const DEFAULT_GROUPS_CLAIM = "custom.groups";

/**
 * A claim path setting: a claim name, or names joined by dots; unset or blank → `fallback`.
 * @throws AdminConfigError for an empty segment (`a..b`, `.a`, `a.`) or a path over 200 characters
 */
function claimPathSetting(name: string, value: string | undefined, fallback: string): string {
  const path = value?.trim() || fallback;
  if (path.length > 200) throw new AdminConfigError(`${name} is longer than 200 characters`);
  if (path.split(".").some((segment) => segment === "")) throw new AdminConfigError(`${name}: "${path}" has an empty segment`);
  return path;
}

/**
 * The value at a claim path: the top-level claim of exactly that name when there is one (so a
 * namespaced claim such as `https://example.com/roles` keeps working), else the dotted path walked
 * through nested objects (`custom.groups` → payload.custom.groups).
 */
export function claimAt(payload: JWTPayload, path: string): unknown {
  if (Object.hasOwn(payload, path)) return payload[path];
  let value: unknown = payload;
  for (const segment of path.split(".")) {
    if (value === null || typeof value !== "object" || Array.isArray(value) || !Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/** Permissions from the claim: an array of strings, or one space-separated string (OAuth `scope` style). */
export function permissionsOf(payload: JWTPayload, claim: string): string[] {
  const value = claimAt(payload, claim);
  if (typeof value === "string") return value.split(" ").filter((p) => p !== "");
  if (Array.isArray(value)) return value.filter((p): p is string => typeof p === "string");
  return [];
}

/** Groups from the claim: an array of strings, or one string (one group: names may hold spaces). */
export function groupsOf(payload: JWTPayload, claim: string): string[] {
  const value = claimAt(payload, claim);
  if (typeof value === "string") return value === "" ? [] : [value];
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === "string" && g !== "");
  return [];
}

const TOKEN_REJECTIONS: Record<string, string> = {
  ERR_JWT_EXPIRED: "the token has expired",
  ERR_JOSE_ALG_NOT_ALLOWED: "the token's algorithm is not allowed",
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: "the token's signature does not verify",
  ERR_JWKS_NO_MATCHING_KEY: "no key of the configured JWKS matches the token",
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: "several keys of the configured JWKS match the token",
  ERR_JWS_INVALID: "the token is not a valid JWS",
  ERR_JWT_INVALID: "the token is not a valid JWT",
  ERR_JOSE_NOT_SUPPORTED: "the token uses something not supported",
};

/**
 * The `iat` (issued at, RFC 7519 §4.1.6) check jose's jwtVerify does not make: jose refuses an `iat`
 * that is present but not a JSON number, and compares it with the clock only when `maxTokenAge` is
 * given, which would also make `iat` required. Here `iat` stays optional (docs/admin-api.md: checked
 * "if present"; `exp` bounds a token's life), but a present one must be a finite number of seconds
 * since the epoch no later than `nowSeconds` + {@link CLOCK_TOLERANCE_SECONDS}: a token "issued"
 * in the future is refused like a future `nbf`.
 * @param iat the claim as decoded (JSON `1e400` decodes to Infinity)
 * @param nowSeconds current time, epoch seconds (the instant jwtVerify checked `exp` and `nbf` at)
 * @returns null when acceptable, else the reason (for the 401 message)
 */
export function issuedAtProblem(iat: unknown, nowSeconds: number): string | null {
  if (iat === undefined) return null;
  if (typeof iat !== "number" || !Number.isFinite(iat)) return "it must be a finite number of seconds since the epoch";
  if (iat > nowSeconds + CLOCK_TOLERANCE_SECONDS) {
    return `it lies ${Math.round(iat - nowSeconds)} s in the future, beyond the ${CLOCK_TOLERANCE_SECONDS} s clock tolerance`;
  }
  return null;
}

/**
 * Verifies an admin token.
 * @throws AdminTokenError (→ 401) when the token is not acceptable; AdminKeysUnavailableError (→ 503)
 *         when the JWKS cannot be fetched or parsed
 */
export async function verifyAdminToken(token: string, config: AdminAuthConfig): Promise<AdminActor> {
  if (token.length > MAX_TOKEN_CHARS) throw new AdminTokenError(`the token is longer than ${MAX_TOKEN_CHARS} characters`);
  // One instant for jose's `exp`/`nbf` checks and the `iat` check below.
  const now = new Date();
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, config.getKey, {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: config.algorithms,
      requiredClaims: ["exp", "sub"],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: now,
    }));
  } catch (err) {
    // JWTExpired is a JWTClaimValidationFailed too: the table goes first.
    if (err instanceof errors.JOSEError && err.code in TOKEN_REJECTIONS) throw new AdminTokenError(TOKEN_REJECTIONS[err.code] as string);
    if (err instanceof errors.JWTClaimValidationFailed) {
      throw new AdminTokenError(`the token's "${err.claim}" claim is not acceptable (${err.reason})`);
    }
    throw new AdminKeysUnavailableError(err instanceof Error ? err.message : String(err));
  }
  const iatProblem = issuedAtProblem(payload.iat, Math.floor(now.getTime() / 1000));
  if (iatProblem !== null) throw new AdminTokenError(`the token's "iat" claim is not acceptable (${iatProblem})`);
  const sub = typeof payload.sub === "string" ? payload.sub.slice(0, 256) : "";
  // An Access service token: `sub` is "" and `common_name` is the token's client id.
  const commonName = typeof payload.common_name === "string" ? payload.common_name.slice(0, 256) : "";
  const serviceToken = sub === "" && commonName !== "" ? commonName : null;
  if (sub === "" && serviceToken === null) {
    throw new AdminTokenError('the token\'s "sub" claim is empty (and it has no "common_name" of a service token)');
  }
  const email = serviceToken === null && typeof payload.email === "string" ? payload.email.slice(0, 256) : null;
  const permissions = permissionsOf(payload, config.permissionsClaim);
  const groups = groupsOf(payload, config.groupsClaim);
  const canWrite = mayWrite({ permissions, email, groups, serviceToken }, config.writers);
  return { sub: serviceToken ?? sub, email, permissions, groups, serviceToken, canWrite };
}
