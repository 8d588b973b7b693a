// spot-keys: exit codes, the UsageError of a bad command line, and how an error is reported
// (stderr for people, the error envelope on stdout with --json; docs/cli.md "Exit codes").

import { AdminApiError } from "../admin-client.mjs";
import { escapeForTerminal as esc, jsonForTerminal } from "../lib/terminal-text.mjs";
import { dim, red } from "./output.mjs";

/** Exit codes (docs/cli.md). */
export const EXIT = { ok: 0, server: 1, usage: 2, network: 3, auth: 4, notFound: 5, conflict: 6, aborted: 7, someFailed: 8 };

/**
 * A command line that cannot run: exit 2. Optionally a `suggestion` ("did you mean …?") and `usage`
 * (the command's usage lines) printed under the message.
 */
export class UsageError extends Error {
  constructor(message, { suggestion, usage } = {}) {
    super(message);
    this.suggestion = suggestion;
    this.usage = usage;
  }
}

export function exitCodeOf(err) {
  if (err.kind === "network") return EXIT.network;
  if (err.status === 400) return EXIT.usage;
  if (err.status === 401 || err.status === 403) return EXIT.auth;
  if (err.status === 404) return EXIT.notFound;
  if (err.status === 409) return EXIT.conflict;
  return EXIT.server;
}

const HINTS = {
  401: "check SPOT_ADMIN_TOKEN or the Access service token (locally: unset it to use a dev token; restart npm start if .dev.vars changed)",
  403: 'the token lacks the "keys:write" permission',
};

/** A hint for a 404 of the audit lookup: its event may not be stored yet. */
export const NOT_STORED_HINT = "Audit events are stored a few seconds after the response: retry, or add --wait 15s.";

/**
 * Reports an error of a command run and returns its exit code. `command` is the command being run
 * (for the --help hint of a usage error), or undefined.
 */
export function reportError(err, { json, command }) {
  if (err instanceof UsageError) {
    if (json) {
      const message = err.suggestion ? `${err.message}; ${err.suggestion}` : err.message;
      console.log(jsonForTerminal({ error: { code: "usage", message } }));
    } else {
      console.error(`${red("error:")} ${esc(err.message)}`);
      if (err.suggestion) console.error(esc(err.suggestion));
      if (err.usage) console.error(err.usage);
      console.error(
        dim(command ? `Run \`spot-keys ${command} --help\` for its options and an example.` : "Run `spot-keys --help` for usage."),
      );
    }
    return EXIT.usage;
  }
  if (err instanceof AdminApiError) {
    if (json) {
      console.log(
        jsonForTerminal(err.body ?? { error: { code: err.kind === "network" ? "network_error" : "http_error", message: err.message } }),
      );
    } else {
      const detail =
        err.kind === "network" ? "" : ` (${[err.status, err.code, err.param && `field ${err.param}`].filter(Boolean).join(", ")})`;
      console.error(`${red("error:")} ${esc(err.message)}${esc(detail)}`);
      if (err.kind === "network") console.error(dim("Is the authorizer running (`npm start`), or is SPOT_ADMIN_URL right?"));
      if (HINTS[err.status]) console.error(dim(HINTS[err.status]));
      if (err.code === "audit_event_not_found") console.error(dim(err.hint ?? NOT_STORED_HINT));
      if (err.requestId) console.error(dim(`request id: ${esc(err.requestId)}`));
    }
    return exitCodeOf(err);
  }
  console.error(
    `${red("error:")} ${String(err?.stack ?? err)
      .split("\n")
      .map((line) => esc(line))
      .join("\n")}`,
  );
  return EXIT.server;
}
