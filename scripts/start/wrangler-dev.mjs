// Step 4, wrangler dev: local mode (Miniflare's embedded KV, Queues, D1, R2 and Durable Objects in
// .wrangler/state) on this start's port and inspector port, its output prefixed with [wrangler].

import { createInterface } from "node:readline";
import { dim, useColor } from "./output.mjs";
import { spawnInGroup, WRANGLER_ENV } from "./processes.mjs";

function pipeLines(stream, prefix, write) {
  createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => write(`${prefix}${line}`));
}

/**
 * @param {{ kvLagMs: number | null, ip: string, ports: ReturnType<import("./args.mjs").localPorts> }} options
 *   `kvLagMs`: milliseconds of simulated KV lag (`--simulate-kv-lag`), or null
 */
export function startWranglerDev({ kvLagMs, ip, ports }) {
  const args = [
    "dev",
    // Drills only: compiled into this dev build alone (src/keys/kv-lag.ts).
    ...(kvLagMs === null ? [] : ["--define", `__SPOT_KV_LAG_MS__:${kvLagMs}`]),
    // Local mode only: Miniflare's embedded KV/Queues/D1/R2 in .wrangler/state, remote bindings off.
    "--local",
    // This start's ports (args.mjs): fixed, so a second checkout on another --port never races for them.
    "--ip",
    ip,
    "--port",
    String(ports.worker),
    "--inspector-port",
    String(ports.inspector),
    // No hotkey session: stdin is not a terminal here, and Ctrl-C must reach this script.
    "--show-interactive-dev-session=false",
  ];
  const child = spawnInGroup(args, { ...WRANGLER_ENV, ...(useColor ? { FORCE_COLOR: "1" } : {}) });
  const prefix = dim("[wrangler] ");
  pipeLines(child.stdout, prefix, (line) => console.log(line));
  pipeLines(child.stderr, prefix, (line) => console.error(line));
  return child;
}
