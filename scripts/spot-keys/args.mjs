// spot-keys: the command line: which command (or help), and the command's options parsed with
// util.parseArgs. An unknown command or option is a UsageError (exit 2) naming the closest known one.

import { parseArgs } from "node:util";
import { didYouMean } from "../lib/suggest.mjs";
import { COMMANDS, commandNamed } from "./commands/index.mjs";
import { UsageError } from "./errors.mjs";
import { usageBlock } from "./help.mjs";
import { COMMON } from "./options.mjs";

/** The command of `name`, or a UsageError that suggests the closest command. */
export function findCommand(name) {
  const command = commandNamed(name);
  if (command) return command;
  throw new UsageError(`spot-keys: unknown command ${JSON.stringify(name)}`, {
    suggestion: didYouMean(name, [...COMMANDS.map((c) => c.name), "help"]),
  });
}

/** The util.parseArgs options of a command: its own and the common ones, without the help fields. */
function specOf(command) {
  const spec = {};
  for (const [name, { type, short, multiple, default: value }] of Object.entries({ ...command.options, ...COMMON })) {
    spec[name] = {
      type,
      ...(short ? { short } : {}),
      ...(multiple ? { multiple } : {}),
      ...(value !== undefined ? { default: value } : {}),
    };
  }
  return spec;
}

/** How the first unknown option was written (`--labl`, `-z`), from a lenient parse of the same arguments. */
function unknownOption(args, spec, err) {
  try {
    const { tokens } = parseArgs({ args, options: spec, allowPositionals: true, strict: false, tokens: true });
    const token = tokens.find((t) => t.kind === "option" && !Object.hasOwn(spec, t.name));
    if (token) return token.rawName;
  } catch {
    // fall back on the message below
  }
  return /'([^']+)'/.exec(err.message)?.[1] ?? "";
}

/**
 * Parses the arguments after the command name.
 * @returns {{ values: Record<string, any>, positionals: string[] }}
 * @throws UsageError for an unknown option (with a suggestion and the usage lines) or a bad value
 */
export function parseCommandArgs(command, args) {
  const spec = specOf(command);
  try {
    return parseArgs({ args, options: spec, allowPositionals: true, strict: true });
  } catch (err) {
    if (err?.code !== "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new UsageError(`spot-keys ${command.name}: ${err.message}`);
    const raw = unknownOption(args, spec, err);
    const long = raw.startsWith("--") ? raw.slice(2).split("=")[0] : null;
    throw new UsageError(`spot-keys ${command.name}: unknown option ${raw}`, {
      suggestion: long ? didYouMean(long, Object.keys(spec), "--") : undefined,
      usage: `Usage:\n${usageBlock(command)}`,
    });
  }
}
