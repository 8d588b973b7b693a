// What provision, preflight and deploy share: the `--env` argument, the environment's resolved
// configuration as wrangler reads it, and wrangler commands against the Cloudflare account.
//
// The wrangler binary can be replaced with SPOT_WRANGLER=<path> (a .mjs/.js file runs with this Node,
// anything else as an executable): the tests use a stand-in that records the commands
// (test/scripts/fake-wrangler.mjs). Every command gets `--config <file>`, so a test works on a copy.

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { unstable_readConfig } from "wrangler";
import { didYouMean } from "./suggest.mjs";
import { ROOT, WRANGLER, WRANGLER_ENV } from "./wrangler.mjs";

export const DEFAULT_CONFIG = join(ROOT, "wrangler.toml");

/** A problem of a script's own making (bad arguments, a wrangler failure): one message, exit 1. */
export class EnvScriptError extends Error {
  name = "EnvScriptError";
}

/** A command line the script cannot run with: the message, then the usage; exit 2. */
export class EnvUsageError extends Error {
  name = "EnvUsageError";
}

/** The name an operator knows the configuration file by (`wrangler.toml`, or the file of --config). */
export function configName(config) {
  return basename(config);
}

/**
 * The audit Worker's configuration that goes with a configuration of the authorizer: the file next to
 * it with `.audit` before `.toml` (wrangler.toml → wrangler.audit.toml, copy.toml → copy.audit.toml).
 */
export function auditConfigPath(config) {
  return join(dirname(config), basename(config).replace(/(\.toml)?$/, ".audit.toml"));
}

/**
 * What does not fit between the authorizer's and the audit Worker's configuration of one environment
 * (both as wrangler resolves them), one line each; empty when they agree. The authorizer produces to
 * the audit queue and consumes nothing, runs no cron; the audit Worker consumes exactly that queue (with
 * a dead-letter queue) and that dead-letter queue, runs the retention cron, and binds the same D1
 * database (name and id) and R2 bucket, with the same retention vars.
 * @param {object} main the authorizer's resolved configuration
 * @param {object} audit the audit Worker's resolved configuration
 * With `queueRole` (src/audit/queues.ts auditQueueRole, the consumer's own rule), each consumed queue
 * must be one the consumer knows by name: the produced queue an events queue, its dead-letter queue a
 * dead-letter queue (a batch from any other queue is logged and acked unstored).
 * @param {{ mainFile?: string, auditFile?: string, section?: string,
 *           queueRole?: (queue: string) => "events" | "dead_letters" | null }} [names] for the messages
 * @returns {string[]}
 */
export function auditConfigProblems(main, audit, names = {}) {
  const { mainFile = "wrangler.toml", auditFile = "wrangler.audit.toml", section = "the top level", queueRole } = names;
  const problems = [];
  const where = (file) => `${section} of ${file}`;
  const mainConsumers = main.queues?.consumers ?? [];
  if (mainConsumers.length > 0) {
    problems.push(
      `${where(mainFile)} consumes ${mainConsumers.map((c) => c.queue).join(", ")}: the audit Worker is the consumer; move [[queues.consumers]] to ${auditFile}`,
    );
  }
  if ((main.triggers?.crons ?? []).length > 0) {
    problems.push(
      `${where(mainFile)} has crons (${main.triggers.crons.join(", ")}): the retention cron runs in the audit Worker; move [triggers] to ${auditFile}`,
    );
  }
  if ((audit.triggers?.crons ?? []).length === 0)
    problems.push(`${where(auditFile)} has no cron: the audit retention would never run; add [triggers] crons`);
  const produced = (main.queues?.producers ?? []).filter((p) => p.binding === "AUDIT_QUEUE").map((p) => p.queue);
  if (produced.length !== 1) problems.push(`${where(mainFile)} needs one AUDIT_QUEUE producer, found ${produced.length}`);
  const consumers = audit.queues?.consumers ?? [];
  for (const queue of produced) {
    const consumer = consumers.find((c) => c.queue === queue);
    if (!consumer) {
      problems.push(
        `${where(auditFile)} does not consume ${queue}, the queue ${mainFile} produces to: audit events would pile up unstored`,
      );
      continue;
    }
    if (!consumer.dead_letter_queue) problems.push(`${where(auditFile)}: the consumer of ${queue} has no dead_letter_queue`);
    else if (!consumers.some((c) => c.queue === consumer.dead_letter_queue)) {
      problems.push(`${where(auditFile)} does not consume ${consumer.dead_letter_queue}, the dead-letter queue of ${queue}`);
    }
  }
  for (const c of consumers) {
    const deadLetterOf = consumers.some((other) => other.dead_letter_queue === c.queue);
    const expected = deadLetterOf ? "dead_letters" : "events";
    if (queueRole !== undefined && queueRole(c.queue) !== expected) {
      problems.push(
        `${where(auditFile)} consumes ${c.queue}, a name the audit consumer does not read as ${deadLetterOf ? "a dead-letter queue" : "an events queue"} (spot-audit-events[-<environment>], its dead-letter queue + "-dlq": src/audit/queues.ts); its messages would be acked unstored`,
      );
    }
    if (!produced.includes(c.queue) && !deadLetterOf) {
      problems.push(
        `${where(auditFile)} consumes ${c.queue}, which ${mainFile} does not produce to (it produces to ${produced.join(", ") || "nothing"})`,
      );
    }
  }
  const db = (cfg) => (cfg.d1_databases ?? []).find((d) => d.binding === "AUDIT_DB");
  const [mainDb, auditDb] = [db(main), db(audit)];
  if (!mainDb || !auditDb) problems.push(`the D1 binding AUDIT_DB is missing from ${where(mainDb ? auditFile : mainFile)}`);
  else if (mainDb.database_name !== auditDb.database_name || mainDb.database_id !== auditDb.database_id) {
    problems.push(
      `D1 AUDIT_DB differs: ${mainFile} names ${mainDb.database_name} (${mainDb.database_id}), ${auditFile} ${auditDb.database_name} (${auditDb.database_id}) in ${section}; make them the same`,
    );
  }
  const bucket = (cfg) => (cfg.r2_buckets ?? []).find((b) => b.binding === "AUDIT_ARCHIVE")?.bucket_name;
  if (bucket(main) === undefined || bucket(main) !== bucket(audit)) {
    problems.push(
      `R2 AUDIT_ARCHIVE differs: ${mainFile} names ${bucket(main) ?? "none"}, ${auditFile} ${bucket(audit) ?? "none"} in ${section}; make them the same`,
    );
  }
  for (const name of ["AUDIT_RETENTION_DAYS", "AUDIT_DB_MAX_MB"]) {
    if (main.vars?.[name] !== audit.vars?.[name]) {
      problems.push(
        `${name} differs: ${JSON.stringify(main.vars?.[name])} in ${mainFile}, ${JSON.stringify(audit.vars?.[name])} in ${auditFile} (${section}; the audit Worker's is the one applied); make them the same`,
      );
    }
  }
  return problems;
}

/** Names of the `[env.<name>]` sections of a wrangler.toml text. */
export function environmentNames(text) {
  const names = new Set();
  for (const match of text.matchAll(/^\s*\[\[?env\.([A-Za-z0-9_-]+)[.\]]/gm)) names.add(match[1]);
  return [...names];
}

/** The options provision, preflight and deploy know (deploy passes any other on to wrangler). */
const ENV_OPTIONS = { env: { type: "string", short: "e" }, config: { type: "string" }, help: { type: "boolean", short: "h" } };

/**
 * Parses `--env <name>` (required, one of wrangler.toml's environments), `--config <file>` and
 * `--help`/`-h` (then nothing else is checked: `{ help: true }`); other options are returned as they
 * are when `passThrough` (deploy passes them on to wrangler), else they are an {@link EnvUsageError}
 * (`unknown option --x`, with `did you mean --y?` when one is close).
 * @param {string[]} argv
 * @param {{ passThrough?: boolean }} [options]
 * @returns {{ help: boolean, env: string, config: string, rest: string[] }}
 */
export function parseEnvArgs(argv, options = {}) {
  const { values, tokens } = parseArgs({ args: argv, options: ENV_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  if (values.help === true) return { help: true, env: "", config: values.config ?? DEFAULT_CONFIG, rest: [] };
  const known = new Set(["env", "e", "config"]);
  const rest = [];
  for (const token of tokens) {
    if (token.kind === "option" && known.has(token.name)) {
      if (typeof values[token.name === "e" ? "env" : token.name] !== "string") throw new EnvUsageError(`${token.rawName} needs a value`);
      continue;
    }
    if (!options.passThrough) {
      if (token.kind === "option") {
        const hint = token.rawName.startsWith("--") ? didYouMean(token.name, Object.keys(ENV_OPTIONS), "--") : undefined;
        throw new EnvUsageError(`unknown option ${token.rawName}${hint ? `; ${hint}` : ""}`);
      }
      if (token.kind === "positional") throw new EnvUsageError(`unexpected argument ${token.value} (options only)`);
      continue;
    }
    if (token.kind === "option") rest.push(token.rawName, ...(token.value !== undefined && !token.inlineValue ? [token.value] : []));
    else if (token.kind === "positional") rest.push(token.value);
    else if (token.kind === "option-terminator") rest.push("--");
  }
  const config = values.config ?? DEFAULT_CONFIG;
  let text;
  try {
    text = readFileSync(config, "utf8");
  } catch (err) {
    throw new EnvScriptError(`cannot read ${config}: ${err?.code ?? err?.message ?? err}`);
  }
  const names = environmentNames(text);
  const file = configName(config);
  if (!values.env) {
    // deploy passes unknown options on to wrangler; a mistyped --env among them is still worth naming.
    const typo = tokens.find((t) => t.kind === "option" && !known.has(t.name) && t.rawName.startsWith("--") && didYouMean(t.name, ["env"]));
    throw new EnvUsageError(
      `--env is required: one of ${names.join(", ")} (the top level of ${file} is the local configuration)${typo ? `; ${typo.rawName}: did you mean --env?` : ""}`,
    );
  }
  if (!names.includes(values.env)) throw new EnvUsageError(`no [env.${values.env}] in ${file}; environments: ${names.join(", ")}`);
  return { help: false, env: values.env, config, rest };
}

/**
 * The command-line entry of provision, preflight and deploy: `--help` prints `usage` (exit 0); a bad
 * command line prints its message and `usage` (exit 2); an EnvScriptError its message (exit 1); never
 * a stack trace but for a bug. `main` gets the parsed arguments and returns the exit code.
 * @param {string} usage
 * @param {(args: ReturnType<typeof parseEnvArgs>) => Promise<number>} main
 * @param {{ passThrough?: boolean }} [options]
 */
export async function runEnvScript(usage, main, options = {}) {
  try {
    const args = parseEnvArgs(process.argv.slice(2), options);
    if (args.help) {
      console.log(usage);
      process.exitCode = 0;
      return;
    }
    process.exitCode = await main(args);
  } catch (err) {
    if (err instanceof EnvUsageError) {
      console.error(`✘ ${err.message}`);
      console.error(usage);
      process.exitCode = 2;
    } else {
      console.error(`✘ ${err instanceof EnvScriptError ? err.message : (err?.stack ?? String(err))}`);
      process.exitCode = 1;
    }
  }
}

/** The first line of wrangler's configuration error that says what is wrong (not "Processing …:"). */
export function configErrorLine(message) {
  const lines = String(message)
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  const bullet = lines.find((line) => line.startsWith("- ") && !/environment configuration$/.test(line));
  const line = (bullet ?? lines[0] ?? "unknown error").replace(/^-\s*/, "");
  return line
    .replace(/:\s*[[{]$/, "")
    .replace(/\.$/, "")
    .replace(/\s+/g, " ");
}

/**
 * The environment's configuration as wrangler resolves it (what `wrangler deploy --env` uses).
 * @throws EnvScriptError `wrangler cannot read [env.<env>] of <file>: <wrangler's first words>` (one line)
 */
export function readEnvConfig(config, env) {
  try {
    return unstable_readConfig({ config, env }, { hideWarnings: true });
  } catch (err) {
    throw new EnvScriptError(`wrangler cannot read [env.${env}] of ${configName(config)}: ${configErrorLine(err?.message ?? err)}`);
  }
}

/** The command that runs wrangler: SPOT_WRANGLER when set, else the project's own. */
export function wranglerCommand() {
  const override = process.env.SPOT_WRANGLER;
  if (!override) return [process.execPath, WRANGLER];
  return /\.[cm]?js$/.test(override) ? [process.execPath, override] : [override];
}

/**
 * Runs one wrangler command to completion, non-interactively; `input` is written to its stdin (how
 * a secret reaches `wrangler secret put`, never through the arguments or the output).
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string }>}
 */
export function runCloudflare(args, { input, inherit = false } = {}) {
  const [command, ...prefix] = wranglerCommand();
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...prefix, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...WRANGLER_ENV },
      stdio: [input === undefined ? "ignore" : "pipe", inherit ? "inherit" : "pipe", inherit ? "inherit" : "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    if (input !== undefined) child.stdin.end(input);
  });
}

/** ANSI colour codes (wrangler colours its errors even when its output is not a terminal). */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/** Like {@link runCloudflare}, but a failure throws with wrangler's output (never with `input`). */
export async function cloudflare(args, options) {
  const result = await runCloudflare(args, options);
  if (result.code !== 0) {
    const output = `${result.stdout}${result.stderr}`.replace(ANSI, "").trim() || "(no output)";
    throw new EnvScriptError(`\`wrangler ${args.join(" ")}\` exited with code ${result.code}:\n${output}`);
  }
  return result;
}

/** Names of the Worker secrets of an environment (`wrangler secret list`, JSON). */
export async function secretNames(env, config) {
  const { stdout } = await cloudflare(["secret", "list", "--env", env, "--config", config, "--format", "json"]);
  const list = JSON.parse(stdout);
  if (!Array.isArray(list)) throw new EnvScriptError("`wrangler secret list` did not answer a JSON array");
  return list.map((s) => s.name);
}

/** Secrets every environment needs (optional ones, like ASSERTION_EXTRA_PUBLIC_KEY, are not listed). */
export const REQUIRED_SECRETS = ["SECRET_HASH_KEY", "ASSERTION_SIGNING_KEY"];

/** An id that was never provisioned: empty, all zeros (with dashes), or `<…>`. */
export function isPlaceholderId(id) {
  return typeof id !== "string" || id.trim() === "" || /^[0-]+$/.test(id.trim()) || /^<.*>$/.test(id.trim());
}
