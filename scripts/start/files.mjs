// Where npm start keeps things (the project root, .dev.vars, .wrangler/…) and the two file helpers
// every step uses: read a file that may be missing, write one only its owner may read.

import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
export const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");
export const DEV_VARS = join(ROOT, ".dev.vars");
export const WRANGLER_TOML = join(ROOT, "wrangler.toml");
/** The audit Worker's configuration: its queue consumer and retention cron run in the same wrangler dev. */
export const WRANGLER_AUDIT_TOML = join(ROOT, "wrangler.audit.toml");
export const MIGRATIONS_DIR = join(ROOT, "migrations");
export const STATE_DIR = join(ROOT, ".wrangler");
export const LOCAL_D1_DIR = join(STATE_DIR, "state", "v3", "d1");
/** Miniflare's local R2: the audit archive (the only bucket, AUDIT_ARCHIVE). */
export const LOCAL_R2_DIR = join(STATE_DIR, "state", "v3", "r2");
export const DEMO_KEY_FILE = join(STATE_DIR, "demo-key.json");
export const APPLIED_MIGRATIONS_FILE = join(STATE_DIR, "start-migrations.json");

export function readText(path) {
  return existsSync(path) ? readFileSync(path, "utf8") : null;
}

/** Writes a file readable by its owner only (it holds a secret). */
export function writePrivate(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}
