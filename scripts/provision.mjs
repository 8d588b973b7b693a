// `npm run provision -- --env staging`: creates, or finds, what an environment of wrangler.toml and of
// the audit Worker's wrangler.audit.toml needs in the Cloudflare account (docs/operations.md "Deploy"),
// with wrangler:
//
//   1. KV namespaces    titled <worker>-<binding> (e.g. spot-thought-edge-authorizer-staging-KEYS)
//   2. D1 databases     by database_name
//   3. Queues           every producer, consumer and dead-letter queue named in the environment (the
//                       consumers are in wrangler.audit.toml)
//   4. R2 buckets       by bucket_name
//   5. ids              the KV and D1 ids are written into the environment's section of wrangler.toml,
//                       and the D1 id into wrangler.audit.toml's (the same database; only those lines
//                       change; commit them), then read back through wrangler
//   6. D1 migrations    `wrangler d1 migrations apply <binding> --remote --env <env>`
//   7. secrets          SECRET_HASH_KEY (base64 of 32 random bytes) and ASSERTION_SIGNING_KEY (a new
//                       Ed25519 JWK) are generated and stored with `wrangler secret put` when missing; an
//                       existing secret is never replaced, and no secret is ever printed
//
// Safe to run again: what exists is found (an id already in wrangler.toml is kept if the account has
// it) and nothing is created twice. `--config <file>` works on another wrangler.toml (tests), and on
// the audit config next to it (<file> with .audit before .toml). The audit Worker needs no secret.

import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { newSigningKey } from "./assertion-key.mjs";
import {
  auditConfigPath,
  cloudflare,
  configName,
  EnvScriptError,
  isPlaceholderId,
  REQUIRED_SECRETS,
  readEnvConfig,
  runEnvScript,
  secretNames,
} from "./lib/environments.mjs";

export const USAGE = `usage: npm run provision -- --env <environment> [--config <file>]
  creates, or finds, the KV namespaces, D1 databases, queues and R2 buckets the environment of
  wrangler.toml and wrangler.audit.toml names, writes their ids into both, applies the D1 migrations and
  stores the missing secrets
  --env, -e <name>  the [env.<name>] section (staging, production)
  --config <file>   another wrangler.toml (default: the project's), with its audit config next to it
  -h, --help        print this text`;

const KV_ID = /^[0-9a-f]{32}$/;
const D1_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Queue names in a `wrangler queues list` table (no JSON output): the `name` column. */
export function parseQueueTable(text) {
  const rows = text.split("\n").map((line) => line.split(/[│|]/).map((cell) => cell.trim()));
  const header = rows.find((cells) => cells.includes("name") && cells.includes("id"));
  if (!header) return [];
  const column = header.indexOf("name");
  return rows.filter((cells) => cells !== header && cells.length === header.length && cells[column]).map((cells) => cells[column]);
}

/** Bucket names in `wrangler r2 bucket list` output (`name:  <bucket>` lines). */
export function parseBucketList(text) {
  return [...text.matchAll(/^name:\s+(\S+)\s*$/gm)].map((m) => m[1]);
}

/**
 * Sets `key = "<value>"` in the `[[env.<env>.<table>]]` block whose `binding` is `binding`; only that
 * line changes (inserted after `binding` when absent). `file`: the file's name, for the error.
 * @throws EnvScriptError when no such block is found
 */
export function setEnvBindingValue(text, { env, table, binding, key, value, file = "wrangler.toml" }) {
  const lines = text.split("\n");
  const header = `[[env.${env}.${table}]]`;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== header) continue;
    let end = i + 1;
    while (end < lines.length && !/^\s*\[/.test(lines[end])) end++;
    const block = lines.slice(i + 1, end);
    const bindingLine = block.findIndex((line) => new RegExp(`^\\s*binding\\s*=\\s*"${binding}"\\s*(#.*)?$`).test(line));
    if (bindingLine < 0) continue;
    const keyLine = block.findIndex((line) => new RegExp(`^\\s*${key}\\s*=`).test(line));
    if (keyLine >= 0) lines[i + 1 + keyLine] = lines[i + 1 + keyLine].replace(/=\s*"[^"]*"|=\s*'[^']*'/, `= "${value}"`);
    else lines.splice(i + 2 + bindingLine, 0, `${key} = "${value}"`);
    return lines.join("\n");
  }
  throw new EnvScriptError(`no ${header} block with binding = "${binding}" in ${file}`);
}

/**
 * Provisions one environment.
 * @param {{ env: string, config: string, log?: (line: string) => void }} options
 * @returns {Promise<{ created: string[], found: string[], secretsStored: string[], idsWritten: string[] }>}
 */
export async function provision({ env, config, log = console.log }) {
  const cfg = readEnvConfig(config, env);
  const report = { created: [], found: [], secretsStored: [], idsWritten: [], auditIdsWritten: [] };
  const withConfig = ["--config", config];
  const file = configName(config);
  let text = readFileSync(config, "utf8");
  // The audit Worker's config: the same D1 database and bucket, the consumers of the queues.
  const auditConfig = auditConfigPath(config);
  const auditFile = configName(auditConfig);
  if (!existsSync(auditConfig)) {
    throw new EnvScriptError(`no ${auditFile} next to ${file}: the audit Worker's configuration (queue consumer, retention cron)`);
  }
  const auditCfg = readEnvConfig(auditConfig, env);
  let auditText = readFileSync(auditConfig, "utf8");

  // 1. KV
  if (cfg.kv_namespaces.length > 0) {
    const list = async () => JSON.parse((await cloudflare(["kv", "namespace", "list", ...withConfig])).stdout);
    let namespaces = await list();
    for (const ns of cfg.kv_namespaces) {
      const title = `${cfg.name}-${ns.binding}`;
      let id = !isPlaceholderId(ns.id) && namespaces.some((n) => n.id === ns.id) ? ns.id : namespaces.find((n) => n.title === title)?.id;
      if (id) report.found.push(`KV ${title}`);
      else {
        await cloudflare(["kv", "namespace", "create", title, ...withConfig]);
        namespaces = await list();
        id = namespaces.find((n) => n.title === title)?.id;
        if (!id) throw new EnvScriptError(`KV namespace ${title} was created but is not listed`);
        report.created.push(`KV ${title}`);
      }
      if (!KV_ID.test(id)) throw new EnvScriptError(`KV namespace ${title}: unexpected id ${JSON.stringify(id)}`);
      if (id !== ns.id) {
        text = setEnvBindingValue(text, { env, table: "kv_namespaces", binding: ns.binding, key: "id", value: id, file });
        report.idsWritten.push(`${ns.binding} id`);
      }
    }
  }

  // 2. D1 (the audit config's databases after the authorizer's: the same one, found then)
  if (cfg.d1_databases.length + auditCfg.d1_databases.length > 0) {
    const list = async () => JSON.parse((await cloudflare(["d1", "list", "--json", ...withConfig])).stdout);
    let databases = await list();
    const seen = new Set();
    for (const [db, audit] of [...cfg.d1_databases.map((d) => [d, false]), ...auditCfg.d1_databases.map((d) => [d, true])]) {
      let id = databases.find((d) => d.name === db.database_name)?.uuid;
      // Reported once: the audit config names the authorizer's database.
      if (id && !seen.has(db.database_name)) report.found.push(`D1 ${db.database_name}`);
      else if (!id) {
        await cloudflare(["d1", "create", db.database_name, ...withConfig]);
        databases = await list();
        id = databases.find((d) => d.name === db.database_name)?.uuid;
        if (!id) throw new EnvScriptError(`D1 database ${db.database_name} was created but is not listed`);
        report.created.push(`D1 ${db.database_name}`);
      }
      seen.add(db.database_name);
      if (!D1_ID.test(id)) throw new EnvScriptError(`D1 database ${db.database_name}: unexpected id ${JSON.stringify(id)}`);
      if (id === db.database_id) continue;
      const change = { env, table: "d1_databases", binding: db.binding, key: "database_id", value: id };
      if (audit) {
        auditText = setEnvBindingValue(auditText, { ...change, file: auditFile });
        report.auditIdsWritten.push(`${db.binding} database_id`);
      } else {
        text = setEnvBindingValue(text, { ...change, file });
        report.idsWritten.push(`${db.binding} database_id`);
      }
    }
  }

  // 3. Queues
  const queueNames = new Set(
    [cfg, auditCfg].flatMap((c) => [
      ...(c.queues.producers ?? []).map((p) => p.queue),
      ...(c.queues.consumers ?? []).flatMap((q) => [q.queue, q.dead_letter_queue].filter(Boolean)),
    ]),
  );
  if (queueNames.size > 0) {
    const existing = new Set(parseQueueTable((await cloudflare(["queues", "list", ...withConfig])).stdout));
    for (const name of queueNames) {
      if (existing.has(name)) report.found.push(`queue ${name}`);
      else {
        await cloudflare(["queues", "create", name, ...withConfig]);
        report.created.push(`queue ${name}`);
      }
    }
  }

  // 4. R2
  const bucketNames = new Set([cfg, auditCfg].flatMap((c) => c.r2_buckets.map((b) => b.bucket_name)));
  if (bucketNames.size > 0) {
    const existing = new Set(parseBucketList((await cloudflare(["r2", "bucket", "list", ...withConfig])).stdout));
    for (const name of bucketNames) {
      if (existing.has(name)) report.found.push(`R2 ${name}`);
      else {
        await cloudflare(["r2", "bucket", "create", name, ...withConfig]);
        report.created.push(`R2 ${name}`);
      }
    }
  }

  // 5. ids, read back through wrangler
  if (report.idsWritten.length > 0) {
    writeFileSync(config, text);
    const after = readEnvConfig(config, env);
    const placeholders = [
      ...after.kv_namespaces.filter((ns) => isPlaceholderId(ns.id)).map((ns) => ns.binding),
      ...after.d1_databases.filter((db) => isPlaceholderId(db.database_id)).map((db) => db.binding),
    ];
    if (placeholders.length > 0) throw new EnvScriptError(`${file} still has placeholder ids for ${placeholders.join(", ")}`);
    log(`wrote ${report.idsWritten.join(", ")} into [env.${env}] of ${file}: commit it`);
  }
  if (report.auditIdsWritten.length > 0) {
    writeFileSync(auditConfig, auditText);
    const after = readEnvConfig(auditConfig, env);
    const placeholders = after.d1_databases.filter((db) => isPlaceholderId(db.database_id)).map((db) => db.binding);
    if (placeholders.length > 0) throw new EnvScriptError(`${auditFile} still has placeholder ids for ${placeholders.join(", ")}`);
    log(`wrote ${report.auditIdsWritten.join(", ")} into [env.${env}] of ${auditFile}: commit it`);
  }

  // 6. D1 migrations (already applied ones are skipped by wrangler)
  for (const db of cfg.d1_databases) {
    await cloudflare(["d1", "migrations", "apply", db.binding, "--remote", "--env", env, ...withConfig]);
    log(`D1 ${db.database_name}: migrations applied`);
  }

  // 7. secrets: only the missing ones, values only on wrangler's stdin
  const present = new Set(await secretNames(env, config));
  for (const name of REQUIRED_SECRETS) {
    if (present.has(name)) continue;
    const value = name === "SECRET_HASH_KEY" ? randomBytes(32).toString("base64") : JSON.stringify(newSigningKey());
    await cloudflare(["secret", "put", name, "--env", env, ...withConfig], { input: value });
    report.secretsStored.push(name);
  }

  for (const what of report.created) log(`created ${what}`);
  for (const what of report.found) log(`found ${what}`);
  log(
    report.secretsStored.length > 0
      ? `stored new secrets: ${report.secretsStored.join(", ")} (generated here, never shown)`
      : `secrets already set: ${REQUIRED_SECRETS.join(", ")}`,
  );
  return report;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await runEnvScript(USAGE, async ({ env, config }) => {
    await provision({ env, config });
    console.log(`environment ${env} provisioned; next: npm run preflight -- --env ${env}`);
    return 0;
  });
}
