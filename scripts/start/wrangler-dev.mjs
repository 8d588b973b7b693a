// Step 4, wrangler dev: local mode (Miniflare's embedded KV, Queues, D1, R2 and Durable Objects in
// .wrangler/state) on this start's port and inspector port, its output prefixed with [wrangler]. Two
// Workers in one wrangler dev (`-c wrangler.toml -c wrangler.audit.toml`): the authorizer, the first
// config, serves the port; the audit Worker runs next to it in the same Miniflare, with the same local
// state, and consumes the audit queue the authorizer produces to. Its retention cron does not run under
// wrangler dev, and `/cdn-cgi/local/scheduled` on the port reaches the authorizer, which has none
// (README "Lines wrangler prints at start" says how to run it once).
// Wrangler prints its bindings table when it starts and again on every update of its dev registry
// (the local wrangler devs of this machine, itself included): a table identical to one already shown
// is left out, so it appears once (a changed one is shown).

import { createInterface } from "node:readline";
import { stripVTControlCharacters } from "node:util";
import { WRANGLER_AUDIT_TOML, WRANGLER_TOML } from "./files.mjs";
import { dim, useColor } from "./output.mjs";
import { spawnInGroup, WRANGLER_ENV } from "./processes.mjs";

const BINDINGS_TITLE = /has access to the following bindings:?$/;
/** Lines a bindings table may have at most; a longer block is shown as it is. */
const MAX_TABLE_LINES = 400;

/**
 * A line filter that drops every repetition of a bindings table already let through: the table runs
 * from its title line to the next empty line. Call with each line; returns the lines to show now.
 * @returns {(line: string) => string[]}
 */
export function repeatedBindingsFilter() {
  const shown = new Set();
  let block = null;
  return (line) => {
    const plain = stripVTControlCharacters(line).trim();
    if (block === null) {
      if (!BINDINGS_TITLE.test(plain)) return [line];
      block = [line];
      return [];
    }
    block.push(line);
    if (plain !== "" && block.length < MAX_TABLE_LINES) return [];
    const done = block;
    block = null;
    const text = done.map((l) => stripVTControlCharacters(l).trimEnd()).join("\n");
    if (shown.has(text)) return [];
    shown.add(text);
    return done;
  };
}

function pipeLines(stream, prefix, write, filter = (line) => [line]) {
  createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
    for (const shown of filter(line)) write(`${prefix}${shown}`);
  });
}

/**
 * @param {{ kvLagMs: number | null, ip: string, ports: ReturnType<import("./args.mjs").localPorts> }} options
 *   `kvLagMs`: milliseconds of simulated KV lag (`--simulate-kv-lag`), or null
 */
export function startWranglerDev({ kvLagMs, ip, ports }) {
  const args = [
    "dev",
    // The authorizer first (it serves the port), then the audit Worker (queue consumer, retention cron).
    "--config",
    WRANGLER_TOML,
    "--config",
    WRANGLER_AUDIT_TOML,
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
  pipeLines(child.stdout, prefix, (line) => console.log(line), repeatedBindingsFilter());
  pipeLines(child.stderr, prefix, (line) => console.error(line));
  return child;
}
