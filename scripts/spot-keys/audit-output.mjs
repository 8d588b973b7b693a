// spot-keys: human output of the audit trail: the tables of `audit` and `admin-audit` searches and the
// field-by-field view of one request event. Every cell is escaped (docs/cli.md "Output of server text").

import { escapeForTerminal as esc } from "../lib/terminal-text.mjs";
import { dim } from "./output.mjs";

/** `2026-11-30T14:00:00.123Z` → `2026-11-30 14:00:00.123`. */
const utc = (iso) =>
  String(iso ?? "")
    .replace("T", " ")
    .replace(/Z$/, "");

/**
 * Prints rows as columns sized to their content (each capped); every cell is escaped, then a longer
 * one is cut with `…` (at a code point boundary).
 */
function printTable(headers, rows, caps) {
  const cut = (text, max) => {
    const chars = [...text];
    return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : text;
  };
  const cells = rows.map((row) => row.map((cell, i) => cut(esc(cell ?? "—"), caps[i] ?? 80)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const line = (row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  console.log(dim(line(headers)));
  for (const row of cells) console.log(line(row));
}

function eventRow(e, wouldRefuse) {
  const source = e.source_ip ? `${e.source_ip}${e.source_ip_asserted ? "*" : ""}` : "—";
  return [
    utc(e.time),
    e.folded_count ? `${e.outcome}×${e.folded_count}` : e.outcome,
    e.status,
    e.reason,
    ...(wouldRefuse ? [e.would_refuse ?? "—"] : []),
    e.account_id ? `${e.account_id}${e.account_verified ? "" : "?"}` : "—",
    e.key_id ?? "—",
    e.connecting_ip ?? "—",
    source,
    `${e.method} ${e.path}`,
    e.request_id,
  ];
}

export function printEvents(events) {
  if (events.length === 0) {
    console.log("No audit events match.");
    return;
  }
  // Report-only mode's mark gets a column only when an event of the page has one.
  const wouldRefuse = events.some((e) => e.would_refuse);
  printTable(
    [
      "TIME (UTC)",
      "OUTCOME",
      "STATUS",
      "REASON",
      ...(wouldRefuse ? ["WOULD REFUSE"] : []),
      "ACCOUNT",
      "KEY",
      "CONNECTING IP",
      "SOURCE IP",
      "REQUEST",
      "REQUEST ID",
    ],
    events.map((e) => eventRow(e, wouldRefuse)),
    [23, 16, 3, 24, ...(wouldRefuse ? [24] : []), 28, 24, 39, 40, 48, 128],
  );
  if (events.some((e) => e.source_ip_asserted || (e.account_id && !e.account_verified)))
    console.log(dim("* asserted by X-Forwarded-For, not observed · ? account as claimed, not verified"));
}

export function printAdminEvents(events) {
  if (events.length === 0) {
    console.log("No admin events match.");
    return;
  }
  printTable(
    ["TIME (UTC)", "ACTION", "OUTCOME", "STATUS", "REASON", "ACTOR", "ACCOUNT", "KEY", "QUERY", "REQUEST ID"],
    events.map((e) => [
      utc(e.time),
      e.action,
      e.outcome,
      e.status,
      e.reason,
      e.actor_sub ?? "—",
      e.account_id ?? "—",
      e.new_key_id ? `${e.key_id} → ${e.new_key_id}` : (e.key_id ?? "—"),
      e.query ?? "—",
      e.request_id,
    ]),
    [23, 18, 7, 3, 24, 32, 28, 48, 60, 128],
  );
}

/** Where a looked-up event was read (`source` of the answer; absent from servers before the archive). */
const SOURCE_TEXT = {
  d1: "D1 (the searchable trail of recent events)",
  archive: "archive (R2, Parquet: the event has left D1)",
};

export function showEvent(e, source) {
  const chain = e.forwarded_chain.map((entry) =>
    entry.valid ? entry.ip + (entry.port ? `:${entry.port}` : "") : `${entry.raw} (invalid)`,
  );
  const rows = [
    ["request id", e.request_id],
    ["time", `${e.time}  (${e.duration_ms} ms)`],
    ["outcome", `${e.outcome}${e.folded_count ? ` ×${e.folded_count} (folded flood)` : ""}  ${e.status} ${e.reason}`],
    ...(e.would_refuse ? [["would refuse", `${e.would_refuse} (report-only: forwarded anyway, docs/operations.md)`]] : []),
    ["account", e.account_id ? `${e.account_id} (${e.account_verified ? "verified" : "claimed, not verified"})` : "—"],
    ["key", e.key_id ? `${e.key_id} (${e.mode})` : "—"],
    ["request", `${e.method} ${e.host}${e.path}${e.path_length > e.path.length ? " …" : ""}`],
    ["version", `${e.resolved_version ?? "—"}${e.requested_version ? ` (asked: ${e.requested_version})` : " (default)"}`],
    ["origin", e.origin ?? "—"],
    ["connecting ip", `${e.connecting_ip ?? "—"}  (observed by Cloudflare)`],
    ["source ip", `${e.source_ip ?? "—"}  (${e.source_ip_asserted ? "asserted by X-Forwarded-For" : e.source_ip_from})`],
  ];
  if (e.forwarded_for !== null)
    rows.push(["forwarded", `${chain.join(", ")}${e.forwarded_count > chain.length ? ` … (${e.forwarded_count} entries)` : ""}`]);
  rows.push(["user agent", e.user_agent ?? "—"]);
  rows.push(["edge", `${e.colo ?? "—"} ${e.country ?? ""}  ray ${e.ray_id ?? "—"}`.trimEnd()]);
  if (e.forged_headers_count > 0) rows.push(["forged headers", e.forged_headers.join(", ")]);
  if (e.truncated) rows.push(["truncated", "yes: some values were cut (see the *_length fields with --json)"]);
  rows.push(["event id", e.event_id]);
  if (source !== undefined) rows.push(["read from", SOURCE_TEXT[source] ?? source]);
  return rows.map(([name, value]) => `  ${name.padEnd(15)}${esc(value)}`).join("\n");
}
