// Worker secrets are not in wrangler.toml, so `wrangler types` only sees them when a local .dev.vars
// happens to exist. Declared here so the Env type does not depend on a developer's machine.
declare namespace Cloudflare {
  interface Env {
    /** Base64 of at least 32 random bytes: the HMAC-SHA-256 key for secret hashes (docs/storage.md). */
    SECRET_HASH_KEY: string;
  }
}
