// Load generation for `npm run bench`. Every run is bounded in time (and the child that runs it is
// killed after its duration plus a grace period); traffic goes only to 127.0.0.1.
//
//   wrk         Debian's `wrk` (apt-get install wrk) when it is on PATH: one thread, fixed connections
//   autocannon  the npm fallback (slower client, so lower absolute numbers), in its own process
//   unloaded    one connection, one request at a time (bench/lib/unloaded-run.mjs), for added latency

import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";

/** @returns {{ path: string, version: string } | null} wrk on PATH, or null */
export function findWrk() {
  try {
    const path = execFileSync("sh", ["-c", "command -v wrk"], { encoding: "utf8" }).trim();
    if (!path) return null;
    let version = "";
    try {
      execFileSync(path, ["-v"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      // `wrk -v` prints its version and exits 1
      const text = `${err.stdout ?? ""}${err.stderr ?? ""}`;
      version = /wrk (\S+)/.exec(text)?.[1] ?? "unknown";
    }
    return { path, version };
  } catch {
    return null;
  }
}

/** Runs a command with a hard deadline; resolves with its stdout (rejects on a non-zero exit). */
function run(cmd, args, deadlineMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d) => {
      out += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), deadlineMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(" ")} failed (${signal ?? `exit ${code}`}): ${(err || out).trim().slice(0, 500)}`));
    });
  });
}

const UNIT_US = { us: 1, ms: 1000, s: 1_000_000 };

/** "412.00us" | "1.23ms" | "2.00s" → microseconds */
function wrkDuration(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!m) throw new Error(`unexpected wrk duration ${text}`);
  return Number(m[1]) * UNIT_US[m[2]];
}

/**
 * Parses wrk's report (with --latency).
 * @returns {{ requests: number, rps: number, p50_us: number, p99_us: number, non2xx: number, socket_errors: number }}
 */
export function parseWrk(text) {
  const num = (re) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : null;
  };
  const requests = num(/(\d+) requests in/);
  const rps = num(/Requests\/sec:\s+([\d.]+)/);
  const p50 = /\n\s+50%\s+(\S+)/.exec(text);
  const p99 = /\n\s+99%\s+(\S+)/.exec(text);
  if (requests === null || rps === null || !p50 || !p99) throw new Error(`could not read wrk's report:\n${text}`);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    requests,
    rps,
    p50_us: wrkDuration(p50[1]),
    p99_us: wrkDuration(p99[1]),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/) ?? 0,
    socket_errors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

/**
 * One load run at fixed connections for a fixed time.
 * @param {{ tool: "wrk" | "autocannon", wrkPath?: string, root: string, url: string, headers: Record<string, string>,
 *           connections: number, seconds: number }} options  `seconds`: whole seconds (wrk's unit)
 * @returns same shape as {@link parseWrk}
 */
export async function loadRun({ tool, wrkPath, root, url, headers, connections, seconds }) {
  const deadline = (seconds + 20) * 1000;
  if (tool === "wrk") {
    const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "--timeout", "5s"];
    for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}: ${v}`);
    args.push(url);
    return parseWrk(await run(wrkPath, args, deadline));
  }
  const spec = JSON.stringify({ url, headers, connections, seconds });
  return JSON.parse(await run(process.execPath, [join(root, "bench", "lib", "autocannon-run.mjs"), spec], deadline));
}

/**
 * Sequential requests on one keep-alive connection.
 * @returns {Promise<{ requests: number, p50_us: number, p99_us: number, bad_status: number }>}
 */
export async function unloadedRun({ root, url, headers, seconds, expectStatus }) {
  const spec = JSON.stringify({ url, headers, seconds, expectStatus, maxRequests: 200_000 });
  return JSON.parse(await run(process.execPath, [join(root, "bench", "lib", "unloaded-run.mjs"), spec], (seconds + 20) * 1000));
}
