// spot-keys: the dispatcher: picks the command, parses its options with util.parseArgs, runs it and
// turns any error into its message and exit code (docs/cli.md).

import { parseArgs } from "node:util";
import { commandNamed } from "./commands/index.mjs";
import { EXIT, reportError, UsageError } from "./errors.mjs";
import { COMMON } from "./options.mjs";
import { outputFor } from "./output.mjs";
import { USAGE } from "./usage.mjs";

/** The util.parseArgs options of a command: its own and the common ones, without the help fields. */
function specOf(command) {
  const spec = {};
  for (const [name, { type, short, multiple, default: value }] of Object.entries({ ...COMMON, ...command.options })) {
    spec[name] = {
      type,
      ...(short ? { short } : {}),
      ...(multiple ? { multiple } : {}),
      ...(value !== undefined ? { default: value } : {}),
    };
  }
  return spec;
}

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
export async function main(argv) {
  const [name, ...rest] = argv;
  const json = rest.includes("--json");
  try {
    if (!name || name === "-h" || name === "--help" || name === "help") {
      console.log(USAGE);
      return name ? EXIT.ok : EXIT.usage;
    }
    const command = commandNamed(name);
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: specOf(command), allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageError(err.message);
    }
    if (parsed.values.help) {
      console.log(USAGE);
      return EXIT.ok;
    }
    return await command.run(parsed.values, parsed.positionals, outputFor(parsed.values.json));
  } catch (err) {
    return reportError(err, { json });
  }
}
