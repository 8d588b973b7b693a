// `npm run capacity`: what one stored audit event costs D1, measured (README "Audit trail capacity",
// docs/scale.md).
//
//   npm run capacity                     100,000 events per variant, measured every 20,000
//   npm run capacity -- --events 20000   fewer (--step for the interval)
//
// Bundles bench/workers/capacity.ts (the Worker's real queue handler and consumer, realistic events
// from bench/workers/realistic-events.ts) with `wrangler deploy --dry-run`, runs it under Miniflare
// with a D1 migrated from migrations/, and for each schema variant stores the events through the
// consumer in batches of 100 messages × 100 events, reading the database's size from D1 itself
// (`meta.size_after`). Variants:
//
//   v4            the schema of migrations/, event and request ids random UUIDs (today)
//   v7            the same, ids time-ordered UUIDv7
//   v7+key        v7 plus an `archive_object` TEXT column holding an archive object key on every row
//   v7+id         v7 plus an `archive_object` TEXT column holding a 16-character id on every row
//
// The archive column is added with that value as its DEFAULT, so every row the consumer inserts
// stores it (SQLite writes a default into each new row) without a change to the consumer.
//
// Then, on the v4 database: deletes the oldest 20 % with the retention's own delete and stores as many
// again (does the size D1 reports drop, and are the freed pages reused?), and encodes the same events
// as JSON and Parquet (src/audit/archive/parquet.ts) for objects of 100 to 10,000 events.
//
// Output: a table, bench/results/capacity-<time>.json (git-ignored) and, last, one line:
//   capacity: bytes_per_event=<v4> bytes_per_event_v7=<n> … d1_us_per_event=<n> rows_written_per_event=<n> …
//   (D1 time and rows written of the first variant measured)
// Local only: Miniflare on 127.0.0.1, nothing is uploaded.

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildBenchWorker, compatibilityDate } from "./lib/build.mjs";
import { migrationStatements } from "./lib/runtimes.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const RESULTS = join(ROOT, "bench", "results");

const HELP = `usage: npm run capacity [-- options]
  --events N     events stored per variant (default 100000, at most 3000000)
  --step N       events per measurement (default 20000)
  --variants L   comma-separated subset of v4,v7,v7+key,v7+id (default: all)
  -h, --help`;

/** An archive object key as src/audit/archive/layout.ts makes it (its length is what a row would store). */
const SAMPLE_ARCHIVE_KEY = "audit/v1/kind=request/dt=2026-12-06/hour=10/20261206T101502.123Z_20261206T101559.004Z_3fa9c1e2b7d45a60.parquet";
const SAMPLE_ARCHIVE_ID = "3fa9c1e2b7d45a60";

const VARIANTS = [
  { name: "v4", ids: 4, column: null },
  { name: "v7", ids: 7, column: null },
  { name: "v7+key", ids: 7, column: SAMPLE_ARCHIVE_KEY },
  { name: "v7+id", ids: 7, column: SAMPLE_ARCHIVE_ID },
];

/** Events per archive object the Parquet sizes are measured for (a consumer batch holds 100 messages × 1–100 events). */
const PARQUET_OBJECT_EVENTS = [100, 200, 600, 1000, 5000, 10_000];

/** Events per POST /fill (bench/workers/capacity.ts caps a call at this). */
const FILL_MAX = 50_000;

const round = (n, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits;

async function call(base, method, path) {
  const res = await fetch(new URL(path, base), { method, signal: AbortSignal.timeout(600_000) });
  const body = await res.json();
  if (!res.ok || body.error) throw new Error(`${method} ${path} → ${res.status}: ${body.error ?? JSON.stringify(body)}`);
  return body;
}

/** One Miniflare instance with a fresh, migrated D1 (plus the archive column when given). */
async function start(entry, column) {
  const { Miniflare, convertV4MiniflareOptions } = await import(join(ROOT, "node_modules", "miniflare", "dist", "src", "index.js"));
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      cf: false,
      workers: [
        {
          name: "capacity",
          modules: [{ type: "ESModule", path: entry }],
          compatibilityDate: compatibilityDate(ROOT),
          d1Databases: ["AUDIT_DB"],
          r2Buckets: ["AUDIT_ARCHIVE"],
        },
      ],
    }),
  );
  const url = await mf.ready;
  const db = await mf.getD1Database("AUDIT_DB");
  for (const statement of migrationStatements(ROOT)) await db.prepare(statement).run();
  if (column !== null) {
    await db.prepare(`ALTER TABLE audit_events ADD COLUMN archive_object TEXT DEFAULT '${column.replaceAll("'", "''")}'`).run();
  }
  return { url, close: () => mf.dispose() };
}

async function measureVariant(entry, variant, total, step) {
  const { url, close } = await start(entry, variant.column);
  try {
    const empty = (await call(url, "GET", "/size")).size_bytes;
    const points = [];
    let d1Ms = 0;
    let rowsWritten = 0;
    let stored = 0;
    while (stored < total) {
      // One measurement per step, filled in calls of at most FILL_MAX events (the Worker's cap per call).
      const stepEnd = Math.min(total, stored + step);
      while (stored < stepEnd) {
        const count = Math.min(FILL_MAX, stepEnd - stored);
        const r = await call(url, "POST", `/fill?from=${stored}&count=${count}&ids=${variant.ids}&per_message=100`);
        if (r.stored !== count || r.retried > 0) throw new Error(`${variant.name}: stored ${r.stored} of ${count}, ${r.retried} retried`);
        d1Ms += r.d1_ms;
        rowsWritten += r.rows_written;
        stored += count;
      }
      const size = (await call(url, "GET", "/size")).size_bytes;
      const perEvent = round((size - empty) / stored, 1);
      // What the events of this step alone added: the average creeps up, this shows where it goes.
      const previous = points[points.length - 1] ?? { events: 0, size_bytes: empty };
      const marginal = round((size - previous.size_bytes) / (stored - previous.events), 1);
      points.push({ events: stored, size_bytes: size, bytes_per_event: perEvent, step_bytes_per_event: marginal });
      console.error(`  ${variant.name}: ${stored} events, ${size} bytes, ${perEvent} bytes/event (this step: ${marginal})`);
    }
    const last = points[points.length - 1];
    const result = {
      variant: variant.name,
      archive_column_bytes: variant.column?.length ?? 0,
      empty_bytes: empty,
      points,
      bytes_per_event: last.bytes_per_event,
      d1_us_per_event: round((d1Ms * 1000) / total, 1),
      rows_written_per_event: round(rowsWritten / total, 2),
    };
    if (variant.name === "v4") result.reuse = await measureReuse(url, total);
    return result;
  } finally {
    await close();
  }
}

/** Deletes the oldest 20 % with the retention's delete, then stores as many new events. */
async function measureReuse(url, total) {
  const rows = Math.floor(total / 5);
  const trim = await call(url, "POST", `/trim?rows=${rows}`);
  let refilled = 0;
  while (refilled < rows) {
    const count = Math.min(FILL_MAX, rows - refilled);
    await call(url, "POST", `/fill?from=${total + refilled}&count=${count}&ids=4&per_message=100`);
    refilled += count;
  }
  const after = (await call(url, "GET", "/size")).size_bytes;
  return {
    deleted: trim.deleted,
    size_before_delete: trim.size_before,
    size_after_delete: trim.size_after,
    freed_bytes_per_deleted_row: round((trim.size_before - trim.size_after) / trim.deleted, 1),
    delete_statements: trim.statements,
    delete_d1_ms_per_statement: round(trim.d1_ms / trim.statements, 2),
    delete_rows_written_per_row: round(trim.rows_written / trim.deleted, 2),
    refilled,
    size_after_refill: after,
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      events: { type: "string" },
      step: { type: "string" },
      variants: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const total = Math.min(3_000_000, Math.max(1000, Number(values.events ?? 100_000) || 100_000));
  const step = Math.min(total, Math.max(1000, Number(values.step ?? 20_000) || 20_000));
  console.error("capacity: bundling bench/workers/capacity.ts …");
  const entry = await buildBenchWorker(ROOT, join(RESULTS, "build", "capacity"), "capacity");

  const wanted = values.variants?.split(",").map((v) => v.trim()) ?? VARIANTS.map((v) => v.name);
  const unknown = wanted.filter((name) => !VARIANTS.some((v) => v.name === name));
  if (unknown.length > 0) throw new Error(`unknown variant(s): ${unknown.join(", ")}`);
  const variants = [];
  for (const variant of VARIANTS.filter((v) => wanted.includes(v.name))) variants.push(await measureVariant(entry, variant, total, step));

  // Sizes of the same events on the queue and in the archive.
  const { url, close } = await start(entry, null);
  const encodings = [];
  try {
    for (const perObject of PARQUET_OBJECT_EVENTS) encodings.push(await call(url, "GET", `/encode?count=10000&per_object=${perObject}`));
  } finally {
    await close();
  }

  const at = new Date().toISOString().replace(/[:.]/g, "-");
  const summary = { at: new Date().toISOString(), events_per_variant: total, variants, encodings };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, `capacity-${at}.json`), `${JSON.stringify(summary, null, 2)}\n`);

  console.log("\nvariant   archive column   bytes/event at each step → final   D1 µs/event   rows written/event");
  for (const v of variants) {
    console.log(
      `${v.variant.padEnd(9)} ${String(v.archive_column_bytes).padStart(4)} B          ${v.points.map((p) => p.bytes_per_event).join(" → ")}   ${v.d1_us_per_event}   ${v.rows_written_per_event}`,
    );
  }
  const reuse = variants.find((v) => v.reuse)?.reuse;
  if (reuse)
    console.log(
      `\ndelete oldest ${reuse.deleted}: size ${reuse.size_before_delete} → ${reuse.size_after_delete} (${reuse.freed_bytes_per_deleted_row} bytes freed per row, ` +
        `${reuse.delete_d1_ms_per_statement} ms of D1 per 1,000-row statement, ${reuse.delete_rows_written_per_row} rows written per row); ` +
        `stored ${reuse.refilled} again: size ${reuse.size_after_refill}`,
    );
  console.log(
    `encoding: JSON ${round(encodings[0].json_bytes_per_event)} B/event (message of 100: ${round(encodings[0].message_bytes_per_100)} B)`,
  );
  for (const e of encodings) {
    console.log(
      `encoding: Parquet ${round(e.parquet_bytes_per_event, 1)} B/event in objects of ${e.per_object} (${round(e.parquet_bytes_per_object)} B, ${round(e.parquet_encode_ms_per_object, 1)} ms to encode)`,
    );
  }
  const key = (name) => `bytes_per_event${name === "v4" ? "" : `_${name.replace("+", "_")}`}`;
  const first = variants[0];
  console.log(
    `capacity: ${variants.map((v) => `${key(v.variant)}=${v.bytes_per_event}`).join(" ")} d1_us_per_event=${first.d1_us_per_event} ` +
      `rows_written_per_event=${first.rows_written_per_event} json_bytes_per_event=${round(encodings[0].json_bytes_per_event)} ` +
      `parquet_bytes_per_event_10k=${round(encodings[encodings.length - 1].parquet_bytes_per_event, 1)}`,
  );
}

main().catch((err) => {
  console.error(`capacity: ${err.stack ?? err.message}`);
  process.exitCode = 1;
});
