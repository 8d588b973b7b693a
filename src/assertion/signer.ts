/**
 * Signs assertions (JWS Compact Serialization, RFC 7515 §7.1; JWT, RFC 7519) with the Worker's
 * Ed25519 key (EdDSA, RFC 8037), and holds the JWKS that publishes its public half.
 *
 * Workers have no start hook, so "at start" means the first request of an isolate that needs the key:
 * the settings are validated, the private key is imported once (non-extractable) and proven to match
 * its published public key (one probe signature, verified). The outcome, success or failure, is
 * cached per isolate and re-done only when a setting's text changes (a new deployment). A failure is
 * answered with 503 `authorizer_unavailable` on every request that needs the key (fail closed), each
 * with one `assertion_key_invalid` log line naming the setting, never its value.
 */
import { base64url, importJWK } from "jose";
import { UNAVAILABLE_MESSAGE } from "../env";
import { ApiError } from "../errors";
import { errorMessage, log } from "../log";
import { ASSERTION_ALG, ASSERTION_TYP, type AssertionClaims } from "./claims";
import { AssertionConfigError, type PublicJwkSet, parseAssertionKeyConfig } from "./keys";

/** A usable signing setup, one per isolate. */
export interface AssertionSigner {
  /** `iss` of every assertion. */
  issuer: string;
  /** `kid` of the signing key (JWS header). */
  kid: string;
  /** The published JWK Set: the signing key's public JWK, then the extra one if configured. */
  jwks: PublicJwkSet;
  /** `JSON.stringify(jwks)`, served as is. */
  jwksBody: string;
  /**
   * Signs a claims set.
   * @returns the JWT in compact form: header `{"alg":"EdDSA","kid":…,"typ":"spot-assertion+jwt"}`
   */
  sign(claims: AssertionClaims): Promise<string>;
}

/** The settings an assertion signer is made from (Worker secrets and a var); any of them may be unset at run time. */
export interface AssertionEnv {
  ASSERTION_ISSUER?: string;
  ASSERTION_SIGNING_KEY?: string;
  ASSERTION_EXTRA_PUBLIC_KEY?: string;
}

type Outcome = { ok: true; signer: AssertionSigner } | { ok: false; error: string };

let cached: { sources: readonly (string | undefined)[]; outcome: Promise<Outcome>; ready: AssertionSigner | undefined } | null = null;

/**
 * The signer {@link getAssertionSigner} already made from these settings, without waiting; undefined
 * before it is ready, after a failure, or when a setting changed.
 */
export function readyAssertionSigner(env: AssertionEnv): AssertionSigner | undefined {
  if (cached === null || cached.ready === undefined) return undefined;
  const [issuer, signingKey, extra] = cached.sources;
  return env.ASSERTION_ISSUER === issuer && env.ASSERTION_SIGNING_KEY === signingKey && env.ASSERTION_EXTRA_PUBLIC_KEY === extra
    ? cached.ready
    : undefined;
}

const utf8 = new TextEncoder();
const PROBE = utf8.encode("spot-assertion-key-probe");

async function createSigner(env: AssertionEnv): Promise<AssertionSigner> {
  const config = parseAssertionKeyConfig({
    issuer: env.ASSERTION_ISSUER,
    signingKey: env.ASSERTION_SIGNING_KEY,
    extraPublicKey: env.ASSERTION_EXTRA_PUBLIC_KEY,
  });
  const [signingPublic, extraPublic] = config.published;
  if (!signingPublic) throw new AssertionConfigError("internal: no public key");
  let privateKey: CryptoKey;
  let publicKey: CryptoKey;
  try {
    privateKey = (await importJWK(config.signing, ASSERTION_ALG, { extractable: false })) as CryptoKey;
    publicKey = (await importJWK(signingPublic, ASSERTION_ALG)) as CryptoKey;
  } catch {
    throw new AssertionConfigError("ASSERTION_SIGNING_KEY could not be imported as an Ed25519 key");
  }
  // Proves that the published x is the public half of d: otherwise every assertion would fail at the origins.
  let matches = false;
  try {
    const signature = await crypto.subtle.sign("Ed25519", privateKey, PROBE);
    matches = await crypto.subtle.verify("Ed25519", publicKey, signature, PROBE);
  } catch {
    matches = false;
  }
  if (!matches) throw new AssertionConfigError('ASSERTION_SIGNING_KEY: member "x" is not the public key of member "d"');
  if (extraPublic) {
    try {
      await importJWK(extraPublic, ASSERTION_ALG);
    } catch {
      throw new AssertionConfigError("ASSERTION_EXTRA_PUBLIC_KEY could not be imported as an Ed25519 public key");
    }
  }
  const jwks: PublicJwkSet = { keys: config.published };
  // The protected header is the same for every assertion: encoded once (RFC 7515 §7.1: BASE64URL(UTF8(header)) ".").
  const signingInputPrefix = `${base64url.encode(JSON.stringify({ alg: ASSERTION_ALG, kid: config.signing.kid, typ: ASSERTION_TYP }))}.`;
  return {
    issuer: config.issuer,
    kid: config.signing.kid,
    jwks,
    jwksBody: JSON.stringify(jwks),
    // A JWT is a JWS over the JSON claims set (RFC 7519 §7.1). Signed with WebCrypto's Ed25519 directly
    // (jose's CompactSign would validate and encode the same constant header on every request); jose
    // still imports the key, and the origins' verifier (examples/verify-assertion.mjs, jose's jwtVerify) checks
    // the result in test/worker/assertion.test.ts and on every `npm start` demo request.
    sign: (claims) => signCompact(signingInputPrefix, claims, privateKey),
  };
}

/**
 * JWS Compact Serialization of a claims set (RFC 7515 §3.1, §7.1) with Ed25519 (RFC 8037 §3.1).
 * @param signingInputPrefix BASE64URL(UTF8(protected header)) followed by "."
 * @returns `header.payload.signature`, each part base64url without padding
 */
async function signCompact(signingInputPrefix: string, claims: AssertionClaims, key: CryptoKey): Promise<string> {
  const signingInput = signingInputPrefix + base64url.encode(JSON.stringify(claims));
  const signature = await crypto.subtle.sign("Ed25519", key, utf8.encode(signingInput));
  return `${signingInput}.${base64url.encode(new Uint8Array(signature))}`;
}

/**
 * The isolate's signer, created on first use and cached with its outcome.
 * @throws AssertionConfigError (the cached failure) when the settings cannot be used
 */
export async function getAssertionSigner(env: AssertionEnv): Promise<AssertionSigner> {
  const sources = [env.ASSERTION_ISSUER, env.ASSERTION_SIGNING_KEY, env.ASSERTION_EXTRA_PUBLIC_KEY];
  if (!cached?.sources.every((value, i) => value === sources[i])) {
    const outcome = createSigner(env).then(
      (signer): Outcome => ({ ok: true, signer }),
      (err): Outcome => ({
        ok: false,
        error: err instanceof AssertionConfigError ? err.message : `assertion key setup failed: ${errorMessage(err)}`,
      }),
    );
    const entry: NonNullable<typeof cached> = { sources, outcome, ready: undefined };
    cached = entry;
    outcome.then((settled) => {
      if (settled.ok) entry.ready = settled.signer;
    });
  }
  const outcome = await cached.outcome;
  if (!outcome.ok) throw new AssertionConfigError(outcome.error);
  return outcome.signer;
}

/**
 * {@link getAssertionSigner} for the request path: an unusable configuration is logged
 * (`assertion_key_invalid`) and answered with 503 `authorizer_unavailable`.
 * @throws ApiError `authorizer_unavailable`
 */
export async function requireAssertionSigner(env: AssertionEnv, requestId: string): Promise<AssertionSigner> {
  try {
    return await getAssertionSigner(env);
  } catch (err) {
    log("error", "assertion_key_invalid", { request_id: requestId, error: errorMessage(err) });
    throw new ApiError("authorizer_unavailable", UNAVAILABLE_MESSAGE, { "Retry-After": "30" });
  }
}

/** Forgets the cached signer (tests only: the next call imports again). */
export function clearAssertionSignerCache(): void {
  cached = null;
}
