// `npm run deploy -- --env staging`: preflight (scripts/preflight.mjs), then `wrangler deploy --env
// <env>`. Other options go to wrangler as they are, e.g. `--routes "admin.spot-thought.com/__spot/*"`
// for production's first, admin-only deploy (docs/operations.md "Deploy").

import { pathToFileURL } from "node:url";
import { cloudflare, runEnvScript } from "./lib/environments.mjs";
import { runPreflight } from "./preflight.mjs";

export const USAGE = `usage: npm run deploy -- --env <environment> [--config <file>] [wrangler deploy options…]
  runs npm run preflight for the environment, then \`wrangler deploy --env <environment>\`; other options
  go to wrangler as they are (e.g. --routes "admin.spot-thought.com/__spot/*")
  --env, -e <name>  the [env.<name>] section (staging, production)
  --config <file>   another wrangler.toml (default: the project's)
  -h, --help        print this text`;

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await runEnvScript(
    USAGE,
    async ({ env, config, rest }) => {
      if (!(await runPreflight({ env, config }))) {
        console.error(`not deployed: fix the problems above, then run \`npm run deploy -- --env ${env}\` again`);
        return 1;
      }
      await cloudflare(["deploy", "--env", env, "--config", config, ...rest], { inherit: true });
      return 0;
    },
    { passThrough: true },
  );
}
