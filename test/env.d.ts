import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      /** Set in vitest.config.mts from migrations/ (readD1Migrations). */
      TEST_MIGRATIONS: D1Migration[];
      /** Set in vitest.config.mts: a second Ed25519 private JWK (kid test-k2) for the rotation tests. */
      TEST_ASSERTION_KEY_2: string;
      /** Private JWK (ES256) whose public half is ADMIN_JWKS; set in vitest.config.mts. */
      TEST_ADMIN_PRIVATE_JWK: string;
      /** Test-only rate limiter (vitest.config.mts): 5 per 60 s, passed in as AUTH_FAILURE_LIMITER. */
      TEST_FAILURE_LIMITER_5: RateLimit;
      /** wrangler.toml's [[ratelimits]] and [vars] as read by wrangler (vitest.config.mts), JSON. */
      TEST_WRANGLER_LIMITS: string;
    }
  }
}
