// `npm start` options: parses the command line (no side effects, so test/scripts/start-args.node-test.mjs
// can call it), prints nothing. Also the port rule: every local port follows the Worker's port N.
//
//   N          wrangler dev (the authorizer): --port, else wrangler.toml [dev] port (8787)
//   N-87…N-84  the demo origins of the API versions 2023-08-01, 2024-06-01, 2024-11-15, 2025-03-01
//   N-83       the demo sandbox origin (SANDBOX_ORIGIN, test-mode keys)
//   N+442      wrangler dev's inspector (--inspector-port)
//
// So the default 8787 gives 8700-8704 and 9229 (wrangler's own default inspector port), and a second
// checkout on --port 9787 gets 9700-9704 and 10229: two ports at least 530 apart never share one.

import { editDistance } from "../lib/suggest.mjs";

/** The Worker's port when neither --port nor wrangler.toml [dev] says otherwise. */
export const DEFAULT_PORT = 8787;
/** How far below N the first demo origin listens. */
export const ORIGIN_OFFSET = 87;
/** How far above N wrangler dev's inspector listens. */
export const INSPECTOR_OFFSET = 442;
/** The demo origins in port order (N-87 onwards); the last one is the sandbox. */
export const ORIGIN_VERSIONS = ["2023-08-01", "2024-06-01", "2024-11-15", "2025-03-01", "sandbox"];
/** The range --port accepts: every derived port must be an unprivileged TCP port (1024-65535). */
export const MIN_PORT = 1024 + ORIGIN_OFFSET;
export const MAX_PORT = 65535 - INSPECTOR_OFFSET;

export const USAGE = `usage: npm start [-- [--port N] [--reset-db] [--reset-keys] [--simulate-kv-lag SECONDS]]
  --port N      the Worker's port (default ${DEFAULT_PORT}, wrangler.toml [dev]); the demo origins follow on
                N-87…N-83 and wrangler's inspector on N+442, so two checkouts can run side by side
                (e.g. 8787 and 9787); N from ${MIN_PORT} to ${MAX_PORT}
  --reset-db    delete the local D1 database and R2 archive (local audit trail) before applying the migrations
  --reset-keys  delete the local keys (KV, the AccountKeys and SecretClaims Durable Objects,
                .wrangler/demo-key.json) and start over with the SECRET_HASH_KEY in .dev.vars;
                the remedy when npm start warns that SECRET_HASH_KEY changed
  --simulate-kv-lag SECONDS
                (drills) every KV read of the Worker returns, for SECONDS, the value that isolate
                first read: KV held stale as during propagation (npm run drill:revocation)
  -h, --help    print this text`;

/** Each option: whether it takes a value. */
const OPTIONS = {
  port: { value: true },
  "reset-db": { value: false },
  "reset-keys": { value: false },
  "simulate-kv-lag": { value: true },
  help: { value: false },
};
const SHORT = { h: "help" };

/** A command line npm start cannot run with: print `message`, then the usage, and exit 2. */
export class UsageError extends Error {
  name = "UsageError";
  exitCode = 2;
}

/** The known option closest to `name` (without dashes), or null when none is close enough to be a typo. */
export function closestOption(name) {
  let best = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const known of Object.keys(OPTIONS)) {
    const d = known.startsWith(name) && name.length >= 3 ? 1 : editDistance(name, known);
    if (d < bestDistance) {
      best = known;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor((best?.length ?? 0) / 3)) ? best : null;
}

/**
 * Every local port for a Worker on `port` (see the rule at the top of this file).
 * @returns {{ worker: number, origins: { version: string, port: number }[], sandbox: number, inspector: number }}
 */
export function localPorts(port) {
  const origins = ORIGIN_VERSIONS.map((version, i) => ({ version, port: port - ORIGIN_OFFSET + i }));
  return { worker: port, origins, sandbox: origins[origins.length - 1].port, inspector: port + INSPECTOR_OFFSET };
}

/** A --port value: a whole number in MIN_PORT…MAX_PORT, else a UsageError saying why. */
export function parsePort(text) {
  const port = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(port) || port < MIN_PORT || port > MAX_PORT) {
    throw new UsageError(
      `--port takes a port number from ${MIN_PORT} to ${MAX_PORT} (the demo origins use N-87…N-83 and the inspector N+442), not '${text}'`,
    );
  }
  return port;
}

/**
 * Parses npm start's arguments.
 * @param {string[]} argv the arguments after `npm start --`
 * @param {{ defaultPort?: number }} [options] the Worker's port without --port (wrangler.toml [dev] port)
 * @returns {{ help: boolean, resetDb: boolean, resetKeys: boolean, kvLagMs: number | null, port: number,
 *   ports: ReturnType<typeof localPorts> }}
 * @throws {UsageError} an unknown option (with the closest known one), a missing or bad value, a positional
 */
export function parseStartArgs(argv, { defaultPort = DEFAULT_PORT } = {}) {
  const values = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const long = /^--([^=]+)(?:=(.*))?$/s.exec(arg);
    const short = /^-([A-Za-z])$/.exec(arg);
    if (!long && !short) throw new UsageError(`unexpected argument '${arg}' (npm start takes options only)`);
    const name = long ? long[1] : SHORT[short[1]];
    const option = name === undefined ? undefined : OPTIONS[name];
    if (option === undefined) {
      const typed = long ? long[1] : short[1];
      const guess = long ? closestOption(typed) : null;
      throw new UsageError(`unknown option '${long ? `--${typed}` : arg}'${guess ? `: did you mean --${guess}?` : ""}`);
    }
    let value = true;
    if (option.value) {
      if (long?.[2] !== undefined) value = long[2];
      else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) value = argv[++i];
      else throw new UsageError(`--${name} needs a value`);
    } else if (long?.[2] !== undefined) {
      throw new UsageError(`--${name} takes no value`);
    }
    values[name] = value;
  }

  const port = values.port === undefined ? defaultPort : parsePort(values.port);
  let kvLagMs = null;
  if (values["simulate-kv-lag"] !== undefined) {
    const text = values["simulate-kv-lag"];
    const seconds = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > 600)
      throw new UsageError("--simulate-kv-lag takes whole seconds from 1 to 600");
    kvLagMs = seconds * 1000;
  }
  return {
    help: values.help === true,
    resetDb: values["reset-db"] === true,
    resetKeys: values["reset-keys"] === true,
    kvLagMs,
    port,
    ports: localPorts(port),
  };
}
