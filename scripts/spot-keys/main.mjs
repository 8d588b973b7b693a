// spot-keys: the dispatcher: `spot-keys <command> [options]` runs the command module, `--help`/`help` print
// the help; any error becomes its message and exit code (docs/cli.md).

import { findCommand, parseCommandArgs } from "./args.mjs";
import { EXIT, reportError, UsageError } from "./errors.mjs";
import { commandHelp, overallHelp } from "./help.mjs";
import { outputFor } from "./output.mjs";

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
export async function main(argv) {
  const [name, ...rest] = argv;
  const json = rest.includes("--json");
  let command;
  try {
    if (!name || name === "-h" || name === "--help") {
      console.log(overallHelp());
      return name ? EXIT.ok : EXIT.usage;
    }
    if (name === "help") {
      if (rest.length > 1) throw new UsageError(`unexpected arguments: ${rest.slice(1).join(" ")}`);
      console.log(rest.length === 0 ? overallHelp() : commandHelp(findCommand(rest[0])));
      return EXIT.ok;
    }
    command = findCommand(name);
    const { values, positionals } = parseCommandArgs(command, rest);
    if (values.help) {
      console.log(commandHelp(command));
      return EXIT.ok;
    }
    return await command.run(values, positionals, outputFor(values.json));
  } catch (err) {
    return reportError(err, { json, command: command?.name });
  }
}
