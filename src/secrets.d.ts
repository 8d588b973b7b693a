// Worker secrets are not in wrangler.toml, so `wrangler types` only sees them when a local .dev.vars
// happens to exist. Declared here so the Env type does not depend on a developer's machine: once for
// `Env` (the global type used in src/) and once for `Cloudflare.Env` (what `cloudflare:workers` exports).
interface SpotWorkerSecrets {
  /** Base64 of at least 32 random bytes: the HMAC-SHA-256 key for secret hashes (docs/storage.md). */
  SECRET_HASH_KEY: string;
  /**
   * The Ed25519 private key that signs `X-Spot-Assertion`, as a JWK with a `kid`
   * (`{"kty":"OKP","crv":"Ed25519","kid":…,"x":…,"d":…}`; docs/assertion.md).
   */
  ASSERTION_SIGNING_KEY: string;
  /**
   * Optional, so absent at run time when not set (typed as string like every generated binding): one more
   * Ed25519 public JWK published in the JWKS, for key rotation (docs/assertion.md).
   */
  ASSERTION_EXTRA_PUBLIC_KEY: string;
  /**
   * Inline JWKS (JSON `{ "keys": [...] }`, public keys only) for admin tokens; the alternative to
   * ADMIN_JWKS_URL. Not a secret but absent from wrangler.toml (locally `npm start` writes it into
   * .dev.vars), so it may be undefined at run time whatever this type says.
   */
  ADMIN_JWKS: string;
  /**
   * "true" turns on the console's local sign-in (GET /__spot/console/sign-in?token=…, loopback only;
   * docs/console.md). A var `npm start` writes into .dev.vars; never set in wrangler.toml, so absent
   * (off) in production whatever this type says.
   */
  CONSOLE_LOCAL_SIGN_IN: string;
}

interface Env extends SpotWorkerSecrets {}

declare namespace Cloudflare {
  interface Env extends SpotWorkerSecrets {}
}
