// `npm run audit:tail [-- N] [-- --json]`: the newest N (default 20) rows of the local audit trail
// (D1 table audit_events, migrations/0001_audit_events.sql), oldest first so the newest is at the
// bottom, as a compact table. `--json` prints the rows as JSON instead (nothing truncated). Values are
// escaped for the terminal in both (scripts/lib/terminal-text.mjs).
//
// Reads the same local database `npm start` uses (.wrangler/state), also while it runs.
// Plain ESM, node: builtins only; wrangler is spawned through this same Node (≥ 22).

import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { escapeForTerminal, jsonForTerminal } from "./lib/terminal-text.mjs";
import { runWrangler, WRANGLER } from "./lib/wrangler.mjs";

const DEFAULT_ROWS = 20;
const MAX_ROWS = 10_000;

/** Columns shown, in order, with the width each gets in the table (0: never cut). */
const COLUMNS = [
  ["time", 0],
  ["request_id", 0],
  ["outcome", 0],
  ["reason", 24],
  ["status", 0],
  ["account_id", 24],
  ["key_id", 24],
  ["resolved_version", 0],
  ["method", 0],
  ["path", 40],
  ["connecting_ip", 39],
  ["source_ip", 39],
  ["user_agent", 32],
  ["folded_count", 0],
];

function usage() {
  return "usage: npm run audit:tail [-- N] [-- --json]\n  N       rows to show, newest last (default 20)\n  --json  print the rows as JSON, nothing truncated";
}

function fail(message) {
  console.error(`audit:tail: ${message}`);
  process.exit(1);
}

/** One cell: null as "-", unsafe characters escaped, long values cut with "…" (at a code point boundary). */
function cell(value, width) {
  // Audit values are caller-controlled (path, user agent): control, format and invisible characters
  // (escape sequences, bidi overrides, zero-width characters) are shown escaped, never sent to the
  // terminal (the same escaping as spot-keys).
  const text = value === null || value === undefined ? "-" : escapeForTerminal(value);
  const chars = [...text];
  return width > 0 && chars.length > width ? `${chars.slice(0, width - 1).join("")}…` : text;
}

function printTable(rows) {
  const cells = rows.map((row) => COLUMNS.map(([name, width]) => cell(row[name], width)));
  const widths = COLUMNS.map(([name], i) => Math.max(name.length, ...cells.map((r) => r[i].length)));
  const line = (values) =>
    values
      .map((v, i) => v.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  console.log(line(COLUMNS.map(([name]) => name)));
  console.log(line(widths.map((w) => "─".repeat(w))));
  for (const r of cells) console.log(line(r));
}

async function main() {
  let parsed;
  try {
    parsed = parseArgs({
      options: { json: { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false } },
      allowPositionals: true,
    });
  } catch (err) {
    fail(`${err.message}\n${usage()}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(usage());
    return;
  }
  if (positionals.length > 1) fail(`expected at most one row count\n${usage()}`);
  let limit = DEFAULT_ROWS;
  if (positionals.length === 1) {
    if (!/^\d+$/.test(positionals[0]) || Number(positionals[0]) < 1 || Number(positionals[0]) > MAX_ROWS) {
      fail(`row count must be a whole number from 1 to ${MAX_ROWS}, got "${positionals[0]}"\n${usage()}`);
    }
    limit = Number(positionals[0]);
  }
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 22 || (major === 22 && minor < 12)) {
    fail(`Node ${process.versions.node} is too old for wrangler (needs ≥ 22.12): run it as \`npm run audit:tail\``);
  }
  if (!existsSync(WRANGLER)) fail("node_modules/.bin/wrangler not found: run `npm ci` first");

  const columns = COLUMNS.map(([name]) => name).join(", ");
  // `limit` is a validated integer; nothing else reaches the SQL text.
  const sql =
    `SELECT ${columns} FROM (SELECT ${columns}, time_ms, event_id FROM audit_events ` +
    `ORDER BY time_ms DESC, event_id DESC LIMIT ${limit}) ORDER BY time_ms ASC, event_id ASC`;
  const result = await runWrangler(["d1", "execute", "AUDIT_DB", "--local", "--json", "--command", sql]);
  const output = `${result.stdout}${result.stderr}`.trim();
  if (result.code !== 0) {
    const hint = /no such table/i.test(output)
      ? "\n(the local database has no audit_events table yet: run `npm start` once, it applies the migrations)"
      : "";
    fail(`\`wrangler d1 execute AUDIT_DB --local\` failed (${result.signal ?? `exit code ${result.code}`}):\n${output}${hint}`);
  }
  let rows;
  try {
    rows = JSON.parse(result.stdout)[0].results;
    if (!Array.isArray(rows)) throw new Error("no results array");
  } catch {
    fail(`unexpected output from wrangler:\n${output}`);
  }
  if (values.json) {
    console.log(jsonForTerminal(rows));
    return;
  }
  if (rows.length === 0) {
    console.log("audit_events is empty: send a request to the authorizer (npm start prints a curl), then try again.");
    return;
  }
  printTable(rows);
  console.log(`\n${rows.length} newest row(s) of audit_events (local D1), newest last.`);
}

main().catch((err) => fail(err?.stack ?? String(err)));
