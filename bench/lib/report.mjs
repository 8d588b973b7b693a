// Aggregation, targets, cost model and the printed report of `npm run bench`.

/** Median of finite numbers (null when there are none). */
export function median(values) {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = Math.floor(xs.length / 2);
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

export const round = (value, digits = 2) => (value === null || !Number.isFinite(value) ? null : Number(value.toFixed(digits)));

/**
 * Cloudflare's published prices (USD) used by the cost model, beyond each plan's included usage.
 * Source: developers.cloudflare.com pricing pages for Workers, Workers KV, Queues and D1, as read on
 * 2026-11-30 (see README "Benchmark"). Update the date and figures together.
 */
export const PRICES = {
  as_of: "2026-11-30",
  workers_per_million_requests: 0.3,
  workers_per_million_cpu_ms: 0.02,
  kv_per_million_reads: 0.5,
  queues_per_million_operations: 0.4,
  /** A message of up to 64 KB is written, read and deleted: 3 billed operations. */
  queues_operations_per_message: 3,
  d1_per_million_rows_written: 1.0,
};

/**
 * D1 rows written per stored request event: the row and its 7 index entries (`meta.rows_written`,
 * measured by `npm run capacity`); D1 bills each (https://developers.cloudflare.com/d1/platform/pricing/).
 */
export const D1_ROWS_WRITTEN_PER_EVENT = 8;

/**
 * Marginal cost per million requests of the authorizer (beyond included usage).
 * @param {{ cpu_us_per_req: number, kv_reads_per_req: number, sends_per_req: number, events_per_req: number }} m
 *        worker CPU µs per request, KV reads, queue messages and audit events (D1 rows) per request
 * @returns {{ line: string, per_million_usd: number }[]} lines plus a total line
 */
export function costModel(m) {
  const lines = [
    { line: "Workers requests", per_million_usd: PRICES.workers_per_million_requests },
    {
      line: `Workers CPU (${round(m.cpu_us_per_req / 1000, 3)} ms/request)`,
      per_million_usd: (m.cpu_us_per_req / 1000) * PRICES.workers_per_million_cpu_ms,
    },
    { line: `KV reads (${round(m.kv_reads_per_req, 4)}/request)`, per_million_usd: m.kv_reads_per_req * PRICES.kv_per_million_reads },
    {
      line: `Queues (${round(m.sends_per_req, 3)} messages/request × ${PRICES.queues_operations_per_message} operations)`,
      per_million_usd: m.sends_per_req * PRICES.queues_operations_per_message * PRICES.queues_per_million_operations,
    },
    {
      line: `D1 audit rows (${round(m.events_per_req, 2)}/request, ${D1_ROWS_WRITTEN_PER_EVENT} rows written each: the row and its index entries)`,
      per_million_usd: m.events_per_req * D1_ROWS_WRITTEN_PER_EVENT * PRICES.d1_per_million_rows_written,
    },
  ];
  const total = lines.reduce((sum, l) => sum + l.per_million_usd, 0);
  return [
    ...lines.map((l) => ({ ...l, per_million_usd: round(l.per_million_usd, 4) })),
    { line: "total", per_million_usd: round(total, 4) },
  ];
}

/**
 * The targets of issues 3 and 16, judged on a run's summary. The throughput targets are set against
 * the `minimal` reference Worker (the contract's own work, the floor); the older ones set against the
 * bare pass-through baseline for the hot arms (ratio ≥ 0.97, ≤ 10 µs extra CPU, hot ≥ 0.90) assumed a
 * request path without the signature and header rebuild the contract asks for: they are still shown,
 * marked retired, never judged.
 * @returns {{ target: string, value: string, met: boolean | null, retired?: true }[]} met null: not measured
 */
export function judgeTargets(summary, mode) {
  const arm = (id) => summary.arms[id] ?? {};
  const t = [];
  // A value that was not measured (arm not run) is "n/a", never a miss.
  const add = (target, value, met) => t.push({ target, value, met: /undefined|null/.test(value) ? null : met });
  const retired = (target, value) => t.push({ target, value, met: null, retired: true });
  add("hot ≥ 0.90 × minimal (hot_vs_minimal)", `${arm("hot").vs_min}`, arm("hot").vs_min >= 0.9);
  add("hot_noaudit ≥ 0.90 × minimal (hot_noaudit_vs_minimal)", `${arm("hot_noaudit").vs_min}`, arm("hot_noaudit").vs_min >= 0.9);
  add("sends_per_req ≤ 0.05 under load (hot)", `${arm("hot").sends_per_req}`, arm("hot").sends_per_req <= 0.05);
  add("kv_reads_per_req ≤ 0.01 (hot)", `${arm("hot").kv_reads_per_req}`, arm("hot").kv_reads_per_req <= 0.01);
  const gz = summary.bundle?.gzip_kib ?? null;
  add("bundle_gzip_kib ≤ 150", `${gz} KiB`, gz === null ? null : gz <= 150);
  const slow = summary.slow_rounds ?? null;
  add(`slow rounds = 0 (CPU/req > 1.3 × the arm's lowest round)`, `${slow}`, slow === 0);
  add("revocation feed reads per hot request ≤ 0.001", `${arm("hot").feed_reads_per_req}`, arm("hot").feed_reads_per_req <= 0.001);
  add("hot requests that waited for the feed ≤ 0.001", `${arm("hot").feed_waits_per_req}`, arm("hot").feed_waits_per_req <= 0.001);
  add("kv arm reads KV on every request (guard)", `${arm("kv").kv_reads_per_req}`, arm("kv").kv_reads_per_req >= 0.99);
  add("wrong secret ≥ 1.5 × baseline throughput", `${arm("reject").ratio}`, arm("reject").ratio >= 1.5);
  add("malformed header ≥ 1.5 × baseline throughput", `${arm("malformed").ratio}`, arm("malformed").ratio >= 1.5);
  const added = summary.unloaded?.added_p50_us ?? null;
  add("unloaded added p50 ≤ 50 µs (hot)", `${added} µs`, added === null ? null : added <= 50);
  const hot = summary.micro?.hot_path_ns ?? null;
  add("micro: whole hot path ≤ 10 µs", `${hot === null ? null : round(hot / 1000, 2)} µs`, hot === null ? null : hot <= 10_000);
  retired(
    mode === "lean" ? "hot_noaudit ratio ≥ 0.90 vs baseline (lean)" : "hot_noaudit ratio ≥ 0.97 vs baseline",
    `${arm("hot_noaudit").ratio}`,
  );
  retired("hot_noaudit extra worker CPU ≤ 10 µs/request vs baseline", `${arm("hot_noaudit").cpu_delta_us} µs`);
  retired("hot (with audit) ratio ≥ 0.90 vs baseline", `${arm("hot").ratio}`);
  return t;
}

function pad(text, width, right = false) {
  const s = String(text ?? "–");
  return right ? s.padStart(width) : s.padEnd(width);
}

/** A plain-text table: `columns` = [{ title, key, right? }], rows = objects. */
export function table(columns, rows) {
  const widths = columns.map((c) => Math.max(c.title.length, ...rows.map((r) => String(r[c.key] ?? "–").length)));
  const line = (cells) => cells.map((cell, i) => pad(cell, widths[i], columns[i].right)).join("  ");
  return [
    line(columns.map((c) => c.title)),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.map((r) => line(columns.map((c) => r[c.key]))),
  ].join("\n");
}

/** The same table in Markdown (for the README). */
export function markdownTable(columns, rows) {
  const head = `| ${columns.map((c) => c.title).join(" | ")} |`;
  const sep = `|${columns.map((c) => (c.right ? "---:" : "---")).join("|")}|`;
  return [head, sep, ...rows.map((r) => `| ${columns.map((c) => String(r[c.key] ?? "–")).join(" | ")} |`)].join("\n");
}

export const ARM_COLUMNS = [
  { title: "arm", key: "id" },
  { title: "status", key: "status" },
  { title: "req/s", key: "rps", right: true },
  { title: "ratio", key: "ratio", right: true },
  { title: "vs_min", key: "vs_min", right: true },
  { title: "p50 ms", key: "p50_ms", right: true },
  { title: "p99 ms", key: "p99_ms", right: true },
  { title: "CPU µs/req", key: "cpu_us_per_req", right: true },
  { title: "ΔCPU µs", key: "cpu_delta_us", right: true },
  { title: "KV/req", key: "kv_reads_per_req", right: true },
  { title: "sends/req", key: "sends_per_req", right: true },
  { title: "feed/req", key: "feed_reads_per_req", right: true },
  { title: "slow", key: "slow_rounds", right: true },
  { title: "non-2xx", key: "non2xx", right: true },
  { title: "sock err", key: "socket_errors", right: true },
];

export const MICRO_COLUMNS = [
  { title: "piece", key: "op" },
  { title: "ns/op", key: "ns_per_op", right: true },
  { title: "what", key: "what" },
];

/** The last line of every run, for scripts. */
export function benchLine(summary) {
  const a = (id, key) => summary.arms[id]?.[key] ?? "na";
  const fields = [
    ["hot", a("hot", "ratio")],
    ["hot_noaudit", a("hot_noaudit", "ratio")],
    ["kv", a("kv", "ratio")],
    ["reject", a("reject", "ratio")],
    ["malformed", a("malformed", "ratio")],
    ["hot_cpu_delta_us", a("hot", "cpu_delta_us")],
    ["kv_reads_per_req", a("hot", "kv_reads_per_req")],
    ["sends_per_req", a("hot", "sends_per_req")],
    ["bundle_gzip_kib", summary.bundle?.gzip_kib ?? "na"],
    // Beyond the issue's list: the attribution arm's CPU delta, and which runtime produced the line.
    ["hot_noaudit_cpu_delta_us", a("hot_noaudit", "cpu_delta_us")],
    ["feed_reads_per_req", a("hot", "feed_reads_per_req")],
    // Issue 16: against the floor (the minimal reference Worker), the typical peer, start-up, stability.
    ["hot_vs_minimal", a("hot", "vs_min")],
    ["hot_noaudit_vs_minimal", a("hot_noaudit", "vs_min")],
    ["peer_vs_minimal", a("peer", "vs_min")],
    ["cold_start_ms", summary.cold_start?.extra_cpu_ms ?? "na"],
    ["slow_rounds", summary.slow_rounds ?? "na"],
    ["mode", summary.mode],
  ];
  return `bench: ${fields.map(([k, v]) => `${k}=${v}`).join(" ")}`;
}
