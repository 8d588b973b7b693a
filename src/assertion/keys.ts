/**
 * The assertion's key configuration, validated (docs/assertion.md). Pure: the text of the settings →
 * the private JWK to sign with and the public JWKs to publish, or an {@link AssertionConfigError}.
 *
 * - `ASSERTION_SIGNING_KEY` (secret): an Ed25519 private key as a JWK (RFC 7517 §4, RFC 8037 §2):
 *   `{"kty":"OKP","crv":"Ed25519","kid":"…","x":"…","d":"…"}`, optionally `"alg":"EdDSA"`, `"use":"sig"`.
 * - `ASSERTION_EXTRA_PUBLIC_KEY` (secret, optional): one more Ed25519 public JWK published next to the
 *   signing key's, for rotation (the next key before a switch, the previous one after it). It must
 *   have its own `kid` and no private part.
 * - `ASSERTION_ISSUER` (var): the `iss` of every assertion, an absolute `https:` (or `http:`) URL
 *   without query, fragment or trailing slash.
 *
 * Published keys are rebuilt from an allowlist of members, so nothing but `kty`, `crv`, `x`, `kid`,
 * `alg` and `use` can ever reach the JWKS. Error messages name the setting and the member, never a
 * value (a JSON.parse message would quote the text, key material included, so it is not used).
 */
import * as z from "zod";
import { ASSERTION_ALG } from "./claims";

/** The assertion configuration cannot be used; the request path answers 503 (fail closed). */
export class AssertionConfigError extends Error {
  override name = "AssertionConfigError";
}

/** A public Ed25519 JWK as published in the JWKS (RFC 7517 §4, RFC 8037 §2). */
export interface PublicJwk {
  kty: "OKP";
  crv: "Ed25519";
  /** base64url of the 32-byte public key. */
  x: string;
  kid: string;
  alg: typeof ASSERTION_ALG;
  use: "sig";
}

/** A private Ed25519 JWK: the public members plus `d`, base64url of the 32-byte private key. */
export interface PrivateJwk extends PublicJwk {
  d: string;
}

/** A JWK Set (RFC 7517 §5) of public keys only. */
export interface PublicJwkSet {
  keys: PublicJwk[];
}

export interface AssertionKeyConfig {
  issuer: string;
  signing: PrivateJwk;
  /** The signing key's public JWK first, then the extra one when configured: at most two keys. */
  published: PublicJwk[];
}

/** base64url without padding of exactly 32 bytes (43 characters, the last one carrying 2 zero bits). */
const KEY_32_BYTES = z.string().regex(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/, "must be base64url of 32 bytes");
/** A key id: 1..64 characters that need no escaping anywhere (logs, headers, URLs). */
const KID = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, "must be 1..64 of A-Z a-z 0-9 . _ : -");

const publicMembers = {
  kty: z.literal("OKP"),
  crv: z.literal("Ed25519"),
  x: KEY_32_BYTES,
  kid: KID,
  alg: z.literal(ASSERTION_ALG).optional(),
  use: z.literal("sig").optional(),
};

const SigningJwkSchema = z.object({ ...publicMembers, d: KEY_32_BYTES });
const ExtraPublicJwkSchema = z.object({ ...publicMembers, d: z.never({ error: "must not be set: this is a public key" }).optional() });

const ISSUER_CHARS = /^[\x21-\x7e]+$/;

function describe(name: string, error: z.ZodError): string {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? ` member "${issue.path.join(".")}"` : "";
  // Zod's messages name the expectation, not the received value.
  return `${name}:${where} ${issue?.message ?? "invalid"}`;
}

function parseJson(name: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new AssertionConfigError(`${name} is not valid JSON (expected a JWK object)`);
  }
}

/** The published form of a key: only the allowlisted public members. */
export function publicJwkOf(jwk: { x: string; kid: string }): PublicJwk {
  return { kty: "OKP", crv: "Ed25519", x: jwk.x, kid: jwk.kid, alg: ASSERTION_ALG, use: "sig" };
}

/**
 * Validates the issuer.
 * @throws AssertionConfigError when it is missing or not an absolute http(s) URL without query, fragment or trailing slash
 */
export function parseIssuer(value: string | undefined): string {
  const issuer = value?.trim() ?? "";
  if (issuer === "") throw new AssertionConfigError("ASSERTION_ISSUER is not set");
  let url: URL | null = null;
  try {
    url = new URL(issuer);
  } catch {
    url = null;
  }
  if (
    !ISSUER_CHARS.test(issuer) ||
    !url ||
    (url.protocol !== "https:" && url.protocol !== "http:") ||
    issuer.includes("?") ||
    issuer.includes("#") ||
    issuer.endsWith("/")
  ) {
    throw new AssertionConfigError("ASSERTION_ISSUER must be an absolute http(s) URL without query, fragment or trailing slash");
  }
  return issuer;
}

/**
 * Parses and validates the three settings. Pure: checks shapes only; whether `x` really is the
 * public half of `d` is checked when the key is imported (src/assertion/signer.ts).
 * @throws AssertionConfigError naming the setting (and member) at fault
 */
export function parseAssertionKeyConfig(settings: {
  issuer: string | undefined;
  signingKey: string | undefined;
  extraPublicKey: string | undefined;
}): AssertionKeyConfig {
  const issuer = parseIssuer(settings.issuer);
  if (!settings.signingKey?.trim()) throw new AssertionConfigError("ASSERTION_SIGNING_KEY is not set");
  const signingParsed = SigningJwkSchema.safeParse(parseJson("ASSERTION_SIGNING_KEY", settings.signingKey));
  if (!signingParsed.success) throw new AssertionConfigError(describe("ASSERTION_SIGNING_KEY", signingParsed.error));
  const { x, kid, d } = signingParsed.data;
  const signing: PrivateJwk = { ...publicJwkOf({ x, kid }), d };
  const published = [publicJwkOf(signing)];

  if (settings.extraPublicKey?.trim()) {
    const extraParsed = ExtraPublicJwkSchema.safeParse(parseJson("ASSERTION_EXTRA_PUBLIC_KEY", settings.extraPublicKey));
    if (!extraParsed.success) throw new AssertionConfigError(describe("ASSERTION_EXTRA_PUBLIC_KEY", extraParsed.error));
    if (extraParsed.data.kid === kid) {
      throw new AssertionConfigError("ASSERTION_EXTRA_PUBLIC_KEY must have a kid other than the signing key's");
    }
    published.push(publicJwkOf(extraParsed.data));
  }
  return { issuer, signing, published };
}
