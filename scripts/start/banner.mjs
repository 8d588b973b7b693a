// Step 6, the closing banner: what runs where (on this start's ports), a ready curl, the spot-keys
// commands and the console sign-in URL (a fresh dev admin token).

import { DEMO_HOST } from "../demo-origin.mjs";
import { localApiVersions } from "./demo-origins.mjs";
import { bold, dim, green, red, yellow } from "./output.mjs";

/** Hours the console sign-in link of the banner stays valid (a dev admin token; run npm start again for a new one). */
export const CONSOLE_TOKEN_HOURS = 8;

/**
 * The banner's lines about ENFORCEMENT (.dev.vars, else wrangler.toml [vars]; docs/operations.md
 * "Report-only mode"): none for enforce (absent, "" or "enforce"), a warning for report-only, an error
 * for anything else (the Worker answers every request 503 then).
 * @param {{ value?: string, from: string } | undefined} enforcement the value and where it was read
 * @returns {string[]}
 */
export function enforcementLines(enforcement) {
  const value = enforcement?.value;
  if (value === undefined || value === "" || value === "enforce") return [];
  if (value === "report-only") {
    return [
      "",
      `   ${yellow(bold(`! ENFORCEMENT=report-only`))} ${dim(`(${enforcement.from})`)}: a request that would be refused is forwarded anyway,`,
      `     marked X-Spot-Would-Refuse and audited as would_refuse; delete the line and restart to enforce`,
    ];
  }
  return [
    "",
    `   ${red(bold(`! ENFORCEMENT=${JSON.stringify(value)}`))} ${dim(`(${enforcement.from})`)}: not "enforce" or "report-only", so every request`,
    `     answers 503 authorizer_unavailable; fix or delete it and restart`,
  ];
}

/**
 * The closing banner: where everything runs, a ready curl and the spot-keys commands.
 * @param {{ url: string, ports: ReturnType<import("./args.mjs").localPorts>, defaultPort: boolean, demo: object,
 *   hashKeyChanged: boolean, consoleToken: string, enforcement?: { value?: string, from: string } }} input
 *   `defaultPort`: the Worker is on wrangler.toml's [dev]
 *   port; `hashKeyChanged`: add a line pointing at the hash key warning printed just before; `consoleToken`: a
 *   fresh dev admin token for the console's sign-in URL; `enforcement`: ENFORCEMENT and where it was read
 *   ({@link enforcementLines})
 */
export function banner({ url, ports, defaultPort, demo, hashKeyChanged, consoleToken, enforcement }) {
  const line = dim("─".repeat(78));
  const versions = localApiVersions(ports);
  const byVersion = [...versions].sort((a, b) => a.version.localeCompare(b.version));
  const latestStable = versions
    .filter((v) => v.status === "stable")
    .map((v) => v.version)
    .sort()
    .at(-1);
  const curl = (version) =>
    `curl -sS ${url}/v1/charges -H 'X-Spot-Api-Key: ${demo.account_id}' -H 'X-Spot-Api-Secret: ${demo.secret}' -H 'X-Spot-Api-Version: ${version}'`;
  const out = [
    "",
    line,
    ` ${bold("Spot Thought edge authorizer")} is running locally ${dim("(no Cloudflare account, no network)")}`,
    "",
    `   authorizer    ${bold(url)}  ${dim("wrangler dev: local KV, Queues, D1 and R2 in .wrangler/state")}`,
    `   audit Worker  ${dim("same wrangler dev (wrangler.audit.toml): consumes the audit queue into the local D1 and R2")}`,
    ...byVersion.map(
      (v, i) =>
        `   ${i === 0 ? "demo origins" : "            "}  ${v.origin}  ${v.version} ${v.status}${v.version === latestStable ? " (default)" : ""}${v.sunset ? ` (sunset ${v.sunset})` : ""}`,
    ),
    `                 http://${DEMO_HOST}:${ports.sandbox}  sandbox: every version, test-mode keys (sk_test_) only`,
    `   JWKS          ${url}/.well-known/spot-authorizer/jwks.json  ${dim("(no API key; the demo origins verify X-Spot-Assertion with it)")}`,
    `   demo key      account ${bold(demo.account_id)}  key ${bold(demo.key_id)}  live  ${dim("(secret kept in .wrangler/demo-key.json)")}`,
    ...enforcementLines(enforcement),
    ...(hashKeyChanged
      ? [
          "",
          `   ${red(bold("! SECRET_HASH_KEY changed:"))} the local keys made before it answer 401 (see the warning above;`,
          `     restore the old .dev.vars, or ${bold("npm start -- --reset-keys")})`,
        ]
      : []),
    "",
    ` Try it:`,
    `   ${green(curl("2024-11-15"))}`,
    `   ${green(curl("2024-06-01"))}`,
    `   ${green("npm run audit:tail")}   ${dim("# newest rows of the audit trail (local D1)")}`,
    `   ${green(`npx spot-keys list --account ${demo.account_id}`)}   ${dim("# keys through the admin API (dev admin token minted locally)")}`,
    `   ${green("npx spot-keys create --account acct_42")}`,
    `   ${green("npx spot-keys create --account acct_42 --mode test --allow-ip 127.0.0.1 --rate-limit 60")}   ${dim("# reaches the sandbox; 403 from other addresses")}`,
    ...(defaultPort
      ? []
      : [
          `   ${dim(`# npx spot-keys in this checkout finds ${url} itself (.wrangler/dev-server.json); to be explicit:`)}`,
          `   ${green(`SPOT_ADMIN_URL=${url} npx spot-keys list --account ${demo.account_id}`)}`,
        ]),
    "",
    ` Web console ${dim(`(keys and audit in a browser; this link signs you in for ${CONSOLE_TOKEN_HOURS} h, from this machine only):`)}`,
    `   ${green(`${url}/__spot/console/sign-in?token=${consoleToken}`)}`,
    "",
    ` ${dim("Ctrl-C stops everything.")}`,
    line,
    "",
  ];
  console.log(out.join("\n"));
}
