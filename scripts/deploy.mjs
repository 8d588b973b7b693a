// `npm run deploy -- --env staging`: preflight (scripts/preflight.mjs, both configs), then `wrangler
// deploy --env <env>` of the authorizer (wrangler.toml), then of the audit Worker (wrangler.audit.toml).
// Other options go to the authorizer's deploy as they are, e.g. `--routes "admin.spot-thought.com/__spot/*"`
// for production's first, admin-only deploy (docs/operations.md "Deploy"); of them only --dry-run goes to
// the audit Worker's too.
//
// The order matters once, when an environment moves from one Worker to two: a queue has one consumer,
// and `wrangler deploy` adds or updates a Worker's queue consumers but never removes one. So first the
// authorizer's own consumers of the audit queues, if any, are removed (`wrangler queues consumer
// remove`), then the authorizer is deployed (its empty `crons` removes its cron), then the audit Worker
// (it becomes the consumer and takes the cron). Meanwhile, and if a later step fails, audit events wait
// in the queue and are consumed once the audit Worker is deployed: nothing is lost.

import { pathToFileURL } from "node:url";
import { auditConfigPath, cloudflare, configName, DEFAULT_CONFIG, readEnvConfig, runEnvScript } from "./lib/environments.mjs";
import { runPreflight } from "./preflight.mjs";

export const USAGE = `usage: npm run deploy -- --env <environment> [--config <file>] [wrangler deploy options…]
  runs npm run preflight for the environment, removes the authorizer's own consumers of the audit
  queues if it still has them, then runs \`wrangler deploy --env <environment>\` of the authorizer
  (wrangler.toml), then of the audit Worker (wrangler.audit.toml); other options go to the authorizer's
  deploy as they are (e.g. --routes "admin.spot-thought.com/__spot/*"), --dry-run to both
  --env, -e <name>  the [env.<name>] section (staging, production)
  --config <file>   another wrangler.toml (default: the project's), with its audit config next to it
  -h, --help        print this text`;

/** Worker names in the `Consumers:` line of `wrangler queues info` (`worker:<name>,worker:<name>`). */
export function queueConsumerScripts(text) {
  const line = /^Consumers:\s*(.*)$/m.exec(text)?.[1] ?? "";
  return [...line.matchAll(/(?:^|,)\s*worker:([^,\s]+)/g)].map((m) => m[1]);
}

/**
 * The command that runs this deploy again, as typed in a POSIX shell: the same environment, the same
 * `--config` when it is not the project's, and the same options for wrangler (so a first, admin-only
 * deploy's `--routes` is kept: without it, wrangler would attach the configuration's routes).
 * @param {string} env the environment
 * @param {string} config the wrangler.toml path as given
 * @param {string[]} rest the options passed on to wrangler deploy
 * @returns {string} e.g. `npm run deploy -- --env production --routes 'admin.spot-thought.com/__spot/*'`
 */
export function deployAgainCommand(env, config, rest) {
  const quote = (arg) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`);
  const args = ["--env", env, ...(config === DEFAULT_CONFIG ? [] : ["--config", config]), ...rest];
  return `npm run deploy -- ${args.map(quote).join(" ")}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await runEnvScript(
    USAGE,
    async ({ env, config, rest }) => {
      if (!(await runPreflight({ env, config }))) {
        console.error(`not deployed: fix the problems above, then run \`${deployAgainCommand(env, config, rest)}\` again`);
        return 1;
      }
      const auditConfig = auditConfigPath(config);
      const dryRun = rest.includes("--dry-run");
      const authorizer = readEnvConfig(config, env).name;
      const queues = (readEnvConfig(auditConfig, env).queues.consumers ?? []).map((c) => c.queue);
      console.log(
        `deploying the authorizer first (${configName(config)}), then the audit Worker (${configName(auditConfig)}): ` +
          "a queue has one consumer; audit events wait in the queue meanwhile",
      );
      // The one-time move from one Worker to two: the authorizer must stop consuming first.
      for (const queue of dryRun ? [] : queues) {
        const { stdout } = await cloudflare(["queues", "info", queue, "--config", config]);
        if (!queueConsumerScripts(stdout).includes(authorizer)) continue;
        console.log(`removing ${authorizer} as the consumer of ${queue} (the audit Worker consumes it from now on)`);
        await cloudflare(["queues", "consumer", "remove", queue, authorizer, "--config", config]);
      }
      await cloudflare(["deploy", "--env", env, "--config", config, ...rest], { inherit: true });
      try {
        await cloudflare(["deploy", "--env", env, "--config", auditConfig, ...(dryRun ? ["--dry-run"] : [])], { inherit: true });
      } catch (err) {
        console.error(
          `the authorizer of ${env} is deployed, its audit Worker is not: audit events wait in the queue until it is; fix the problem below and run \`${deployAgainCommand(env, config, rest)}\` again`,
        );
        throw err;
      }
      console.log(`deployed ${env}: the authorizer, then its audit Worker`);
      return 0;
    },
    { passThrough: true },
  );
}
