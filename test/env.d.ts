import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      /** Set in vitest.config.mts from migrations/ (readD1Migrations). */
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}
