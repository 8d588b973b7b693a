// Shared by the provision and preflight tests: a copy of wrangler.toml and wrangler.audit.toml in a
// temporary directory, the stand-in wrangler (fake-wrangler.mjs) with its state and command log, and a way to run a script.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { auditConfigPath } from "../../scripts/lib/environments.mjs";

export const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const FAKE = join(ROOT, "test", "scripts", "fake-wrangler.mjs");

/**
 * A fresh sandbox: `config` (a copy of wrangler.toml, or `toml`, in a file named `name`) and next to it
 * `auditConfig` (a copy of wrangler.audit.toml, or `audit`, named as scripts/lib/environments.mjs
 * auditConfigPath expects; `audit: null` leaves it out), an empty account, no commands yet.
 */
export function sandbox(
  toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8"),
  { name = "wrangler.toml", audit = readFileSync(join(ROOT, "wrangler.audit.toml"), "utf8") } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), "spot-env-test-"));
  const config = join(dir, name);
  writeFileSync(config, toml);
  const auditConfig = auditConfigPath(config);
  if (audit !== null) writeFileSync(auditConfig, audit);
  const state = join(dir, "state.json");
  const log = join(dir, "commands.jsonl");
  return {
    dir,
    config,
    auditConfig,
    /** Runs scripts/<name>.mjs with `args` (plus --config) against the stand-in; `env` overrides variables. */
    run(name, args, env = {}) {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [join(ROOT, "scripts", `${name}.mjs`), ...args, "--config", config], {
          cwd: ROOT,
          env: { ...process.env, SPOT_WRANGLER: FAKE, SPOT_FAKE_STATE: state, SPOT_FAKE_LOG: log, ...env },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.setEncoding("utf8").on("data", (c) => {
          stdout += c;
        });
        child.stderr.setEncoding("utf8").on("data", (c) => {
          stderr += c;
        });
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
      });
    },
    /** The commands the stand-in received, in order; `clear` starts a new record. */
    commands({ clear = false } = {}) {
      const list = existsSync(log)
        ? readFileSync(log, "utf8")
            .split("\n")
            .filter(Boolean)
            .map((line) => JSON.parse(line))
        : [];
      if (clear) rmSync(log, { force: true });
      return list;
    },
    account: () => JSON.parse(readFileSync(state, "utf8")),
    setAccount: (value) => writeFileSync(state, JSON.stringify(value)),
    toml: () => readFileSync(config, "utf8"),
    auditToml: () => readFileSync(auditConfig, "utf8"),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
