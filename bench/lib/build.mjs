// Bundles for `npm run bench`, all made by `wrangler deploy --dry-run --outdir` (never uploaded), so
// the authorizer, the baseline and the micro-benchmark are bundled exactly the way a deploy would:
//
//   production   the project's wrangler.toml, nothing added: its size is the bundle size reported,
//                and it must not contain the debug counters (src/debug/counters.ts)
//   audit        the audit Worker, wrangler.audit.toml as it is (src/audit-worker.ts: the queue consumer
//                and the retention cron): its size is reported next to it, and Miniflare runs it next
//                to each authorizer target to consume the audit queue
//   authorizer   the same plus --define __SPOT_DEBUG_COUNTERS__:spotDebugCounters (counters route on)
//   noaudit      the authorizer with src/audit/producer.ts replaced by bench/workers/noop-producer.ts
//   baseline     bench/workers/baseline.ts, a bare Hono pass-through
//   minimal      bench/workers/minimal.ts, the contract's essential work without a framework (the floor)
//   peer         bench/workers/peer.ts, Hono + a KV read + a queue send per request (a typical peer)
//   micro        bench/workers/micro.ts, the in-workerd micro-benchmark

import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

/** The reserved path of the counters route and the name its define binds to (src/debug/counters.ts). */
export const DEBUG_COUNTERS_PATH = "/__spot/debug/counters";
const DEBUG_DEFINE = "__SPOT_DEBUG_COUNTERS__:spotDebugCounters";

/** Environment for every wrangler command: no telemetry, no update check, no network. */
export function wranglerEnv(nodeBinDir) {
  return {
    ...process.env,
    PATH: `${nodeBinDir}:${process.env.PATH ?? ""}`,
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_SEND_ERROR_REPORTS: "false",
    WRANGLER_HIDE_BANNER: "true",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    CI: "true",
  };
}

/** The compatibility date of wrangler.toml (the baseline and the micro Worker use the same). */
export function compatibilityDate(root) {
  const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
  const match = /^\s*compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"/m.exec(toml);
  if (!match) throw new Error("wrangler.toml has no compatibility_date");
  return match[1];
}

/**
 * The compatibility flags of wrangler.toml (a one-line `compatibility_flags = ["…", …]`), given to
 * every bench and runtime-test Worker so they run as production does.
 * @returns {string[]} flag names; empty when there is no such line
 */
export function compatibilityFlags(root) {
  const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
  const match = /^\s*compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml);
  if (!match) return [];
  return [...match[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]);
}

function wrangler(root, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, "node_modules", "wrangler", "bin", "wrangler.js"), ...args], {
      cwd: root,
      env: wranglerEnv(join(root, "node_modules", ".bin")),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d) => {
      output += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`wrangler ${args.join(" ")} failed (${signal ?? `exit ${code}`}):\n${output.trim()}`));
    });
  });
}

/** The bench-only Workers of bench/workers/ that buildAll bundles, each as <name>.js. */
const BENCH_WORKERS = ["baseline", "minimal", "peer", "micro"];

/** A minimal wrangler config for a bench-only Worker (written under the build folder, git-ignored). */
function benchConfig(buildDir, name, main, date) {
  const path = join(buildDir, `${name}.wrangler.toml`);
  writeFileSync(path, `name = "spot-bench-${name}"\nmain = ${JSON.stringify(main)}\ncompatibility_date = "${date}"\n`);
  return path;
}

/**
 * Builds one bench-only Worker (a module of bench/workers/) as `wrangler deploy` would bundle it.
 * @param {string} root project root
 * @param {string} outDir output folder (emptied first)
 * @param {string} name the Worker's name (its entry module is bench/workers/<name>.ts)
 * @returns {Promise<string>} path of the bundle's entry module
 */
export async function buildBenchWorker(root, outDir, name) {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const config = benchConfig(outDir, name, join(root, "bench", "workers", `${name}.ts`), compatibilityDate(root));
  await wrangler(root, ["deploy", "--dry-run", "--outdir", outDir, "--config", config]);
  const entry = join(outDir, `${name}.js`);
  readFileSync(entry); // throws when wrangler named it otherwise
  return entry;
}

/**
 * Builds the production bundle alone, as `wrangler deploy` would (test/runtime/ runs it on plain workerd).
 * @param {string} root project root
 * @param {string} outDir output folder (emptied first)
 * @returns {Promise<string>} path of the bundle's entry module
 */
export async function buildProduction(root, outDir) {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  await wrangler(root, ["deploy", "--dry-run", "--outdir", outDir]);
  const entry = join(outDir, "index.js");
  readFileSync(entry); // throws when wrangler named it otherwise
  return entry;
}

/**
 * Builds every bundle (two wrangler processes at a time).
 * @param {string} root project root
 * @param {string} buildDir output folder (emptied first)
 * @returns {Promise<{ production: string, audit: string, authorizer: string, noaudit: string, baseline: string,
 *          minimal: string, peer: string, micro: string }>} path of each bundle's entry module (index.js,
 *          audit-worker.js, or <name>.js of a bench Worker)
 */
export async function buildAll(root, buildDir, { readable = false } = {}) {
  rmSync(buildDir, { recursive: true, force: true });
  mkdirSync(buildDir, { recursive: true });
  const date = compatibilityDate(root);
  const out = (name) => join(buildDir, name);
  // wrangler.toml minifies (production); a CPU profile needs readable code to name source modules.
  const keep = readable ? ["--minify=false"] : [];
  const jobs = [
    ["production", ["deploy", "--dry-run", "--outdir", out("production"), "--metafile"]],
    ["audit", ["deploy", "--dry-run", "--outdir", out("audit"), "--config", join(root, "wrangler.audit.toml")]],
    ["authorizer", ["deploy", "--dry-run", "--outdir", out("authorizer"), "--define", DEBUG_DEFINE, ...keep]],
    [
      "noaudit",
      [
        "deploy",
        "--dry-run",
        "--outdir",
        out("noaudit"),
        "--define",
        DEBUG_DEFINE,
        "--alias",
        "../audit/producer:./bench/workers/noop-producer.ts",
        ...keep,
      ],
    ],
    ...BENCH_WORKERS.map((name) => [
      name,
      [
        "deploy",
        "--dry-run",
        "--outdir",
        out(name),
        "--config",
        benchConfig(buildDir, name, join(root, "bench", "workers", `${name}.ts`), date),
      ],
    ]),
  ];
  const entries = {};
  const queue = [...jobs];
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const [name, args] = job;
      await wrangler(root, args);
      const file = BENCH_WORKERS.includes(name) ? `${name}.js` : name === "audit" ? "audit-worker.js" : "index.js";
      entries[name] = join(out(name), file);
      readFileSync(entries[name]); // throws when wrangler named it otherwise
    }
  };
  await Promise.all([worker(), worker()]);
  checkCounters(entries);
  return entries;
}

/** The production bundle must not contain the counters; the bench builds must. */
function checkCounters(entries) {
  const has = (name) => {
    const text = readFileSync(entries[name], "utf8");
    return text.includes(DEBUG_COUNTERS_PATH) || text.includes("spotDebugCounters");
  };
  if (has("production")) {
    throw new Error("the production bundle contains the debug counters (src/debug/counters.ts): it must not");
  }
  for (const name of ["authorizer", "noaudit"]) {
    if (!has(name)) throw new Error(`the ${name} bench build has no debug counters: the __SPOT_DEBUG_COUNTERS__ define did not apply`);
  }
  const noaudit = readFileSync(entries.noaudit, "utf8");
  if (noaudit.includes("audit_send_failed"))
    throw new Error("the noaudit build still contains src/audit/producer.ts: the --alias did not apply");
}

/**
 * Size of the production bundle (the entry module; the source map is not uploaded as code).
 * @returns {{ raw_bytes: number, gzip_bytes: number, raw_kib: number, gzip_kib: number }}
 */
export function bundleSize(entry) {
  const bytes = readFileSync(entry);
  const gz = gzipSync(bytes).length; // zlib default level, as wrangler reports it
  return {
    raw_bytes: bytes.length,
    gzip_bytes: gz,
    raw_kib: Math.round((bytes.length / 1024) * 10) / 10,
    gzip_kib: Math.round((gz / 1024) * 10) / 10,
  };
}

/**
 * The largest inputs of the production bundle, from esbuild's metafile when wrangler wrote one.
 * @returns {{ path: string, bytes: number }[]} at most `n`, largest first, grouped by package
 */
export function largestInputs(buildDir, n = 6) {
  let meta;
  try {
    meta = JSON.parse(readFileSync(join(buildDir, "production", "bundle-meta.json"), "utf8"));
  } catch {
    return [];
  }
  const byGroup = new Map();
  for (const output of Object.values(meta.outputs ?? {})) {
    for (const [path, info] of Object.entries(output.inputs ?? {})) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
      const group = m ? m[1] : path.startsWith("src/") ? "src/ (ours)" : path;
      byGroup.set(group, (byGroup.get(group) ?? 0) + info.bytesInOutput);
    }
  }
  return [...byGroup.entries()]
    .map(([path, bytes]) => ({ path, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, n);
}
