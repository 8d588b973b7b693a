// Worker secrets are not in wrangler.toml, so `wrangler types` only sees them when a local .dev.vars
// happens to exist. Declared here (on both Env interfaces it generates) so the type does not depend
// on a developer's machine.
interface WorkerSecrets {
  /** Base64 of at least 32 random bytes: the HMAC-SHA-256 key for secret hashes (docs/storage.md). */
  SECRET_HASH_KEY: string;
}
interface Env extends WorkerSecrets {}
declare namespace Cloudflare {
  interface Env extends WorkerSecrets {}
}
