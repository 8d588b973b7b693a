// The local stack (`scripts/start.mjs`: wrangler dev, demo origins, demo key) started by a script that
// drives it (`npm run soak`, `npm run drill:revocation`), in its own process group, and stopped again.

import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./wrangler.mjs";

/** Milliseconds the stack may take to print its banner. */
const START_TIMEOUT_MS = 180_000;

/**
 * Starts scripts/start.mjs in its own process group; `ready` resolves once its banner says it is ready.
 * @param {string[]} [args] options for scripts/start.mjs (e.g. `--simulate-kv-lag 60`)
 * @returns {{ ready: Promise<void>, stop: () => Promise<void>, output: () => string }} `output`: everything
 *   the stack printed so far (its banner: the console URL, the demo key)
 */
export function startStack(args = []) {
  const child = spawn(process.execPath, [join(ROOT, "scripts", "start.mjs"), ...args], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the local stack did not start within ${START_TIMEOUT_MS / 1000} s:\n${output}`)),
      START_TIMEOUT_MS,
    );
    const onData = (chunk) => {
      output += chunk;
      if (output.includes("Ctrl-C stops everything")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.setEncoding("utf8").on("data", onData);
    child.stderr.setEncoding("utf8").on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the local stack exited (code ${code}) before it was ready:\n${output}`));
    });
  });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      try {
        process.kill(-child.pid, "SIGINT");
      } catch {
        resolve();
      }
      setTimeout(() => {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {}
      }, 15_000).unref();
    });
  return { ready, stop, output: () => output };
}
