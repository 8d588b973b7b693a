// `npm run preflight -- --env production`: checks an environment of wrangler.toml before it is
// deployed (`npm run deploy` runs it first), from the configuration wrangler resolves for it and the
// secrets the account holds. Each problem is one line, with how to fix it; exit 1 when there is any.
//
//   ids         no KV or D1 id is still a placeholder (all zeros or <…>)
//   admin       ADMIN_JWT_AUDIENCE and ADMIN_JWT_ISSUER set; exactly one of ADMIN_JWKS_URL, ADMIN_JWKS
//   secrets     SECRET_HASH_KEY and ASSERTION_SIGNING_KEY stored (`wrangler secret list --env`)
//   routes      every route names its zone (zone_name or zone_id) or is a custom domain
//   ratelimits  no namespace_id shared with another environment (or within this one)
//   versions    API_VERSIONS parses with the Worker's own parser (src/versioning/table.ts)

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  EnvScriptError,
  environmentNames,
  isPlaceholderId,
  parseEnvArgs,
  REQUIRED_SECRETS,
  readEnvConfig,
  secretNames,
} from "./lib/environments.mjs";
import { importTypeScript } from "./lib/ts-module.mjs";
import { ROOT } from "./lib/wrangler.mjs";

/** The Worker's own parser of the version table (src/versioning/table.ts). */
async function loadVersionTableParser() {
  return (await importTypeScript(join(ROOT, "src", "versioning", "table.ts"))).parseVersionTable;
}

/**
 * Every problem of an environment, one line each (empty: ready to deploy).
 * @param {{ env: string, config: string }} options
 * @returns {Promise<string[]>}
 */
export async function preflight({ env, config }) {
  const cfg = readEnvConfig(config, env);
  const problems = [];
  const toml = `[env.${env}] of wrangler.toml`;
  const provision = `npm run provision -- --env ${env}`;

  // ids
  for (const ns of cfg.kv_namespaces) {
    if (isPlaceholderId(ns.id)) problems.push(`KV ${ns.binding}: id is a placeholder; run \`${provision}\``);
  }
  for (const db of cfg.d1_databases) {
    if (isPlaceholderId(db.database_id)) problems.push(`D1 ${db.binding}: database_id is a placeholder; run \`${provision}\``);
  }

  // admin
  const vars = cfg.vars ?? {};
  const text = (name) => (typeof vars[name] === "string" ? vars[name].trim() : "");
  if (text("ADMIN_JWT_AUDIENCE") === "") {
    problems.push(
      `ADMIN_JWT_AUDIENCE is empty (the admin API would answer 503); set it in ${toml} vars to the Access application's AUD tag`,
    );
  }
  if (text("ADMIN_JWT_ISSUER") === "") problems.push(`ADMIN_JWT_ISSUER is empty; set it in ${toml} vars (the Access team URL)`);
  if ((text("ADMIN_JWKS_URL") === "") === (text("ADMIN_JWKS") === "")) {
    problems.push(`set exactly one of ADMIN_JWKS_URL and ADMIN_JWKS in ${toml} vars (the Access team's certs URL)`);
  }

  // secrets
  try {
    const present = new Set(await secretNames(env, config));
    for (const name of REQUIRED_SECRETS) {
      if (!present.has(name)) problems.push(`secret ${name} is not set; run \`${provision}\` (generates and stores it)`);
    }
  } catch (err) {
    // wrangler's own words: the first line of its output that says something (not the command line).
    const lines = String(err?.message ?? err)
      .split("\n")
      .map((line) => line.replace(/^\s*(✘\s*)?(\[ERROR\]\s*)?/u, "").trim())
      .filter(Boolean);
    const why = lines.length > 1 ? lines[1] : (lines[0] ?? "unknown error");
    problems.push(`cannot list the secrets (${why}); run \`${provision}\` and check \`npx wrangler whoami\` (or CLOUDFLARE_API_TOKEN)`);
  }

  // routes
  const routes = cfg.routes ?? (cfg.route ? [cfg.route] : []);
  if (routes.length === 0 && !cfg.workers_dev)
    problems.push(`no routes and workers_dev = false: nothing would reach it; add routes to ${toml}`);
  for (const route of routes) {
    const ok = typeof route === "object" && (route.custom_domain === true || Boolean(route.zone_name) || Boolean(route.zone_id));
    if (!ok) {
      const pattern = typeof route === "string" ? route : route.pattern;
      problems.push(`route ${pattern} names no zone; add zone_name = "<zone>" (or zone_id, or custom_domain = true) to it in ${toml}`);
    }
  }

  // ratelimits
  const own = new Map();
  for (const rl of cfg.ratelimits ?? []) {
    if (own.has(rl.namespace_id)) {
      problems.push(
        `ratelimits ${rl.name} and ${own.get(rl.namespace_id)} share namespace_id ${rl.namespace_id}; give each its own in ${toml}`,
      );
    } else own.set(rl.namespace_id, rl.name);
  }
  for (const other of environmentNames(readFileSync(config, "utf8"))) {
    if (other === env) continue;
    for (const rl of readEnvConfig(config, other).ratelimits ?? []) {
      if (own.has(rl.namespace_id)) {
        problems.push(
          `ratelimits ${own.get(rl.namespace_id)}: namespace_id ${rl.namespace_id} is also used by [env.${other}] (${rl.name}): the two would share counters; pick an unused id in ${toml}`,
        );
      }
    }
  }

  // versions
  try {
    const parseVersionTable = await loadVersionTableParser();
    parseVersionTable(vars.API_VERSIONS, { sandboxOrigin: vars.SANDBOX_ORIGIN });
  } catch (err) {
    problems.push(
      `API_VERSIONS is unusable (every request would answer 503): ${String(err?.message ?? err).replaceAll("\n", " ")}; fix it in ${toml} vars (docs/versions.md)`,
    );
  }

  return problems;
}

/** Runs {@link preflight} and prints its verdict; true when the environment is ready. */
export async function runPreflight({ env, config }) {
  const problems = await preflight({ env, config });
  if (problems.length === 0) {
    console.log(`preflight ${env}: ok`);
    return true;
  }
  console.error(`preflight ${env}: ${problems.length} problem${problems.length === 1 ? "" : "s"}`);
  for (const problem of problems) console.error(`✘ ${problem}`);
  return false;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    const { env, config } = parseEnvArgs(process.argv.slice(2));
    process.exitCode = (await runPreflight({ env, config })) ? 0 : 1;
  } catch (err) {
    console.error(`✘ ${err instanceof EnvScriptError ? err.message : (err?.stack ?? String(err))}`);
    process.exitCode = 1;
  }
}
