// Step 2, D1: `wrangler d1 migrations apply AUDIT_DB --local` (after deleting the local D1 database and
// R2 archive on --reset-db), with a warning when a migration file changed after it was applied
// (wrangler never re-applies an edited one); the applied files' hashes are kept in
// .wrangler/start-migrations.json.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { APPLIED_MIGRATIONS_FILE, LOCAL_D1_DIR, LOCAL_R2_DIR, MIGRATIONS_DIR, readText, STATE_DIR } from "./files.mjs";
import { bold, step, warn } from "./output.mjs";
import { wranglerStep } from "./processes.mjs";

function migrationHashes() {
  if (!existsSync(MIGRATIONS_DIR)) return {};
  const out = {};
  for (const name of readdirSync(MIGRATIONS_DIR).sort()) {
    if (name.endsWith(".sql"))
      out[name] = createHash("sha256")
        .update(readFileSync(join(MIGRATIONS_DIR, name)))
        .digest("hex");
  }
  return out;
}

export async function applyMigrations(resetDb) {
  if (resetDb && (existsSync(LOCAL_D1_DIR) || existsSync(LOCAL_R2_DIR))) {
    rmSync(LOCAL_D1_DIR, { recursive: true, force: true });
    rmSync(LOCAL_R2_DIR, { recursive: true, force: true });
    step("--reset-db: deleted the local D1 database and R2 archive (local audit trail)");
  }
  const current = migrationHashes();
  // Wrangler tracks applied migrations by file name only: an edited file is never re-applied.
  if (existsSync(LOCAL_D1_DIR)) {
    let applied = {};
    try {
      applied = JSON.parse(readText(APPLIED_MIGRATIONS_FILE) ?? "{}");
    } catch {
      applied = {};
    }
    const changed = Object.keys(applied).filter((name) => current[name] && current[name] !== applied[name]);
    if (changed.length > 0) {
      warn(
        `${changed.map((n) => `migrations/${n}`).join(", ")} changed after it was applied to the local D1 database;` +
          " wrangler does not re-apply an edited migration, so the local tables may be stale." +
          ` Run ${bold("npm start -- --reset-db")} to rebuild the local database (this deletes the local audit trail).`,
      );
    }
  }
  const result = await wranglerStep("Applying the D1 migrations", ["d1", "migrations", "apply", "AUDIT_DB", "--local"]);
  // wrangler prints the table again after each migration: every name once.
  const applied = [...new Set([...result.stdout.matchAll(/(\d+_[\w.-]+\.sql)\s*│\s*✅/g)].map((m) => m[1]))];
  step(applied.length > 0 ? `D1 (AUDIT_DB, local): applied ${applied.join(", ")}` : "D1 (AUDIT_DB, local): migrations up to date");
  let record = {};
  try {
    record = JSON.parse(readText(APPLIED_MIGRATIONS_FILE) ?? "{}");
  } catch {
    record = {};
  }
  for (const name of applied) record[name] = current[name];
  // First run of this script against a database migrated by hand: start tracking from here.
  for (const name of Object.keys(current)) record[name] ??= current[name];
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(APPLIED_MIGRATIONS_FILE, `${JSON.stringify(record, null, 2)}\n`);
}
