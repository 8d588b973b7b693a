// The child processes of npm start: every wrangler command runs in its own process group (wrangler dev
// runs workerd in it) so a signal or a crash stops all of them; plus the port and readiness probes.

import { spawn } from "node:child_process";
import net from "node:net";
import { dirname } from "node:path";
import { JWKS_PATH } from "../../examples/verify-assertion.mjs";
import { ROOT, WRANGLER } from "./files.mjs";
import { indent, StartError, warn } from "./output.mjs";

// Environment for every wrangler command: never phone home (metrics, error reports, the update
// check in the banner, Miniflare's download of the Request.cf object), and make sure anything
// wrangler spawns as `node` is this Node 22 too.
export const WRANGLER_ENV = {
  ...process.env,
  PATH: `${dirname(process.execPath)}${process.platform === "win32" ? ";" : ":"}${process.env.PATH ?? ""}`,
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  WRANGLER_HIDE_BANNER: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
};

/**
 * Process groups of the children started here (each child leads its own group: wrangler dev runs
 * workerd in it). Kept until the whole group is gone, not just the direct child, so a signal or a
 * crash can stop everything.
 */
const groups = new Set();

/** Runs `wrangler <args>` (through this Node) as the leader of a new process group. */
export function spawnInGroup(args, env) {
  const child = spawn(process.execPath, [WRANGLER, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  if (child.pid !== undefined) groups.add(child.pid);
  return child;
}

/** Sends `signal` to every process of a group; false when the group no longer exists. */
function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

/** Stops every child group: SIGINT (what Ctrl-C would send), then SIGKILL after `graceMs`. */
export async function stopGroups(graceMs) {
  for (const pgid of groups) if (!signalGroup(pgid, "SIGINT")) groups.delete(pgid);
  const deadline = Date.now() + graceMs;
  while (groups.size > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    for (const pgid of groups) if (!signalGroup(pgid, 0)) groups.delete(pgid);
  }
  for (const pgid of groups) signalGroup(pgid, "SIGKILL");
  groups.clear();
}

// Last resort: whatever way this process ends, no child outlives it.
process.on("exit", () => {
  for (const pgid of groups) signalGroup(pgid, "SIGKILL");
});

/**
 * Runs one wrangler command to completion with no TTY and CI=true, so every confirmation takes its
 * non-interactive default instead of waiting for a keypress.
 * @returns {Promise<{ code: number | null, signal: string | null, output: string, stdout: string }>}
 */
export function runWrangler(args) {
  return new Promise((resolve, reject) => {
    const child = spawnInGroup(args, { ...WRANGLER_ENV, CI: "true" });
    let stdout = "";
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      stdout += chunk;
      output += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk) => {
      output += chunk;
    });
    child.on("error", (err) => {
      groups.delete(child.pid);
      reject(new StartError(`could not run wrangler (${err.message}); did \`npm ci\` finish?`));
    });
    child.on("close", (code, signal) => {
      groups.delete(child.pid);
      resolve({ code, signal, output, stdout });
    });
  });
}

/** Like {@link runWrangler}, but a failure stops the start with wrangler's own output. */
export async function wranglerStep(what, args) {
  const result = await runWrangler(args);
  if (result.code !== 0) {
    const shown = result.output.trim() || "(no output)";
    throw new StartError(
      `${what} failed: \`wrangler ${args.join(" ")}\` exited with ${result.signal ?? `code ${result.code}`}\n${indent(shown, "  │ ")}`,
    );
  }
  return result;
}

/** Fails with a message naming the port (and the way out, --port) when something already listens on it. */
export function assertPortFree(host, port, what) {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", (err) => {
      if (err.code === "EADDRINUSE")
        reject(
          new StartError(
            `port ${port} is already in use (needed for ${what} on ${host}:${port}): stop whatever holds it, or move every local port with \`npm start -- --port N\` (README "Troubleshooting")`,
          ),
        );
      else reject(new StartError(`cannot listen on ${host}:${port} for ${what}: ${err.message}`));
    });
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

/**
 * What the readiness probe asks the Worker for: its JWKS, answered by the Worker itself without
 * credentials and never forwarded or audited. (`GET /` would be forwarded, and in report-only mode
 * audited as a `missing_api_key` would-refuse.)
 */
export const READINESS_PATH = JWKS_PATH;

/** Resolves once anything answers HTTP at `url` (any status); rejects if `abort` fires first. */
export async function waitForHttp(url, abort) {
  const started = Date.now();
  let hinted = false;
  while (!abort.aborted) {
    try {
      const res = await fetch(url, {
        signal: AbortSignal.any([abort, AbortSignal.timeout(5000)]),
        headers: { "user-agent": "spot-start/readiness" },
      });
      await res.body?.cancel();
      return;
    } catch {
      if (abort.aborted) break;
    }
    if (!hinted && Date.now() - started > 45_000) {
      hinted = true;
      warn(`still waiting for ${url}: a build error above? wrangler dev reloads when the Worker compiles (Ctrl-C to stop)`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new StartError("stopped while waiting for wrangler dev");
}
