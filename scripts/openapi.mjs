// `npm run openapi`: writes docs/admin-openapi.json, the OpenAPI document of the admin API, generated
// from the same zod schemas that validate its requests (src/admin/app.ts → adminOpenApiDocument).
// `npm run openapi -- --check` only compares and exits 1 when the committed file is stale
// (test/admin/openapi.test.ts checks the same inside workerd).
//
// The TypeScript module is bundled in memory with esbuild and imported (scripts/lib/ts-module.mjs).

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { importTypeScript } from "./lib/ts-module.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const OUT = join(ROOT, "docs", "admin-openapi.json");

const { adminOpenApiDocument } = await importTypeScript(join(ROOT, "src", "admin", "app.ts"));
const text = `${JSON.stringify(adminOpenApiDocument(), null, 2)}\n`;

if (process.argv.includes("--check")) {
  let current = null;
  try {
    current = readFileSync(OUT, "utf8");
  } catch {
    // missing counts as stale
  }
  // Compared as data, so a formatter touching the file does not make it stale.
  let same = false;
  try {
    same = JSON.stringify(JSON.parse(current)) === JSON.stringify(JSON.parse(text));
  } catch {
    same = false;
  }
  if (!same) {
    console.error("docs/admin-openapi.json is stale: run `npm run openapi`");
    process.exit(1);
  }
  console.log("docs/admin-openapi.json is up to date");
} else {
  writeFileSync(OUT, text);
  console.log(`wrote docs/admin-openapi.json (${Object.keys(JSON.parse(text).paths).length} paths)`);
}
