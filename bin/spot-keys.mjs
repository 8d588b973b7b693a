#!/usr/bin/env node
// spot-keys: the command line for the admin API: the key lifecycle and the audit trail (docs/cli.md).
// Runs on Node ≥ 20 (`npx spot-keys …` uses the Node on PATH). Plain ESM; node: builtins and jose.
// This is the entry point only: the dispatcher is scripts/spot-keys/main.mjs, one module a command
// under scripts/spot-keys/commands/.
//
// Every string that came from the server (labels, actors, user agents, paths, error messages…) goes
// through `esc` before human output, and --json through jsonForTerminal: control, bidi, zero-width
// and other invisible characters are shown as escapes, never sent to the terminal raw
// (scripts/lib/terminal-text.mjs; docs/cli.md "Output of server text").

import { main } from "../scripts/spot-keys/main.mjs";

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
