// `npm run preflight -- --env production`: checks an environment of wrangler.toml before it is
// deployed (`npm run deploy` runs it first), from the configuration wrangler resolves for it and the
// secrets the account holds. Each problem is one line, with how to fix it; exit 1 when there is any.
//
//   config      wrangler can read the environment's configuration (else its first words, one line)
//   ids         no KV or D1 id is still a placeholder (all zeros or <…>)
//   audit       the audit Worker's config (wrangler.audit.toml next to wrangler.toml) exists, wrangler
//               reads its [env.<env>], its D1 id is no placeholder, and it fits this one
//               (environments.mjs auditConfigProblems: it consumes the queue this one produces to and
//               its dead-letter queue, the same D1 database and R2 bucket; this one consumes nothing)
//   bindings    the KEYS KV namespace and one KEY_RATE_LIMIT_<n> rate limit per tier of
//               RATE_LIMIT_TIERS_PER_MINUTE (src/keys/policy.ts), with simple.limit n
//   admin       ADMIN_JWT_AUDIENCE and ADMIN_JWT_ISSUER set; exactly one of ADMIN_JWKS_URL, ADMIN_JWKS;
//               ADMIN_JWKS_URL an https URL
//   enforcement ENFORCEMENT parses with the Worker's own parser (src/env.ts parseEnforcement)
//   secrets     SECRET_HASH_KEY and ASSERTION_SIGNING_KEY stored (`wrangler secret list --env`)
//   routes      every route names its zone (zone_name or zone_id) or is a custom domain (route objects
//               are checked in the file's text first, so wrangler's own error does not come first)
//   ratelimits  AUTH_FAILURE_LIMITER's simple.limit equals AUTH_FAILURE_LIMIT; no namespace_id shared
//               with another environment (or within this one)
//   versions    API_VERSIONS parses with the Worker's own parser (src/versioning/table.ts)

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  auditConfigPath,
  auditConfigProblems,
  configName,
  DEFAULT_CONFIG,
  environmentNames,
  isPlaceholderId,
  REQUIRED_SECRETS,
  readEnvConfig,
  runEnvScript,
  secretNames,
} from "./lib/environments.mjs";
import { importTypeScript } from "./lib/ts-module.mjs";
import { ROOT } from "./lib/wrangler.mjs";

export const USAGE = `usage: npm run preflight -- --env <environment> [--config <file>]
  checks an environment of wrangler.toml and wrangler.audit.toml before it is deployed: one line per
  problem, with how to fix it; exit 0 when there is none, 1 when there is any
  --env, -e <name>  the [env.<name>] section (staging, production)
  --config <file>   another wrangler.toml (default: the project's), with its audit config next to it
  -h, --help        print this text`;

/** The Worker's own code the checks use: the version table's parser, ENFORCEMENT's, the rate-limit tiers, the audit queue names. */
async function loadWorkerParts() {
  const [table, env, policy, queues] = await Promise.all(
    [["versioning", "table.ts"], ["env.ts"], ["keys", "policy.ts"], ["audit", "queues.ts"]].map((path) =>
      importTypeScript(join(ROOT, "src", ...path)),
    ),
  );
  return {
    parseVersionTable: table.parseVersionTable,
    parseEnforcement: env.parseEnforcement,
    tiers: policy.RATE_LIMIT_TIERS_PER_MINUTE,
    auditQueueRole: queues.auditQueueRole,
  };
}

/** The default of AUTH_FAILURE_LIMIT when it is absent or empty (src/env.ts). */
const DEFAULT_AUTH_FAILURE_LIMIT = 30;

/**
 * The patterns of the route objects (inline tables in `routes = [ … ]` or `route = { … }` of
 * `[env.<env>]`) that name no zone: wrangler refuses to read such a file with a multi-line error, so
 * this looks at the text first. Not a TOML parser: the inline tables wrangler.toml uses, one level deep.
 */
export function routeObjectsWithoutZone(text, env) {
  const lines = text.split("\n");
  const start = lines.findIndex((line) => line.replace(/\s#.*$/, "").trim() === `[env.${env}]`);
  if (start < 0) return [];
  let end = start + 1;
  while (end < lines.length && !/^\s*\[/.test(lines[end])) end++;
  const section = lines
    .slice(start + 1, end)
    .map((line) => line.replace(/\s#.*$/, ""))
    .join("\n");
  const found = [];
  const value = /^\s*routes?\s*=\s*(\[[^\]]*\]|\{[^}]*\})/m.exec(section);
  if (!value) return found;
  for (const [table] of value[1].matchAll(/\{[^}]*\}/g)) {
    const zoned = /\bzone_(name|id)\s*=/.test(table) || /\bcustom_domain\s*=\s*true\b/.test(table);
    if (!zoned) found.push(/\bpattern\s*=\s*"([^"]*)"/.exec(table)?.[1] ?? table);
  }
  return found;
}

/**
 * Every problem of an environment, one line each (empty: ready to deploy).
 * @param {{ env: string, config: string }} options
 * @returns {Promise<string[]>}
 */
export async function preflight({ env, config }) {
  const file = configName(config);
  const problems = [];
  const toml = `[env.${env}] of ${file}`;
  const varsToml = `[env.${env}.vars] of ${file}`;
  const provision = `npm run provision -- --env ${env}`;
  const source = readFileSync(config, "utf8");
  const dryRun = `npx wrangler deploy --dry-run --env ${env}${config === DEFAULT_CONFIG ? "" : ` --config ${file}`}`;

  // config (route objects without a zone first: wrangler's error about them is long)
  const zoneless = routeObjectsWithoutZone(source, env);
  for (const pattern of zoneless) {
    problems.push(`route ${pattern} names no zone; add zone_name = "<zone>" (or zone_id, or custom_domain = true) to it in ${toml}`);
  }
  let cfg;
  try {
    cfg = readEnvConfig(config, env);
  } catch (err) {
    const message = String(err?.message ?? err);
    if (!(zoneless.length > 0 && /\broutes?\b/.test(message))) {
      problems.push(`${message}; fix it (\`${dryRun}\` shows wrangler's whole message)`);
    }
    return problems;
  }

  // ids
  for (const ns of cfg.kv_namespaces) {
    if (isPlaceholderId(ns.id)) problems.push(`KV ${ns.binding}: id is a placeholder; run \`${provision}\``);
  }
  for (const db of cfg.d1_databases) {
    if (isPlaceholderId(db.database_id)) problems.push(`D1 ${db.binding}: database_id is a placeholder; run \`${provision}\``);
  }

  // audit
  const worker = await loadWorkerParts();
  const auditConfig = auditConfigPath(config);
  const auditFile = configName(auditConfig);
  if (!existsSync(auditConfig)) {
    problems.push(
      `no ${auditFile} next to ${file}: the audit Worker (queue consumer, retention cron) has no configuration; restore it (docs/operations.md "Deploy")`,
    );
  } else if (!environmentNames(readFileSync(auditConfig, "utf8")).includes(env)) {
    problems.push(
      `no [env.${env}] in ${auditFile}: the audit Worker of ${env} would not exist; add it with the queue consumers, D1 and R2 of [env.${env}] of ${file}`,
    );
  } else {
    let auditCfg = null;
    try {
      auditCfg = readEnvConfig(auditConfig, env);
    } catch (err) {
      problems.push(
        `${String(err?.message ?? err)}; fix it (\`npx wrangler deploy --dry-run --env ${env} --config ${auditFile}\` shows wrangler's whole message)`,
      );
    }
    if (auditCfg) {
      const placeholder = auditCfg.d1_databases.filter((db) => isPlaceholderId(db.database_id));
      for (const db of placeholder) problems.push(`D1 ${db.binding} in ${auditFile}: database_id is a placeholder; run \`${provision}\``);
      const mismatches = auditConfigProblems(cfg, auditCfg, {
        mainFile: file,
        auditFile,
        section: `[env.${env}]`,
        queueRole: worker.auditQueueRole,
      });
      // A placeholder on either side is said once, above: not again as a difference.
      const anyPlaceholder = placeholder.length > 0 || cfg.d1_databases.some((db) => isPlaceholderId(db.database_id));
      problems.push(...mismatches.filter((line) => !(anyPlaceholder && line.startsWith("D1 AUDIT_DB differs"))));
    }
  }

  // bindings
  if (!cfg.kv_namespaces.some((ns) => ns.binding === "KEYS")) {
    problems.push(
      `no KV namespace KEYS (the key records): add [[env.${env}.kv_namespaces]] binding = "KEYS" to ${file}, then run \`${provision}\``,
    );
  }
  const ratelimits = cfg.ratelimits ?? [];
  const limiter = (name) => ratelimits.find((rl) => rl.name === name);
  for (const tier of worker.tiers) {
    const name = `KEY_RATE_LIMIT_${tier}`;
    const rl = limiter(name);
    if (!rl) {
      problems.push(
        `no rate limit ${name} (a key on the ${tier}/min tier would not be limited): add [[env.${env}.ratelimits]] name = "${name}", simple = { limit = ${tier}, period = 60 } with an unused namespace_id to ${file}`,
      );
    } else if (rl.simple?.limit !== tier || rl.simple?.period !== 60) {
      problems.push(
        `rate limit ${name}: simple must be { limit = ${tier}, period = 60 }, not ${JSON.stringify(rl.simple)}; fix it in ${toml}`,
      );
    }
  }

  // admin
  const vars = cfg.vars ?? {};
  const text = (name) => (typeof vars[name] === "string" ? vars[name].trim() : "");
  if (text("ADMIN_JWT_AUDIENCE") === "") {
    problems.push(
      `ADMIN_JWT_AUDIENCE is empty (the admin API would answer 503); set it in ${varsToml} to the Access application's AUD tag`,
    );
  }
  if (text("ADMIN_JWT_ISSUER") === "") problems.push(`ADMIN_JWT_ISSUER is empty; set it in ${varsToml} (the Access team URL)`);
  if ((text("ADMIN_JWKS_URL") === "") === (text("ADMIN_JWKS") === "")) {
    problems.push(`set exactly one of ADMIN_JWKS_URL and ADMIN_JWKS in ${varsToml} (the Access team's certs URL)`);
  } else if (text("ADMIN_JWKS_URL") !== "" && URL.parse(text("ADMIN_JWKS_URL"))?.protocol !== "https:") {
    problems.push(
      `ADMIN_JWKS_URL ${JSON.stringify(text("ADMIN_JWKS_URL"))} is not an https URL (the admin API would answer 503); set it in ${varsToml} to https://<team>.cloudflareaccess.com/cdn-cgi/access/certs`,
    );
  }

  // enforcement
  try {
    worker.parseEnforcement(vars.ENFORCEMENT === undefined ? undefined : String(vars.ENFORCEMENT));
  } catch {
    problems.push(
      `ENFORCEMENT ${JSON.stringify(vars.ENFORCEMENT)} is not a mode (every request would answer 503); set it in ${varsToml} to "enforce" (or "report-only" for a cut-over, docs/operations.md)`,
    );
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
  const authLimiter = limiter("AUTH_FAILURE_LIMITER");
  const rawLimit = vars.AUTH_FAILURE_LIMIT === undefined ? "" : String(vars.AUTH_FAILURE_LIMIT).trim();
  const authLimit = rawLimit === "" ? DEFAULT_AUTH_FAILURE_LIMIT : Number(rawLimit);
  if (!authLimiter) {
    problems.push(
      `no rate limit AUTH_FAILURE_LIMITER (credential failures per address): add [[env.${env}.ratelimits]] name = "AUTH_FAILURE_LIMITER", simple = { limit = ${authLimit}, period = 60 } with an unused namespace_id to ${file}`,
    );
  } else if (authLimiter.simple?.limit !== authLimit) {
    problems.push(
      `AUTH_FAILURE_LIMIT is ${rawLimit === "" ? `${authLimit} (the default)` : rawLimit} but the AUTH_FAILURE_LIMITER rate limit's simple.limit is ${authLimiter.simple?.limit}: they must be equal; change one of them in ${toml}`,
    );
  }
  const own = new Map();
  for (const rl of ratelimits) {
    if (own.has(rl.namespace_id)) {
      problems.push(
        `ratelimits ${rl.name} and ${own.get(rl.namespace_id)} share namespace_id ${rl.namespace_id}; give each its own in ${toml}`,
      );
    } else own.set(rl.namespace_id, rl.name);
  }
  for (const other of environmentNames(source)) {
    if (other === env) continue;
    let otherCfg;
    try {
      otherCfg = readEnvConfig(config, other);
    } catch {
      continue; // that environment's own preflight reports it
    }
    for (const rl of otherCfg.ratelimits ?? []) {
      if (own.has(rl.namespace_id)) {
        problems.push(
          `ratelimits ${own.get(rl.namespace_id)}: namespace_id ${rl.namespace_id} is also used by [env.${other}] (${rl.name}): the two would share counters; pick an unused id in ${toml}`,
        );
      }
    }
  }

  // versions
  try {
    worker.parseVersionTable(vars.API_VERSIONS, { sandboxOrigin: vars.SANDBOX_ORIGIN });
  } catch (err) {
    problems.push(
      `API_VERSIONS is unusable (every request would answer 503): ${String(err?.message ?? err).replaceAll("\n", " ")}; fix it in ${varsToml} (docs/versions.md)`,
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
  await runEnvScript(USAGE, async ({ env, config }) => ((await runPreflight({ env, config })) ? 0 : 1));
}
