import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      /** Set in vitest.config.mts from migrations/ (readD1Migrations). */
      TEST_MIGRATIONS: D1Migration[];
      /** Private JWK (ES256) whose public half is ADMIN_JWKS; set in vitest.config.mts. */
      TEST_ADMIN_PRIVATE_JWK: string;
    }
  }
}
