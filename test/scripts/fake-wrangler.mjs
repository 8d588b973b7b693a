// A stand-in for wrangler in the provision/preflight tests (SPOT_WRANGLER=this file): no account, no
// network. Keeps the account's resources in SPOT_FAKE_STATE (JSON), appends every command to
// SPOT_FAKE_LOG (one JSON line: the arguments and, for `secret put`, the value read from stdin, so a
// test can check it never shows anywhere else), and answers in wrangler's own output formats.

import { randomBytes, randomUUID } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";

const statePath = process.env.SPOT_FAKE_STATE;
const logPath = process.env.SPOT_FAKE_LOG;
for (const [name, value] of [
  ["SPOT_FAKE_STATE", statePath],
  ["SPOT_FAKE_LOG", logPath],
]) {
  if (!value) {
    process.stderr.write(
      `fake wrangler: set ${name} to a file path (the stand-in account's ${name === "SPOT_FAKE_STATE" ? "state, JSON" : "command log"})\n`,
    );
    process.exit(2);
  }
}
const state = existsSync(statePath)
  ? JSON.parse(readFileSync(statePath, "utf8"))
  : { kv: [], d1: [], queues: [], buckets: [], secrets: {}, failSecretList: false };
const args = process.argv.slice(2).filter((arg, i, all) => arg !== "--config" && all[i - 1] !== "--config");
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const stdin = () => (process.stdin.isTTY ? "" : readFileSync(0, "utf8"));
const save = () => writeFileSync(statePath, JSON.stringify(state));
const command = args
  .filter((a) => !a.startsWith("--"))
  .slice(0, 3)
  .join(" ");
// The config's file name too (not in args): which Worker a deploy was for.
const configArg = process.argv.slice(2).find((_arg, i, all) => all[i - 1] === "--config");
const entry = { args, ...(configArg ? { config: basename(configArg) } : {}) };

function answer() {
  if (command.startsWith("kv namespace list")) return JSON.stringify(state.kv);
  if (command.startsWith("kv namespace create")) {
    state.kv.push({ id: randomBytes(16).toString("hex"), title: args[3] });
    return `Creating namespace with title "${args[3]}"\nSuccess!`;
  }
  if (command.startsWith("d1 list")) return JSON.stringify(state.d1);
  if (command.startsWith("d1 create")) {
    state.d1.push({ uuid: randomUUID(), name: args[2] });
    return `Successfully created DB '${args[2]}'`;
  }
  if (command.startsWith("d1 migrations apply")) return "Migrations applied";
  if (command.startsWith("queues list")) {
    const rows = state.queues.map((name) => `│ ${randomBytes(16).toString("hex")} │ ${name} │ 2026-01-01 │ 2026-01-01 │ 0 │ 0 │`);
    return [
      "┌─┬─┬─┬─┬─┬─┐",
      "│ id │ name │ created_on │ modified_on │ producers │ consumers │",
      "├─┼─┼─┼─┼─┼─┤",
      ...rows,
      "└─┴─┴─┴─┴─┴─┘",
    ].join("\n");
  }
  if (command.startsWith("queues info")) {
    // Only the lines the deploy script reads; `consumers`: queue name → Worker names.
    const consumers = state.consumers?.[args[2]] ?? [];
    return [
      `Queue Name: ${args[2]}`,
      `Number of Consumers: ${consumers.length}`,
      ...(consumers.length > 0 ? [`Consumers: ${consumers.map((c) => `worker:${c}`).toString()}`] : []),
    ].join("\n");
  }
  if (command.startsWith("queues consumer remove")) {
    state.consumers[args[3]] = state.consumers[args[3]].filter((c) => c !== args[4]);
    return `Removed consumer from queue ${args[3]}.`;
  }
  if (command.startsWith("queues create")) {
    state.queues.push(args[2]);
    return `Created queue ${args[2]}.`;
  }
  if (command.startsWith("r2 bucket list"))
    return `Listing buckets...\n${state.buckets.map((n) => `name:           ${n}\ncreation_date:  2026-01-01T00:00:00.000Z`).join("\n\n")}`;
  if (command.startsWith("r2 bucket create")) {
    state.buckets.push(args[3]);
    return `Created bucket '${args[3]}'`;
  }
  if (command.startsWith("secret list")) {
    if (state.failSecretList) throw new Error("Authentication error [code: 10000]");
    return JSON.stringify(Object.keys(state.secrets[option("--env")] ?? {}).map((name) => ({ name, type: "secret_text" })));
  }
  if (command.startsWith("secret put")) {
    const value = stdin();
    entry.stdin = value;
    state.secrets[option("--env")] = { ...(state.secrets[option("--env")] ?? {}), [args[2]]: true };
    return `Success! Uploaded secret ${args[2]}`;
  }
  if (command.startsWith("deploy")) return "Deployed (fake)";
  throw new Error(`fake wrangler: unknown command ${args.join(" ")}`);
}

try {
  const out = answer();
  appendFileSync(logPath, `${JSON.stringify(entry)}\n`);
  save();
  process.stdout.write(`${out}\n`);
} catch (err) {
  appendFileSync(logPath, `${JSON.stringify(entry)}\n`);
  process.stderr.write(`✘ ${err.message}\n`);
  process.exit(1);
}
