import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Runs before each test file: brings the file's isolated D1 to the schema in migrations/.
await applyD1Migrations(env.AUDIT_DB, env.TEST_MIGRATIONS);
