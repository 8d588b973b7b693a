// A TypeScript module of src/ loaded into a Node script: bundled in memory with esbuild (the bundler
// wrangler uses) and imported, so scripts run the Worker's own code instead of a copy of it
// (scripts/openapi.mjs: the OpenAPI document; scripts/preflight.mjs: the version table's parser;
// scripts/lib/import-file.mjs: the secret checksum and the rate-limit tiers).

import { build } from "esbuild";

/**
 * @param {string} entry absolute path of the .ts module
 * @returns {Promise<Record<string, unknown>>} its exports
 */
export async function importTypeScript(entry) {
  const bundle = await build({ entryPoints: [entry], bundle: true, format: "esm", platform: "node", write: false, logLevel: "error" });
  const source = bundle.outputFiles[0].text;
  return import(`data:text/javascript;base64,${Buffer.from(source).toString("base64")}`);
}
