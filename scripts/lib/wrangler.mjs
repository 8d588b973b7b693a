// Runs wrangler for the project's scripts: through the Node binary that runs the script (Node ≥ 22
// from node_modules/.bin under `npm run`), never prompting, never phoning home.

import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
export const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");

/** Environment for every wrangler child: no prompts, metrics, error reports, update checks or cf fetches. */
export const WRANGLER_ENV = {
  CI: "true",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  WRANGLER_HIDE_BANNER: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
};

/**
 * Runs `wrangler <args>` to completion.
 * @returns {Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string }>}
 */
export function runWrangler(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...WRANGLER_ENV },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * Runs one SQL statement against the local D1 (binding AUDIT_DB) and returns its rows.
 * @throws Error with wrangler's output when the command fails
 */
export async function queryLocalD1(sql) {
  const result = await runWrangler(["d1", "execute", "AUDIT_DB", "--local", "--json", "--command", sql]);
  if (result.code !== 0) {
    throw new Error(
      `wrangler d1 execute failed (${result.signal ?? `exit code ${result.code}`}):\n${`${result.stdout}${result.stderr}`.trim()}`,
    );
  }
  const parsed = JSON.parse(result.stdout);
  return parsed[0]?.results ?? [];
}
