// spot-keys: the help texts: `spot-keys --help` (the list of commands, the environment, the exit codes)
// and `spot-keys <command> --help`, made from the command module's own usage, options and example.

import { localBaseUrl } from "../admin-client.mjs";
import { COMMANDS } from "./commands/index.mjs";
import { COMMON } from "./options.mjs";

/** A command's usage lines, indented, for its help and under a usage error. */
export const usageBlock = (command) => command.usage.map((line) => `  ${line}`).join("\n");

/** `-y, --yes` / `--account ACCT`: how an option is written in the help. */
const optionName = (name, option) => `${option.short ? `-${option.short}, ` : ""}--${name}${option.arg ? ` ${option.arg}` : ""}`;

/** Two columns: names padded to the longest, then the text. */
const columns = (rows) => {
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  return rows.map(([name, text]) => `  ${name.padEnd(width)}${text}`).join("\n");
};

export function commandHelp(command) {
  const options = Object.entries({ ...command.options, ...COMMON }).map(([name, option]) => [optionName(name, option), option.help]);
  return `spot-keys ${command.name}: ${command.summary}

Usage:
${usageBlock(command)}

Options:
${columns(options)}

Example:
  ${command.example}

Where it connects (SPOT_ADMIN_URL, SPOT_ADMIN_TOKEN…) and the exit codes: spot-keys --help`;
}

export function overallHelp() {
  return `spot-keys: manage API keys and search the audit trail through the edge authorizer's admin API

Usage: spot-keys <command> [options]

Commands:
${columns(COMMANDS.map((command) => [command.name, command.summary]))}

Run \`spot-keys <command> --help\` (or \`spot-keys help <command>\`) for its usage, options and an example.
Every command takes --json (machine-readable output: the API's JSON answer, errors too, nothing else on stdout).

Environment:
  SPOT_ADMIN_URL    the authorizer (default: the local dev server of npm start, ${localBaseUrl()})
  SPOT_ADMIN_TOKEN  an admin JWT (Authorization: Bearer; also sent as cf-access-token for Cloudflare
                    Access, e.g. from \`cloudflared access token\`). Unset and the URL is local: a dev
                    token is minted from .wrangler/admin-dev-key.json (made by npm start).
  SPOT_ACCESS_CLIENT_ID, SPOT_ACCESS_CLIENT_SECRET
                    a Cloudflare Access service token (CF-Access-Client-Id / -Secret); Access then
                    adds its own JWT, so SPOT_ADMIN_TOKEN is not needed.

Exit codes: 0 ok · 1 server error · 2 usage or validation error · 3 network · 4 not authorized (401/403)
            5 not found · 6 conflict (409) · 7 not confirmed · 8 import --file: some lines failed`;
}
