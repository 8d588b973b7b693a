// spot-keys: the commands, in the order of the overall help. Each module exports { name, summary, usage,
// options, example, run }: its help text lives next to its code.

import adminAudit from "./admin-audit.mjs";
import audit from "./audit.mjs";
import create from "./create.mjs";
import importCommand from "./import.mjs";
import list from "./list.mjs";
import resume from "./resume.mjs";
import revoke from "./revoke.mjs";
import rotate from "./rotate.mjs";
import show from "./show.mjs";
import suspend from "./suspend.mjs";
import token from "./token.mjs";
import update from "./update.mjs";

export const COMMANDS = [create, list, show, rotate, revoke, update, suspend, resume, importCommand, token, audit, adminAudit];

/** The command of this name, or undefined. */
export const commandNamed = (name) => COMMANDS.find((command) => command.name === name);
