// `npm run deploy -- --env staging`: preflight (scripts/preflight.mjs, both configs), then `wrangler
// deploy --env <env>` of the authorizer (wrangler.toml), then of the audit Worker (wrangler.audit.toml).
// Other options go to the authorizer's deploy as they are, e.g. `--routes "admin.spot-thought.com/__spot/*"`
// for production's first, admin-only deploy (docs/operations.md "Deploy"); of them only --dry-run goes to
// the audit Worker's too.
//
// The order matters once, when an environment moves from one Worker to two: a queue has one consumer.
// The authorizer's deploy removes its own consumer of the audit queue (and its retention cron), then the
// audit Worker's deploy adds its consumer. In between, and if the second deploy fails, audit events
// wait in the queue and are consumed once the audit Worker is deployed: nothing is lost.

import { pathToFileURL } from "node:url";
import { auditConfigPath, cloudflare, configName, runEnvScript } from "./lib/environments.mjs";
import { runPreflight } from "./preflight.mjs";

export const USAGE = `usage: npm run deploy -- --env <environment> [--config <file>] [wrangler deploy options…]
  runs npm run preflight for the environment, then \`wrangler deploy --env <environment>\` of the
  authorizer (wrangler.toml), then of the audit Worker (wrangler.audit.toml); other options go to the
  authorizer's deploy as they are (e.g. --routes "admin.spot-thought.com/__spot/*"), --dry-run to both
  --env, -e <name>  the [env.<name>] section (staging, production)
  --config <file>   another wrangler.toml (default: the project's), with its audit config next to it
  -h, --help        print this text`;

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await runEnvScript(
    USAGE,
    async ({ env, config, rest }) => {
      if (!(await runPreflight({ env, config }))) {
        console.error(`not deployed: fix the problems above, then run \`npm run deploy -- --env ${env}\` again`);
        return 1;
      }
      const auditConfig = auditConfigPath(config);
      console.log(
        `deploying the authorizer first (${configName(config)}), then the audit Worker (${configName(auditConfig)}): ` +
          "a queue has one consumer, so the authorizer stops consuming before the audit Worker starts; audit events wait in the queue meanwhile",
      );
      await cloudflare(["deploy", "--env", env, "--config", config, ...rest], { inherit: true });
      try {
        await cloudflare(["deploy", "--env", env, "--config", auditConfig, ...rest.filter((arg) => arg === "--dry-run")], {
          inherit: true,
        });
      } catch (err) {
        console.error(
          `the authorizer of ${env} is deployed, its audit Worker is not: audit events wait in the queue until it is; fix the problem below and run \`npm run deploy -- --env ${env}\` again`,
        );
        throw err;
      }
      console.log(`deployed ${env}: the authorizer, then its audit Worker`);
      return 0;
    },
    { passThrough: true },
  );
}
