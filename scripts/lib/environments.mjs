// What provision, preflight and deploy share: the `--env` argument, the environment's resolved
// configuration as wrangler reads it, and wrangler commands against the Cloudflare account.
//
// The wrangler binary can be replaced with SPOT_WRANGLER=<path> (a .mjs/.js file runs with this Node,
// anything else as an executable): the tests use a stand-in that records the commands
// (test/scripts/fake-wrangler.mjs). Every command gets `--config <file>`, so a test works on a copy.

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { unstable_readConfig } from "wrangler";
import { ROOT, WRANGLER, WRANGLER_ENV } from "./wrangler.mjs";

export const DEFAULT_CONFIG = join(ROOT, "wrangler.toml");

/** A problem of a script's own making (bad arguments, a wrangler failure): one message, exit 1. */
export class EnvScriptError extends Error {
  name = "EnvScriptError";
}

/** Names of the `[env.<name>]` sections of a wrangler.toml text. */
export function environmentNames(text) {
  const names = new Set();
  for (const match of text.matchAll(/^\s*\[\[?env\.([A-Za-z0-9_-]+)[.\]]/gm)) names.add(match[1]);
  return [...names];
}

/**
 * Parses `--env <name>` (required, one of wrangler.toml's environments) and `--config <file>`;
 * other options are returned as they are (deploy passes them on to wrangler).
 * @param {string[]} argv
 * @param {{ passThrough?: boolean }} [options]
 * @returns {{ env: string, config: string, rest: string[] }}
 */
export function parseEnvArgs(argv, options = {}) {
  const { values, tokens } = parseArgs({
    args: argv,
    options: { env: { type: "string", short: "e" }, config: { type: "string" } },
    strict: !options.passThrough,
    allowPositionals: Boolean(options.passThrough),
    tokens: true,
  });
  const rest = [];
  if (options.passThrough) {
    for (const token of tokens) {
      if (token.kind === "option" && (token.name === "env" || token.name === "e" || token.name === "config")) continue;
      if (token.kind === "option") rest.push(token.rawName, ...(token.value !== undefined && !token.inlineValue ? [token.value] : []));
      else if (token.kind === "positional") rest.push(token.value);
      else if (token.kind === "option-terminator") rest.push("--");
    }
  }
  const config = values.config ?? DEFAULT_CONFIG;
  const names = environmentNames(readFileSync(config, "utf8"));
  if (!values.env) {
    throw new EnvScriptError(`--env is required: one of ${names.join(", ")} (the top level of wrangler.toml is the local configuration)`);
  }
  if (!names.includes(values.env)) throw new EnvScriptError(`no [env.${values.env}] in wrangler.toml; environments: ${names.join(", ")}`);
  return { env: values.env, config, rest };
}

/** The environment's configuration as wrangler resolves it (what `wrangler deploy --env` uses). */
export function readEnvConfig(config, env) {
  return unstable_readConfig({ config, env }, { hideWarnings: true });
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
