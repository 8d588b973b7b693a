/**
 * The Worker's environment: Hono's `AppEnv` (bindings + per-request variables) and the
 * configuration parsed from `Env` once per isolate.
 */
import type { AdminActor } from "./admin/auth";
import type { AdminAction } from "./audit/admin-event";
import type { ClientIp } from "./client-ip/resolve";
import { ApiError, type ErrorCode } from "./errors";
import type { Delivery } from "./forwarding/delivery";
import type { KeyMode } from "./keys/format";
import { isRateLimitTier, type KeyPolicy, RATE_LIMIT_TIERS_PER_MINUTE, type RateLimitTier } from "./keys/policy";
import { errorMessage, log } from "./log";
import { parseVersionTable, type VersionEntry, type VersionTable } from "./versioning/table";

/** What the request path (credentials, then authenticate) established about the caller. */
export interface Caller {
  /** Account id from `X-Spot-Api-Key` (well-formed, possibly not verified yet). */
  accountId: string;
  /** Mode named by the secret's prefix; null when no well-formed secret was presented. */
  mode: KeyMode | null;
  /** Key id of the record that matched; null until verified. */
  keyId: string | null;
  /** True once the secret was found in KV and the record matched the account, mode and expiry. */
  verified: boolean;
  /** The verified key's policy (allowlist, rate limit override); absent until verified. */
  policy?: KeyPolicy;
}

/** The API version the request is served with. */
export interface ResolvedVersion {
  /** The header as sent (trimmed), or null when omitted. */
  requested: string | null;
  entry: VersionEntry;
  /** The origin this request goes to: the entry's live origin, or its sandbox origin for a test-mode secret. */
  origin: string;
}

/** Per-request variables (Hono `c.var`), set by src/request-path/ and the admin app. */
export interface Variables {
  requestId: string;
  /** Epoch milliseconds when the request entered the Worker. */
  startedAtMs: number;
  clientIp: ClientIp;
  /** The version header as sent, kept for the audit event even when it fails to resolve. */
  requestedVersion: string | null;
  caller: Caller | undefined;
  version: ResolvedVersion | undefined;
  /** Origin the request was (or would have been) forwarded to. */
  upstreamOrigin: string | undefined;
  /** Error code of the authorizer's own answer, when it answered with an error. */
  errorCode: ErrorCode | undefined;
  /**
   * Report-only mode (src/request-path/report-only.ts): the code of the refusal that enforcement would
   * have answered for a request forwarded anyway; undefined otherwise (and always in enforce mode).
   */
  wouldRefuse: ErrorCode | undefined;
  /** Forged identity headers the client sent, as found while building the upstream headers (forwarded requests only). */
  forgedHeaders: string[] | undefined;
  /** Forwarded responses with a body: settles with how the body ended (src/forwarding/delivery.ts); the audit event waits for it. */
  delivery: Promise<Delivery> | undefined;
  /** Admin API: the verified caller (set by the admin authentication). */
  adminActor: AdminActor | undefined;
  /** Admin API: what the request does and to which account/key, for its admin audit event. */
  adminAudit: AdminAuditTarget | undefined;
}

/** What an admin request acted on (recorded in its admin audit event). */
export interface AdminAuditTarget {
  action: AdminAction;
  accountId: string | null;
  keyId: string | null;
  newKeyId: string | null;
  /** Audit query actions: the canonical search parameters (admin event `query`). */
  query?: string | null;
  /** key.update: names of the fields whose value changed. */
  changes?: string[];
}

export type AppEnv = { Bindings: Env; Variables: Variables };

/** Configuration derived from `Env`; see wrangler.toml for each setting. */
export interface Config {
  versions: VersionTable;
  hashKeyId: string;
  /** Milliseconds a found key record is cached in the isolate. */
  keyCacheTtlMs: number;
  /** Milliseconds a key miss is cached in the isolate. */
  keyNegativeCacheTtlMs: number;
  /** Milliseconds the origin has to send response headers before a 504. */
  upstreamTimeoutMs: number;
  /** Milliseconds one KV read may take before the request is answered 503 (fail closed). */
  kvReadTimeoutMs: number;
  /** Credential failures one connecting address may have per rate-limit period (60 s) before 429s. */
  authFailureLimit: number;
  /** Requests per minute a key may make when its policy sets no override (one of the tiers). */
  keyRateLimitPerMinute: RateLimitTier;
  /** Milliseconds a rate-limit binding call may take before it counts as unavailable (fail open). */
  rateLimitTimeoutMs: number;
  /** `ENFORCEMENT`: refuse what the checks refuse, or forward it marked (docs/operations.md "Report-only mode"). */
  enforcement: Enforcement;
}

/** The values of `ENFORCEMENT`. */
export const ENFORCEMENT_MODES = ["enforce", "report-only"] as const;
export type Enforcement = (typeof ENFORCEMENT_MODES)[number];

/**
 * `ENFORCEMENT`: empty or absent is `enforce` (report-only is never the default).
 * @throws ConfigError for any value other than the two modes
 */
export function parseEnforcement(value: string | undefined): Enforcement {
  if (value === undefined || value === "" || value === "enforce") return "enforce";
  if (value === "report-only") return "report-only";
  throw new ConfigError(`ENFORCEMENT must be one of ${ENFORCEMENT_MODES.join(", ")}`);
}

/** Thrown when the configuration cannot be used; the request path answers 503 (fail closed). */
export class ConfigError extends Error {
  override name = "ConfigError";
}

function seconds(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback * 1000;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 3600) throw new ConfigError(`${name} must be a number of seconds from 0 to 3600`);
  return Math.round(n * 1000);
}

/** A whole number from `min` to `max`; empty or absent: `fallback`. */
function integer(name: string, value: string | undefined, fallback: number, min: number, max: number, unit: string): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be whole ${unit} from ${min} to ${max}`);
  return n;
}

/** One of the per-key rate limit tiers; empty or absent: `fallback`. */
function rateLimitTier(name: string, value: string | undefined, fallback: RateLimitTier): RateLimitTier {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!isRateLimitTier(n)) throw new ConfigError(`${name} must be one of ${RATE_LIMIT_TIERS_PER_MINUTE.join(", ")} (requests per minute)`);
  return n;
}

function milliseconds(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 100 || n > 600_000) throw new ConfigError(`${name} must be whole milliseconds from 100 to 600000`);
  return n;
}

let cached: { sources: readonly unknown[]; config: Config } | null = null;

/**
 * Parses and validates the configuration, once per isolate (re-parsed only when a source value changes).
 * @throws ConfigError or VersionTableError with a message naming the bad setting
 */
export function getConfig(env: Env): Config {
  const sources = [
    env.API_VERSIONS,
    env.SECRET_HASH_KEY_ID,
    env.KEY_CACHE_TTL_SECONDS,
    env.KEY_CACHE_NEGATIVE_TTL_SECONDS,
    env.UPSTREAM_TIMEOUT_MS,
    env.SANDBOX_ORIGIN,
    env.KV_READ_TIMEOUT_MS,
    env.AUTH_FAILURE_LIMIT,
    env.KEY_RATE_LIMIT_PER_MINUTE,
    env.RATE_LIMIT_TIMEOUT_MS,
    env.ENFORCEMENT,
  ];
  if (cached?.sources.every((value, i) => value === sources[i])) return cached.config;
  if (!env.SECRET_HASH_KEY_ID) throw new ConfigError("SECRET_HASH_KEY_ID is not set");
  const config: Config = {
    versions: parseVersionTable(env.API_VERSIONS, { sandboxOrigin: env.SANDBOX_ORIGIN }),
    hashKeyId: env.SECRET_HASH_KEY_ID,
    keyCacheTtlMs: seconds("KEY_CACHE_TTL_SECONDS", env.KEY_CACHE_TTL_SECONDS, 30),
    keyNegativeCacheTtlMs: seconds("KEY_CACHE_NEGATIVE_TTL_SECONDS", env.KEY_CACHE_NEGATIVE_TTL_SECONDS, 5),
    upstreamTimeoutMs: milliseconds("UPSTREAM_TIMEOUT_MS", env.UPSTREAM_TIMEOUT_MS, 30_000),
    kvReadTimeoutMs: integer("KV_READ_TIMEOUT_MS", env.KV_READ_TIMEOUT_MS, 5_000, 50, 60_000, "milliseconds"),
    authFailureLimit: integer("AUTH_FAILURE_LIMIT", env.AUTH_FAILURE_LIMIT, 30, 1, 1_000_000, "failures"),
    keyRateLimitPerMinute: rateLimitTier("KEY_RATE_LIMIT_PER_MINUTE", env.KEY_RATE_LIMIT_PER_MINUTE, 6_000),
    rateLimitTimeoutMs: integer("RATE_LIMIT_TIMEOUT_MS", env.RATE_LIMIT_TIMEOUT_MS, 1_000, 10, 10_000, "milliseconds"),
    enforcement: parseEnforcement(env.ENFORCEMENT),
  };
  cached = { sources, config };
  return config;
}

/**
 * {@link getConfig} for the request path: a configuration that cannot be used is logged and answered
 * with 503 `authorizer_unavailable`, so no request is let through unchecked.
 * @throws ApiError `authorizer_unavailable`
 */
export function requireConfig(env: Env, requestId: string): Config {
  try {
    return getConfig(env);
  } catch (err) {
    log("error", "config_invalid", { request_id: requestId, error: errorMessage(err) });
    throw new ApiError("authorizer_unavailable", UNAVAILABLE_MESSAGE, { "Retry-After": "30" });
  }
}

/** The sentence of every 503 `authorizer_unavailable`. */
export const UNAVAILABLE_MESSAGE = "The authorizer cannot check credentials right now, so the request was not let through. Retry shortly.";
