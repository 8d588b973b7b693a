// Worker secrets are not in wrangler.toml, so `wrangler types` only sees them when a local .dev.vars
// happens to exist. Declared here (on both the global Env and Cloudflare.Env) so the Env type does not
// depend on a developer's machine; with a local .dev.vars the generated declarations are identical.
interface SpotUndeclaredVars {
  /** Base64 of at least 32 random bytes: the HMAC-SHA-256 key for secret hashes (docs/storage.md). */
  SECRET_HASH_KEY: string;
  /**
   * Inline JWKS (JSON `{ "keys": [...] }`, public keys only) for admin tokens; the alternative to
   * ADMIN_JWKS_URL. Not a secret but absent from wrangler.toml (locally `npm start` writes it into
   * .dev.vars), so it may be undefined at run time whatever this type says.
   */
  ADMIN_JWKS: string;
}
interface Env extends SpotUndeclaredVars {}
declare namespace Cloudflare {
  interface Env extends SpotUndeclaredVars {}
}
