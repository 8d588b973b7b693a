// `npm run deploy -- --env staging`: preflight (scripts/preflight.mjs), then `wrangler deploy --env
// <env>`. Other options go to wrangler as they are, e.g. `--routes "admin.spot-thought.com/__spot/*"`
// for production's first, admin-only deploy (docs/operations.md "Deploy").

import { pathToFileURL } from "node:url";
import { cloudflare, EnvScriptError, parseEnvArgs } from "./lib/environments.mjs";
import { runPreflight } from "./preflight.mjs";

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    const { env, config, rest } = parseEnvArgs(process.argv.slice(2), { passThrough: true });
    if (!(await runPreflight({ env, config }))) {
      console.error(`not deployed: fix the problems above, then run \`npm run deploy -- --env ${env}\` again`);
      process.exit(1);
    }
    await cloudflare(["deploy", "--env", env, "--config", config, ...rest], { inherit: true });
  } catch (err) {
    console.error(`✘ ${err instanceof EnvScriptError ? err.message : (err?.stack ?? String(err))}`);
    process.exit(1);
  }
}
