// spot-keys import --file: the bulk mode of `import` (docs/cli.md "Bulk import"): a dry run, or the run
// and its summary (human or --json). The engine is ../bulk-import.mjs; never a secret in the output.

import { basename } from "node:path";
import { lineName, parseImportFile } from "../../lib/import-file.mjs";
import { escapeForTerminal as esc, jsonForTerminal } from "../../lib/terminal-text.mjs";
import { importEntries, importProgress, readImportFile } from "../bulk-import.mjs";
import { connection } from "../connection.mjs";
import { EXIT, exitCodeOf, UsageError } from "../errors.mjs";
import { red, yellow } from "../output.mjs";
import { noPositionals } from "../values.mjs";

const failedLines = (list) => list.map((x) => `  ${lineName(x)}: ${esc(x.reason)}`).join("\n");

function printDryRun(name, { entries, invalid, lines }, json) {
  if (json) {
    const wouldImport = entries.map((e) => ({
      line: e.line,
      account_id: e.account,
      mode: e.mode,
      secret_hint: e.hint,
      label: e.body.label ?? null,
    }));
    const failed = invalid.map((x) => ({ line: x.line, secret_hint: x.hint, reason: x.reason }));
    console.log(jsonForTerminal({ dry_run: true, lines, would_import: wouldImport, failed }));
    return;
  }
  console.log(`Dry run of ${esc(name)}: nothing is sent.`);
  for (const e of entries) {
    console.log(
      `  line ${String(e.line).padEnd(6)}${esc(e.account).padEnd(24)}${e.mode.padEnd(5)} ${(e.hint ? `…${e.hint}` : "—").padEnd(6)}${e.body.label ? ` "${esc(e.body.label)}"` : ""}`,
    );
  }
  const accounts = new Set(entries.map((e) => e.account)).size;
  console.log(
    `Would import ${entries.length} key(s) to ${accounts} account(s) (lines already imported to the same account count as already present); ${invalid.length} line(s) invalid.`,
  );
  if (invalid.length > 0) console.log(`Invalid:\n${failedLines(invalid)}`);
}

/** Sorts the results of a run into imported, already present, failed (invalid lines too) and not done. */
function sortResults(entries, invalid, results) {
  const sorted = { imported: [], already: [], failed: [...invalid], notAttempted: [] };
  entries.forEach((entry, i) => {
    const result = results[i];
    if (result === null) sorted.notAttempted.push(entry);
    else if (result.outcome === "imported") sorted.imported.push({ ...entry, key: result.key });
    else if (result.outcome === "already") sorted.already.push(entry);
    else sorted.failed.push({ line: entry.line, hint: entry.hint, reason: result.reason });
  });
  sorted.failed.sort((a, b) => a.line - b.line);
  return sorted;
}

function summaryJson(lines, { imported, already, failed, notAttempted }, stopped) {
  return {
    dry_run: false,
    lines,
    imported: imported.map((x) => ({
      line: x.line,
      account_id: x.account,
      key_id: x.key?.key_id ?? null,
      secret_hint: x.hint,
      kv_sync: x.key?.kv_sync ?? null,
    })),
    already_present: already.map((x) => ({ line: x.line, account_id: x.account, secret_hint: x.hint })),
    failed: failed.map((x) => ({ line: x.line, secret_hint: x.hint, reason: x.reason })),
    not_done: notAttempted.map((x) => x.line),
    stopped: stopped
      ? { status: stopped.status, code: stopped.code ?? (stopped.kind === "network" ? "network_error" : null), message: stopped.message }
      : null,
  };
}

export async function importFile(values, positionals) {
  noPositionals(positionals);
  for (const option of ["account", "label", "expires-at"]) {
    if (values[option] !== undefined) throw new UsageError(`--${option} does not go with --file: each line gives its own`);
  }
  const path = values.file;
  const name = basename(path);
  const parsed = await parseImportFile(readImportFile(path));
  const { entries, invalid, lines } = parsed;
  if (lines === 0) throw new UsageError(`--file ${path}: no lines to import`);

  if (values["dry-run"]) {
    printDryRun(name, parsed, values.json);
    return invalid.length > 0 ? EXIT.someFailed : EXIT.ok;
  }

  const conn = await connection();
  const counts = { done: invalid.length, imported: 0, already: 0, failed: invalid.length };
  const progress = importProgress(lines);
  progress.update(counts);
  const { results, stopped } = await importEntries(conn, entries, (result) => {
    counts.done++;
    if (result.outcome === "imported") counts.imported++;
    else if (result.outcome === "already") counts.already++;
    else counts.failed++;
    progress.update(counts);
  });
  progress.finish();

  const sorted = sortResults(entries, invalid, results);
  const { imported, already, failed, notAttempted } = sorted;
  if (values.json) {
    console.log(jsonForTerminal(summaryJson(lines, sorted, stopped)));
    if (stopped) return exitCodeOf(stopped);
    return failed.length > 0 ? EXIT.someFailed : EXIT.ok;
  }
  console.log(
    `${esc(name)}: imported ${imported.length}, already present ${already.length}, failed ${failed.length}` +
      `${notAttempted.length > 0 ? `, not done ${notAttempted.length}` : ""} (of ${lines} lines).`,
  );
  if (failed.length > 0) console.log(`Failed:\n${failedLines(failed)}`);
  const syncFailed = imported.filter((x) => x.key?.kv_sync === "failed");
  if (syncFailed.length > 0) {
    console.error(
      red(
        `! KV refused the edge lookup record of ${syncFailed.map((x) => `${esc(x.key.key_id)} (${lineName(x)})`).join(", ")} for good: ` +
          "such a key does not authenticate. Revoke it and give its client a new key (a revoked secret cannot be imported again).",
      ),
    );
  }
  if (stopped) {
    console.error(
      yellow(
        `! Stopped: ${notAttempted.length} line(s) not done. Run the same command again once fixed: lines already imported count as already present.`,
      ),
    );
    throw stopped;
  }
  return failed.length > 0 ? EXIT.someFailed : EXIT.ok;
}
