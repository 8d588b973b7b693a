// `npm start` / `npm run dev`: runs the whole edge authorizer on this machine, no Cloudflare
// account and no network (DESIGN §9). One module per step, in scripts/start/:
//
//   args.mjs          the options (--port, --reset-db, --reset-keys, --simulate-kv-lag, --help) and the
//                     port rule: the Worker on N (default 8787), demo origins on N-87…N-83, inspector N+442
//   1. dev-vars.mjs   .dev.vars: SECRET_HASH_KEY, ASSERTION_SIGNING_KEY, API_VERSIONS / SANDBOX_ORIGIN →
//                     the demo origins, the dev admin key (ADMIN_JWKS), CONSOLE_LOCAL_SIGN_IN
//      local-keys.mjs the local keys against the hash key's fingerprint (and --reset-keys)
//   2. migrations.mjs `wrangler d1 migrations apply AUDIT_DB --local` (and --reset-db)
//   3. demo-origins.mjs  scripts/demo-origin.mjs, one origin per API version and the sandbox
//   4. wrangler-dev.mjs  wrangler dev in local mode (Miniflare's KV, Queues, D1, R2, Durable Objects), two
//                     Workers: the authorizer (wrangler.toml, on the port) and the audit Worker
//                     (wrangler.audit.toml: the queue consumer), one Miniflare, one .wrangler/state
//   5. demo-key.mjs   the demo key, through the admin API as `npx spot-keys create` does
//   6. banner.mjs     what runs where, a ready curl, the spot-keys commands, the console sign-in URL
//   processes.mjs, output.mjs, files.mjs, wrangler-toml.mjs: children, printing, paths, wrangler.toml
//
// Ctrl-C / SIGTERM stops everything; if wrangler dies, the origins are stopped and the exit code is 1.
// A bad command line prints the usage and exits 2.
//
// Plain ESM, node: builtins only. The toolchain needs Node ≥ 22: `npm start` runs this with the
// Node 22 binary of the `node` devDependency (node_modules/.bin), and every wrangler command is
// spawned through that same binary (process.execPath).

import { existsSync } from "node:fs";
import { mintDevToken, writeLocalServer } from "./admin-client.mjs";
import { parseStartArgs, USAGE, UsageError } from "./start/args.mjs";
import { banner, CONSOLE_TOKEN_HOURS } from "./start/banner.mjs";
import { dropLegacyDemoKey, ensureDemoKey } from "./start/demo-key.mjs";
import { assertOriginPortsFree, startLocalDemoOrigins } from "./start/demo-origins.mjs";
import { ensureDevAdminKey, ensureDevVars } from "./start/dev-vars.mjs";
import { WRANGLER } from "./start/files.mjs";
import { checkLocalKeys, printHashKeyWarning } from "./start/local-keys.mjs";
import { applyMigrations } from "./start/migrations.mjs";
import { dim, red, StartError, step } from "./start/output.mjs";
import { assertPortFree, READINESS_PATH, stopGroups, waitForHttp } from "./start/processes.mjs";
import { startWranglerDev } from "./start/wrangler-dev.mjs";
import { readTomlValues } from "./start/wrangler-toml.mjs";

async function main() {
  const toml = readTomlValues();
  let options;
  try {
    options = parseStartArgs(process.argv.slice(2), { defaultPort: toml.devPort });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${red(`✘ ${err.message}`)}\n\n${USAGE}`);
    return err.exitCode;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const { ports } = options;

  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 22 || (major === 22 && minor < 12)) {
    throw new StartError(
      `Node ${process.versions.node} is too old for wrangler (needs ≥ 22.12). Run it as \`npm start\`, which uses the Node 22 from node_modules/.bin (after \`npm ci\`).`,
    );
  }
  if (!existsSync(WRANGLER)) throw new StartError("node_modules/.bin/wrangler not found: run `npm ci` first");

  const url = `http://${toml.devIp}:${ports.worker}`;

  let stopping = false;
  let origins = null;
  const stopAll = async (code, message) => {
    if (stopping) return;
    stopping = true;
    if (message) console.error(message);
    await Promise.all([stopGroups(8000), origins?.close()]);
    process.exit(code);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      if (!stopping) console.log(`\n${dim(`${signal}: stopping…`)}`);
      stopAll(0);
    });
  }

  /** The hash key warning's lines when the local keys were made with another SECRET_HASH_KEY, else null. */
  let warning = null;
  try {
    // Fail on busy ports before doing anything slow, and before .dev.vars names this start's ports.
    await assertPortFree(toml.devIp, ports.worker, "wrangler dev");
    await assertPortFree("127.0.0.1", ports.inspector, "the inspector of wrangler dev");
    await assertOriginPortsFree(ports);
    // 1
    const adminPublicJwk = await ensureDevAdminKey();
    const { vars, hashKeyGenerated } = ensureDevVars(adminPublicJwk, ports);
    const hashKeyId = vars.get("SECRET_HASH_KEY_ID") ?? toml.hashKeyId;
    if (!hashKeyId) throw new StartError("SECRET_HASH_KEY_ID not found in wrangler.toml [vars]");
    step(
      `.dev.vars ready: SECRET_HASH_KEY, ASSERTION_SIGNING_KEY, ADMIN_JWKS (dev admin key ${adminPublicJwk.kid}), API_VERSIONS → demo origins on ports ${ports.origins.map((o) => o.port).join(", ")}`,
    );
    // Local keys against the hash key (and --reset-keys), before wrangler dev holds the local state.
    let hashKeyChanged;
    ({ hashKeyChanged, warning } = checkLocalKeys({ vars, hashKeyGenerated, resetKeys: options.resetKeys, workerName: toml.workerName }));
    // 2
    await applyMigrations(options.resetDb);
    await dropLegacyDemoKey();
    if (stopping) return 0;
    // 3
    origins = await startLocalDemoOrigins({ ports, url, issuer: vars.get("ASSERTION_ISSUER") ?? toml.issuer });
    // 4
    await assertPortFree(toml.devIp, ports.worker, "wrangler dev");
    step(`starting wrangler dev on ${url} …`);
    const dev = startWranglerDev({ kvLagMs: options.kvLagMs, ip: toml.devIp, ports });
    const devExited = new AbortController();
    // "exit", not "close": workerd (same group) may still hold the output pipes.
    dev.on("exit", (code, signal) => {
      devExited.abort();
      if (!stopping) stopAll(1, red(`✘ wrangler dev exited unexpectedly (${signal ?? `code ${code}`}); stopping the demo origins.`));
    });
    dev.on("error", (err) => {
      devExited.abort();
      if (!stopping) stopAll(1, red(`✘ could not start wrangler dev: ${err.message}`));
    });
    await waitForHttp(`${url}${READINESS_PATH}`, devExited.signal);
    // npx spot-keys follows this start's port (scripts/admin-client.mjs localBaseUrl).
    writeLocalServer(url);
    // 5
    const demo = await ensureDemoKey(url, { hashKeyChanged });
    // The whole warning where the eye lands, just above the banner.
    if (warning) printHashKeyWarning(warning);
    const consoleToken = await mintDevToken({ ttlSeconds: CONSOLE_TOKEN_HOURS * 3600 });
    // 6
    const enforcement = vars.has("ENFORCEMENT")
      ? { value: vars.get("ENFORCEMENT"), from: ".dev.vars" }
      : { value: toml.enforcement, from: "wrangler.toml [vars]" };
    banner({ url, ports, defaultPort: ports.worker === toml.devPort, demo, hashKeyChanged, consoleToken, enforcement });
  } catch (err) {
    if (stopping) return 0;
    // Not started, but the hash key trouble stays: say it in full here too.
    if (warning) printHashKeyWarning(warning);
    await stopAll(1, red(`✘ ${err instanceof StartError ? err.message : (err?.stack ?? String(err))}`));
  }
  return null; // keeps running until a signal or a child's exit
}

main().then(
  (code) => {
    if (code !== null) process.exit(code);
  },
  (err) => {
    console.error(red(`✘ ${err instanceof StartError ? err.message : (err?.stack ?? String(err))}`));
    process.exit(1);
  },
);
