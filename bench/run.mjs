// `npm run bench`: the edge authorizer against a bare pass-through Worker and against two reference
// Workers of our own, the floor (`minimal`) and a typical peer (`peer`), side by side, in one run
// (issues 3 and 16; docs/benchmark.md). Every Worker arm runs on a fresh workerd process per round.
//
//   npm run bench                 5 interleaved rounds × 8 s per arm, Miniflare (about 8 minutes)
//   npm run bench -- --quick      3 rounds × 5 s
//   npm run bench -- --lean       plain `workerd serve` with stub KV/Queue instead of Miniflare
//   npm run bench -- --smoke      1 round × 1 s, no targets judged: checks the code path (CI)
//   npm run bench -- --profile    no rounds: a workerd CPU profile of each authorizer arm under load,
//                                 self time per source module in µs/request (+ .cpuprofile files)
//   options: --rounds N  --seconds S  --warmup S  --connections C  --tool wrk|autocannon  --arms a,b  --help
//
// Output: a table on stdout, bench/results/bench-<mode>-<time>.json (+ latest-<mode>.json), and as
// the last line `bench: hot=… hot_noaudit=… …`. Exit code 1 when an arm answered with the wrong
// status, had socket errors, or a counter check failed; targets are reported, never fatal.
//
// Traffic goes only to 127.0.0.1; every load run is bounded in time. Needs Linux (/proc) and
// Node ≥ 22 (`npm run` uses the project's own Node 22).

import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { newSigningKey } from "../scripts/assertion-key.mjs";
import { buildAll, bundleSize, compatibilityDate, compatibilityFlags, largestInputs } from "./lib/build.mjs";
import { traceDeopts } from "./lib/deopts.mjs";
import { liveKey } from "./lib/key.mjs";
import { findWrk, loadRun, unloadedRun } from "./lib/load.mjs";
import { ORIGIN_BODY } from "./lib/origin.mjs";
import { connectInspector, summarizeProfile } from "./lib/profile.mjs";
import {
  ARM_COLUMNS,
  benchLine,
  costModel,
  judgeTargets,
  MICRO_COLUMNS,
  markdownTable,
  median,
  PRICES,
  round,
  table,
} from "./lib/report.mjs";
import { cpuMicros, freePort, machineCpu, readCounters, startLean, startMiniflare, workerdVersion } from "./lib/runtimes.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const RESULTS = join(ROOT, "bench", "results");
const BUILD = join(RESULTS, "build");

const HELP = `usage: npm run bench [-- options]
  --quick            3 rounds × 5 s per arm (default: 5 rounds × 8 s); 2 s warm-up of each fresh process
  --smoke            1 round × 1 s per arm, 1 s warm-up, no targets judged (CI: checks the code path only)
  --lean             run the Workers on plain \`workerd serve\` with stub KV/Queue (default: Miniflare)
  --profile          instead of the rounds: CPU profiles (workerd inspector) of baseline, minimal, hot_noaudit,
                     hot, reject and malformed, self time by source module; prints no bench: line
  --deopts           with --lean, instead of the rounds: minimal, hot_noaudit and hot each on a fresh process with
                     V8's --trace-deopt, deoptimizations counted in the warm-up and in 4 windows of --seconds after it
  --rounds N         interleaved rounds (default 5)
  --seconds S        whole seconds of measured load per arm and round (default 8)
  --warmup S         whole seconds of load on each fresh workerd process before it is measured
  --connections C    concurrent connections under load (default 32)
  --tool T           wrk | autocannon (default: wrk when installed, else autocannon)
  --arms a,b         only these loaded arms (baseline and minimal always run), e.g. --arms hot,hot_noaudit
  -h, --help`;

// ---------------------------------------------------------------------------------------------
// Options

const { values: opts } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    smoke: { type: "boolean", default: false },
    lean: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    deopts: { type: "boolean", default: false },
    arms: { type: "string" },
    rounds: { type: "string" },
    seconds: { type: "string" },
    warmup: { type: "string" },
    connections: { type: "string" },
    tool: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
  allowPositionals: false,
});
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}

// warmup: seconds of load on each fresh process before it is measured; coldStarts: cold starts of each bundle.
const preset = opts.smoke
  ? { rounds: 1, seconds: 1, warmup: 1, unloaded: 0.5, microMs: 20, settleMs: 300, coldStarts: 1 }
  : opts.quick
    ? { rounds: 3, seconds: 5, warmup: 2, unloaded: 2, microMs: 200, settleMs: 1200, coldStarts: 3 }
    : { rounds: 5, seconds: 8, warmup: 2, unloaded: 3, microMs: 300, settleMs: 1200, coldStarts: 5 };
const intOpt = (name, fallback, min, max) => {
  if (opts[name] === undefined) return fallback;
  const n = Number(opts[name]);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be a whole number from ${min} to ${max}`);
    process.exit(2);
  }
  return n;
};
if (opts.deopts && (!opts.lean || opts.profile)) {
  console.error("--deopts needs --lean (V8 flags are set in the workerd config) and cannot be combined with --profile");
  process.exit(2);
}
const ROUNDS = intOpt("rounds", preset.rounds, 1, 20);
const SECONDS = intOpt("seconds", preset.seconds, 1, 60);
const WARMUP = intOpt("warmup", preset.warmup, 1, 60);
// Arms marked `cheap` (the origin, kv and the 4xx arms: none of them is compared with the floor) get
// a shorter warm-up and measurement, which keeps --quick near 5 minutes with a fresh process per round.
const CHEAP_WARMUP = Math.max(1, WARMUP - 1);
const CHEAP_SECONDS = Math.max(1, Math.round(SECONDS * 0.6));
const CONNECTIONS = intOpt("connections", 32, 1, 256);
const MODE = opts.lean ? "lean" : "miniflare";
const SMOKE = opts.smoke;
// Lean mode has no queue consumer whose batches could spill into the next arm (--profile, unloaded
// runs: one process per target; the loaded rounds stop each process after its arm).
const SETTLE_MS = MODE === "lean" ? 300 : preset.settleMs;
/** A round whose CPU µs/request for an arm exceeds this × the arm's lowest round is a "slow round". */
const SLOW_FACTOR = 1.3;

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (line) => console.log(line);
const warn = (line) => console.warn(`! ${line}`);
const failures = [];
const fail = (line) => {
  failures.push(line);
  console.error(`✘ ${line}`);
};

const cleanups = [];
async function cleanup() {
  while (cleanups.length > 0) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch {
      // best effort
    }
  }
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping…`);
    cleanup().finally(() => process.exit(130));
  });
}

/** Starts bench/lib/origin.mjs as a child process. @returns {Promise<{ port: number, pid: number }>} */
function startOriginProcess() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "bench", "lib", "origin.mjs")], { stdio: ["pipe", "pipe", "inherit"] });
    cleanups.push(async () => {
      child.kill("SIGTERM");
    });
    let buffered = "";
    const timer = setTimeout(() => reject(new Error("the origin did not start within 10 s")), 10_000);
    child.stdout.setEncoding("utf8").on("data", (d) => {
      buffered += d;
      const nl = buffered.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        resolve({ port: JSON.parse(buffered.slice(0, nl)).port, pid: child.pid });
      }
    });
    child.on("exit", (code) => reject(new Error(`the origin exited with ${code}`)));
  });
}

/** CPU model and core count from /proc/cpuinfo. */
function machine() {
  let model = "unknown";
  try {
    model = /model name\s*:\s*(.+)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? model;
  } catch {
    // not Linux
  }
  return { cores: os.cpus().length, cpu_model: model, node: process.versions.node, kernel: os.release() };
}

// ---------------------------------------------------------------------------------------------
// The bench key, the Workers' variables

const ACCOUNT = "acct_bench";
const KEY_ID = "key_bench1";
const benchKey = () => liveKey({ accountId: ACCOUNT, keyId: KEY_ID, hashKeyId: "hk-bench", label: "npm run bench" });

function authorizerVars(key, origin, cacheTtlSeconds) {
  return {
    API_VERSIONS: JSON.stringify([
      { version: "2024-06-01", status: "stable", origin },
      { version: "2024-11-15", status: "stable", origin },
      { version: "2025-03-01", status: "preview", origin },
    ]),
    SECRET_HASH_KEY: key.hashKeyBase64,
    SECRET_HASH_KEY_ID: "hk-bench",
    KEY_CACHE_TTL_SECONDS: String(cacheTtlSeconds),
    KEY_CACHE_NEGATIVE_TTL_SECONDS: "5",
    UPSTREAM_TIMEOUT_MS: "30000",
    // The reject and malformed arms flood credential failures from 127.0.0.1: with the production
    // limit (30 a minute) the failed-attempt throttle would turn every later request of that address,
    // the hot arms' included, into a 429. The bench Workers have no rate-limiting bindings (the limits
    // fail open), but each isolate still counts failures itself; this keeps it from blocking.
    AUTH_FAILURE_LIMIT: "1000000",
    // Every forwarded request is signed (X-Spot-Assertion), as in production.
    ASSERTION_ISSUER: "https://api.spot-thought.com",
    ASSERTION_SIGNING_KEY: BENCH_SIGNING_KEY,
  };
}

/** The minimal reference Worker's bindings (bench/workers/minimal.ts): the same key and signing key. */
function minimalVars(key, origin) {
  return {
    ORIGIN: origin,
    SECRET_HASH_KEY: key.hashKeyBase64,
    ASSERTION_SIGNING_KEY: BENCH_SIGNING_KEY,
    ASSERTION_ISSUER: "https://api.spot-thought.com",
    BENCH_KV_KEY: key.kvKey,
    BENCH_RECORD: key.record,
  };
}

/** One Ed25519 signing key per bench run (scripts/assertion-key.mjs). */
const BENCH_SIGNING_KEY = JSON.stringify(newSigningKey("bench"));

// ---------------------------------------------------------------------------------------------
// Arms

const PATH = "/v1/charges?limit=10";

/**
 * Every loaded arm: which target, which headers, what it must answer.
 * `counters`: the target answers GET /__spot/debug/counters (the authorizer bench builds, peer);
 * `cheap`: a shorter warm-up and measurement (CHEAP_WARMUP, CHEAP_SECONDS).
 */
function arms(key) {
  const common = { "X-Forwarded-For": "203.0.113.7", "User-Agent": "spot-bench" };
  const auth = { ...common, "X-Spot-Api-Key": ACCOUNT, "X-Spot-Api-Secret": key.secret, "X-Spot-Api-Version": "2024-11-15" };
  return [
    { id: "origin", target: "origin", headers: auth, status: 200, cheap: true, about: "node:http origin, no Worker" },
    { id: "baseline", target: "baseline", headers: auth, status: 200, about: "bare Hono pass-through Worker" },
    { id: "minimal", target: "minimal", headers: auth, status: 200, about: "the contract's floor: no framework, HMAC, Map, Ed25519 JWT" },
    { id: "peer", target: "peer", headers: auth, status: 200, counters: true, about: "Hono + KV read + queue send per request" },
    { id: "hot", target: "authorizer", headers: auth, status: 200, counters: true, about: "valid key, isolate cache hit, audit on" },
    { id: "hot_noaudit", target: "noaudit", headers: auth, status: 200, counters: true, about: "same, audit event built but not sent" },
    {
      id: "kv",
      target: "kv",
      headers: auth,
      status: 200,
      counters: true,
      cheap: true,
      about: "valid key, cache off: one KV read per request",
    },
    {
      id: "reject",
      target: "authorizer",
      cheap: true,
      headers: { ...auth, "X-Spot-Api-Secret": `sk_live_${"W".repeat(33)}` },
      status: 401,
      code: "invalid_credentials",
      counters: true,
      about: "real account, wrong secret → 401",
    },
    {
      id: "malformed",
      target: "authorizer",
      cheap: true,
      headers: { ...auth, "X-Spot-Api-Key": "not-an-account" },
      status: 400,
      code: "malformed_api_key",
      counters: true,
      about: "malformed X-Spot-Api-Key → 400 (no HMAC, no KV)",
    },
    {
      id: "badversion",
      target: "authorizer",
      cheap: true,
      headers: { ...auth, "X-Spot-Api-Version": "2020-01-01" },
      status: 400,
      code: "unsupported_api_version",
      counters: true,
      about: "unknown X-Spot-Api-Version → 400",
    },
  ];
}

/** One request through the arm, checked for status, error code, or the origin's body. */
async function probe(arm, url) {
  const res = await fetch(new URL(PATH, url), { headers: arm.headers, signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  if (res.status !== arm.status) throw new Error(`${arm.id}: expected ${arm.status}, got ${res.status}: ${body.slice(0, 300)}`);
  if (arm.code) {
    const code = JSON.parse(body)?.error?.code;
    if (code !== arm.code) throw new Error(`${arm.id}: expected error code ${arm.code}, got ${code}`);
  } else if (body !== ORIGIN_BODY.toString()) {
    throw new Error(`${arm.id}: the body is not the origin's: ${body.slice(0, 300)}`);
  }
}

/**
 * Medians of the cold starts of the production bundle and the baseline, and the authorizer's extra.
 * @param {{ production: { ready_ms: number, cpu_us: number }[], baseline: { ready_ms: number, cpu_us: number }[] }} s
 */
function coldStartSummary(s) {
  const of = (xs) => ({
    ready_ms: round(median(xs.map((x) => x.ready_ms)), 1),
    cpu_ms: round(median(xs.map((x) => x.cpu_us)) / 1000, 1),
    samples: xs.map((x) => ({ ready_ms: round(x.ready_ms, 1), cpu_ms: round(x.cpu_us / 1000, 1) })),
  });
  const production = of(s.production);
  const baseline = of(s.baseline);
  return {
    production,
    baseline,
    extra_ready_ms: round(production.ready_ms - baseline.ready_ms, 1),
    extra_cpu_ms: round(production.cpu_ms - baseline.cpu_ms, 1),
  };
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  const started = Date.now();
  if (process.platform !== "linux") throw new Error("the bench reads /proc/<pid>/stat: it runs on Linux only");
  const [major] = process.versions.node.split(".").map(Number);
  if (major < 22) throw new Error(`Node ${process.versions.node}: run it as \`npm run bench\` (the project's Node 22)`);

  let tool = opts.tool ?? null;
  const wrk = findWrk();
  if (tool === null) tool = wrk ? "wrk" : "autocannon";
  if (tool === "wrk" && !wrk) throw new Error("--tool wrk: wrk is not on PATH (apt-get install wrk)");
  if (tool !== "wrk" && tool !== "autocannon") throw new Error("--tool must be wrk or autocannon");
  if (!wrk) {
    warn("wrk is not installed: falling back to autocannon, a slower Node client that shares the 2 cores with the Worker;");
    warn("absolute req/s will be lower and ratios noisier. For the real figures: apt-get install wrk");
  }

  const info = machine();
  const loadBefore = os.loadavg()[0];
  if (loadBefore > 0.5)
    warn(`1-minute load average is ${loadBefore.toFixed(2)} before the bench: other processes use the CPU, figures will be noisy`);
  const workerd = await workerdVersion(ROOT);
  log(
    `spot bench: mode ${MODE}, ${ROUNDS} round(s) × ${SECONDS} s, ${CONNECTIONS} connections, ${tool}${wrk && tool === "wrk" ? ` (${wrk.version})` : ""}`,
  );
  log(`machine: ${info.cores} cores, ${info.cpu_model}, Node ${info.node}, workerd ${workerd}`);

  // Bundles
  mkdirSync(RESULTS, { recursive: true });
  log("building bundles (wrangler deploy --dry-run) …");
  const bundles = await buildAll(ROOT, BUILD, { readable: opts.profile || opts.deopts });
  const bundle = { ...bundleSize(bundles.production), largest_inputs: largestInputs(BUILD) };
  // The audit Worker (wrangler.audit.toml): the queue consumer and the retention cron, out of the request path's bundle.
  const auditBundle = bundleSize(bundles.audit);

  // Origin and Workers
  const origin = await startOriginProcess();
  const originUrl = `http://127.0.0.1:${origin.port}`;
  const key = benchKey();
  const kvSeed = { [key.kvKey]: key.record };
  const date = compatibilityDate(ROOT);
  const flags = compatibilityFlags(ROOT);
  // What each target runs. Bundles of the authorizer export the revocation feed's Durable Object.
  // Under Miniflare the audit Worker (its own bundle) consumes their audit queue; the bench Workers consume their own.
  const authorizer = (ttl) => ({ vars: authorizerVars(key, originUrl, ttl), revocationFeed: true, auditWorker: true });
  const specs = {
    baseline: { entry: bundles.baseline, vars: { ORIGIN: originUrl } },
    minimal: { entry: bundles.minimal, vars: minimalVars(key, originUrl) },
    peer: { entry: bundles.peer, vars: { ORIGIN: originUrl, SECRET_HASH_KEY: key.hashKeyBase64 } },
    authorizer: { entry: bundles.authorizer, ...authorizer(30) },
    noaudit: { entry: bundles.noaudit, ...authorizer(30) },
    kv: { entry: bundles.authorizer, ...authorizer(0) },
    production: { entry: bundles.production, ...authorizer(30) },
    micro: {
      entry: bundles.micro,
      vars: { ...authorizerVars(key, originUrl, 30), BENCH_ACCOUNT: ACCOUNT, BENCH_SECRET: key.secret, BENCH_RECORD: key.record },
      consumer: false,
    },
  };
  /** Starts a fresh workerd process for target `name`; its close() may be called more than once. */
  const start = async (name, { lean = MODE === "lean", probe, pollMs, v8Flags, onLine } = {}) => {
    const spec = specs[name];
    const inspectorPort = opts.profile && name !== "micro" ? await freePort() : undefined;
    const options = {
      root: ROOT,
      buildDir: BUILD,
      name,
      entry: spec.entry,
      compatibilityDate: date,
      compatibilityFlags: flags,
      vars: spec.vars,
      kvSeed,
      consumer: spec.consumer ?? true,
      auditEntry: spec.auditWorker ? bundles.audit : undefined,
      inspectorPort,
      revocationFeed: spec.revocationFeed ?? false,
      probe,
      pollMs,
      v8Flags,
      onLine,
    };
    const target = lean ? await startLean(options) : await startMiniflare(options);
    let closing = null;
    const close = () => {
      closing ??= target.close();
      return closing;
    };
    cleanups.push(close);
    return { ...target, close, entry: spec.entry, inspectorPort };
  };
  const originTarget = { name: "origin", url: new URL(`${originUrl}/`), pid: origin.pid, close: async () => {} };

  // --arms: baseline and minimal always run (every ratio is taken against them).
  const wanted = opts.arms ? new Set(["baseline", "minimal", ...opts.arms.split(",").map((a) => a.trim())]) : null;
  const ARMS = arms(key).filter((a) => !wanted || wanted.has(a.id));
  if (wanted && ARMS.length !== wanted.size)
    throw new Error(
      `--arms: unknown arm among ${opts.arms}; arms: ${arms(key)
        .map((a) => a.id)
        .join(", ")}`,
    );

  const load = (arm, url, seconds) =>
    loadRun({
      tool,
      wrkPath: wrk?.path,
      root: ROOT,
      url: new URL(PATH, url).href,
      headers: arm.headers,
      connections: CONNECTIONS,
      seconds,
    });

  if (opts.profile) {
    log(`starting Workers (${MODE}) …`);
    const targets = { origin: originTarget };
    for (const name of new Set(ARMS.map((a) => a.target))) if (name !== "origin") targets[name] = await start(name);
    for (const arm of ARMS) await probe(arm, targets[arm.target].url);
    log("every arm answers as expected; warming up …");
    for (const arm of ARMS) await load(arm, targets[arm.target].url, preset.warmup);
    await sleep(SETTLE_MS);
    return await profileArms(ARMS, targets, (arm, seconds) => load(arm, targets[arm.target].url, seconds));
  }

  if (opts.deopts) return await deoptArms(ARMS, start, load);

  // Cold start: the production bundle and the baseline on plain `workerd serve` (in both modes:
  // Miniflare's own start-up is not the Worker's), from the spawn to the first answer of a hot request.
  const hotArm = arms(key).find((a) => a.id === "hot");
  const coldSamples = { production: [], baseline: [] };
  for (let i = 0; i < preset.coldStarts; i++) {
    for (const name of i % 2 ? ["production", "baseline"] : ["baseline", "production"]) {
      const target = await start(name, { lean: true, probe: { path: PATH, headers: hotArm.headers, status: 200 }, pollMs: 5 });
      coldSamples[name].push(target.startup);
      await target.close();
    }
  }
  const coldStart = coldStartSummary(coldSamples);
  log(
    `cold start (${preset.coldStarts}×, median): production ${coldStart.production.ready_ms} ms to the first answer, ` +
      `${coldStart.production.cpu_ms} ms CPU; baseline ${coldStart.baseline.ready_ms} ms, ${coldStart.baseline.cpu_ms} ms CPU`,
  );

  // Loaded rounds, arms interleaved, the starting arm rotated each round; every Worker arm gets a
  // fresh workerd process per round, warmed up before it is measured, then stopped.
  log(
    `${ROUNDS} round(s); each Worker arm: a fresh workerd, ${WARMUP} s warm-up, ${SECONDS} s measured ` +
      `(kv and the 4xx arms ${CHEAP_WARMUP} s + ${CHEAP_SECONDS} s; the origin ${CHEAP_SECONDS} s)`,
  );
  // The origin is one Node process for the whole run: its JIT is warmed once, before round 1.
  await load(hotArm, originTarget.url, CHEAP_WARMUP);
  const samples = Object.fromEntries(ARMS.map((a) => [a.id, []]));
  const startMs = [];
  for (let r = 0; r < ROUNDS; r++) {
    const order = ARMS.map((_, i) => ARMS[(i + r) % ARMS.length]);
    for (const arm of order) {
      const t0 = performance.now();
      const target = arm.target === "origin" ? originTarget : await start(arm.target);
      if (arm.target !== "origin") startMs.push(performance.now() - t0);
      try {
        await probe(arm, target.url);
        if (arm.target !== "origin") await load(arm, target.url, arm.cheap ? CHEAP_WARMUP : WARMUP);
        const countersBefore = arm.counters ? await readCounters(target.url) : null;
        const ourPids = [...new Set([target.pid, origin.pid])];
        const machineBefore = machineCpu(ourPids);
        const wallBefore = performance.now();
        const cpuBefore = cpuMicros(target.pid);
        const result = await load(arm, target.url, arm.cheap ? CHEAP_SECONDS : SECONDS);
        const cpuAfter = cpuMicros(target.pid);
        const machineAfter = machineCpu(ourPids);
        const wallUs = (performance.now() - wallBefore) * 1000;
        // CPU other processes on the machine took during the measurement, in cores (a slow round with
        // other load points at the machine, one without at the process).
        const otherCores = (machineAfter.busy_us - machineBefore.busy_us - (machineAfter.ours_us - machineBefore.ours_us)) / wallUs;
        await sleep(arm.counters ? 200 : 0);
        const countersAfter = arm.counters ? await readCounters(target.url) : null;
        const sample = {
          round: r + 1,
          ...result,
          cpu_us_per_req: result.requests > 0 ? (cpuAfter - cpuBefore) / result.requests : null,
          other_cores: round(Math.max(0, otherCores), 2),
          kv_reads: countersAfter ? countersAfter.kv_reads - countersBefore.kv_reads : null,
          queue_sends: countersAfter ? countersAfter.queue_sends - countersBefore.queue_sends : null,
          feed_reads: countersAfter ? countersAfter.feed_reads - countersBefore.feed_reads : null,
          feed_waits: countersAfter ? countersAfter.feed_waits - countersBefore.feed_waits : null,
        };
        samples[arm.id].push(sample);
        log(
          `  round ${r + 1}/${ROUNDS} ${arm.id.padEnd(11)} ${Math.round(result.rps).toString().padStart(6)} req/s  p50 ${round(result.p50_us / 1000)} ms` +
            `  cpu ${round(sample.cpu_us_per_req, 0)} µs/req  other ${sample.other_cores} cores` +
            `${sample.kv_reads === null ? "" : `  kv ${sample.kv_reads} sends ${sample.queue_sends}`}`,
        );
      } finally {
        await target.close();
      }
      // The process is gone (its queue consumer with it): nothing can spill into the next arm.
      await sleep(100);
    }
  }

  // Unloaded: one connection, baseline vs hot (and the origin alone), interleaved, on one warmed-up
  // process each.
  const unloadedArms = ["origin", "baseline", "hot"].map((id) => ARMS.find((a) => a.id === id)).filter(Boolean);
  const unloadedTargets = { origin: originTarget };
  for (const arm of unloadedArms) {
    if (arm.target === "origin") continue;
    unloadedTargets[arm.target] = await start(arm.target);
    await probe(arm, unloadedTargets[arm.target].url);
    await load(arm, unloadedTargets[arm.target].url, WARMUP);
  }
  const unloadedSamples = Object.fromEntries(unloadedArms.map((a) => [a.id, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < unloadedArms.length; i++) {
      const arm = unloadedArms[(i + r) % unloadedArms.length];
      const result = await unloadedRun({
        root: ROOT,
        url: new URL(PATH, unloadedTargets[arm.target].url).href,
        headers: arm.headers,
        seconds: preset.unloaded,
        expectStatus: arm.status,
      });
      if (result.bad_status > 0) fail(`unloaded ${arm.id}: ${result.bad_status} responses with a status other than ${arm.status}`);
      unloadedSamples[arm.id].push(result);
      await sleep(arm.id === "hot" ? SETTLE_MS : 100);
    }
  }
  for (const target of Object.values(unloadedTargets)) await target.close();

  // Micro-benchmark in workerd.
  const micro = await start("micro");
  const microRes = await fetch(new URL(`/run?ms=${preset.microMs}`, micro.url), { signal: AbortSignal.timeout(120_000) });
  const microBody = await microRes.json();
  await micro.close();
  if (!microRes.ok) throw new Error(`micro-benchmark failed: ${microBody.error}`);

  // ---------------------------------------------------------------------------------------------
  // Summary

  const base = samples.baseline;
  const floor = samples.minimal;
  const summary = { mode: MODE, arms: {} };
  for (const arm of ARMS) {
    const s = samples[arm.id];
    const ratios = s.map((x, i) => (base[i]?.rps ? x.rps / base[i].rps : null));
    const floorRatios = s.map((x, i) => (floor[i]?.rps ? x.rps / floor[i].rps : null));
    // The same against the floor in CPU per request (minimal's ÷ the arm's, per round): less moved by
    // other processes on the machine than req/s; in the JSON only.
    const floorCpuRatios = s.map((x, i) =>
      x.cpu_us_per_req > 0 && floor[i]?.cpu_us_per_req > 0 ? floor[i].cpu_us_per_req / x.cpu_us_per_req : null,
    );
    // Slow rounds: CPU per request > SLOW_FACTOR × the arm's lowest round (a process stuck in a slower
    // mode, or a busy machine); the origin is one long-lived process and is not judged.
    const cpus = s.map((x) => x.cpu_us_per_req).filter((v) => Number.isFinite(v));
    const lowest = cpus.length > 0 ? Math.min(...cpus) : null;
    for (const x of s) x.slow = arm.id !== "origin" && lowest !== null && x.cpu_us_per_req > SLOW_FACTOR * lowest;
    const slowRounds = arm.id === "origin" ? null : s.filter((x) => x.slow).length;
    const cpuDeltas = s.map((x, i) =>
      x.cpu_us_per_req !== null && base[i]?.cpu_us_per_req != null ? x.cpu_us_per_req - base[i].cpu_us_per_req : null,
    );
    const requests = s.reduce((n, x) => n + x.requests, 0);
    const non2xx = s.reduce((n, x) => n + x.non2xx, 0);
    const socketErrors = s.reduce((n, x) => n + x.socket_errors, 0);
    const kvReads = arm.counters ? s.reduce((n, x) => n + x.kv_reads, 0) : null;
    const sends = arm.counters ? s.reduce((n, x) => n + x.queue_sends, 0) : null;
    const feedReads = arm.counters ? s.reduce((n, x) => n + x.feed_reads, 0) : null;
    const feedWaits = arm.counters ? s.reduce((n, x) => n + x.feed_waits, 0) : null;
    let status = "ok";
    if (socketErrors > 0) status = "SOCKET ERRORS";
    else if (arm.status === 200 && non2xx > 0) status = "NON-2XX";
    else if (arm.status !== 200 && non2xx !== requests) status = "UNEXPECTED 2XX";
    if (requests === 0) status = "NO REQUESTS";
    if (status !== "ok") fail(`${arm.id}: ${status} (requests ${requests}, non-2xx ${non2xx}, socket errors ${socketErrors})`);
    summary.arms[arm.id] = {
      id: arm.id,
      about: arm.about,
      expected_status: arm.status,
      status,
      rps: round(median(s.map((x) => x.rps)), 0),
      ratio: arm.id === "baseline" ? 1 : round(median(ratios)),
      vs_min: arm.id === "minimal" ? 1 : round(median(floorRatios)),
      cpu_vs_min: arm.id === "origin" ? null : round(median(floorCpuRatios)),
      p50_ms: round(median(s.map((x) => x.p50_us)) / 1000),
      p99_ms: round(median(s.map((x) => x.p99_us)) / 1000),
      cpu_us_per_req: round(median(s.map((x) => x.cpu_us_per_req)), 0),
      cpu_delta_us: arm.id === "baseline" || arm.id === "origin" ? null : round(median(cpuDeltas), 0),
      kv_reads_per_req: kvReads === null ? null : round(kvReads / requests, 4),
      sends_per_req: sends === null ? null : round(sends / requests, 3),
      feed_reads_per_req: feedReads === null ? null : round(feedReads / requests, 5),
      feed_waits_per_req: feedWaits === null ? null : round(feedWaits / requests, 5),
      slow_rounds: slowRounds,
      rounds_rps: s.map((x) => round(x.rps, 0)),
      rounds_cpu_us: s.map((x) => round(x.cpu_us_per_req, 0)),
      requests,
      non2xx,
      socket_errors: socketErrors,
      rounds: s,
    };
  }
  // Counter sanity: the hooks are live, the cache is bypassed in the kv arm, noaudit sends nothing.
  const arm = (id) => summary.arms[id] ?? {};
  if (summary.arms.kv && !(arm("kv").kv_reads_per_req >= 0.9))
    fail(
      `kv arm: ${arm("kv").kv_reads_per_req} KV reads per request; the cache bypass (KEY_CACHE_TTL_SECONDS=0) or the counter hook is broken`,
    );
  if (summary.arms.hot && !(arm("hot").sends_per_req > 0))
    fail("hot arm: no queue sends counted; the audit send or its counter hook is broken");
  if (summary.arms.hot_noaudit && arm("hot_noaudit").sends_per_req !== 0)
    fail(`hot_noaudit arm: ${arm("hot_noaudit").sends_per_req} sends per request; the producer alias did not apply`);

  const unloaded = {};
  for (const [id, s] of Object.entries(unloadedSamples))
    unloaded[id] = { p50_us: median(s.map((x) => x.p50_us)), p99_us: median(s.map((x) => x.p99_us)), rounds: s };
  const addedP50 = unloadedSamples.hot ? median(unloadedSamples.hot.map((x, i) => x.p50_us - unloadedSamples.baseline[i].p50_us)) : null;
  summary.unloaded = { ...unloaded, added_p50_us: round(addedP50, 0) };
  const hotPath = microBody.ops.find((o) => o.op === "hot_path")?.ns_per_op ?? null;
  summary.micro = { ops: microBody.ops, hot_path_ns: hotPath, hot_path_sum_ns: microBody.hot_path_sum_ns };
  summary.bundle = bundle;
  summary.audit_worker_bundle = auditBundle;
  summary.cold_start = coldStart;
  summary.slow_rounds = Object.values(summary.arms).reduce((n, a) => n + (a.slow_rounds ?? 0), 0);
  summary.fresh_process_ms = round(median(startMs), 0);
  const hot = summary.arms.hot ?? summary.arms.baseline;
  const hotCpu = hot.cpu_delta_us === null ? null : Math.max(0, hot.cpu_delta_us) + (arm("baseline").cpu_us_per_req ?? 0);
  summary.cost = {
    prices: PRICES,
    note: "worker CPU is the local workerd process's CPU per hot request (an upper bound for billed CPU: it includes the runtime's own HTTP and proxy work)",
    per_million_requests: costModel({
      cpu_us_per_req: hotCpu ?? 0,
      kv_reads_per_req: hot.kv_reads_per_req ?? 0,
      sends_per_req: hot.sends_per_req ?? 0,
      events_per_req: 1,
    }),
  };
  summary.targets = SMOKE ? [] : judgeTargets(summary, MODE);

  // ---------------------------------------------------------------------------------------------
  // Report

  const rows = ARMS.map((a) => summary.arms[a.id]);
  log("");
  log(
    `Loaded arms (median of ${ROUNDS} round(s), a fresh workerd per arm and round; ratio / vs_min = median of per-round req/s ÷ baseline / ÷ minimal; CPU = workerd process, µs per request; slow = rounds with CPU > ${SLOW_FACTOR} × the arm's lowest)`,
  );
  log(table(ARM_COLUMNS, rows));
  log("");
  log("Per round (req/s @ CPU µs/req, * = slow round; (+n) = cores other processes on the machine used meanwhile)");
  log(
    table(
      [{ title: "arm", key: "id" }, ...Array.from({ length: ROUNDS }, (_, i) => ({ title: `round ${i + 1}`, key: `r${i}`, right: true }))],
      rows.map((a) => ({
        id: a.id,
        ...Object.fromEntries(
          a.rounds.map((x, i) => [`r${i}`, `${round(x.rps, 0)} @ ${round(x.cpu_us_per_req, 0)}${x.slow ? "*" : ""} (+${x.other_cores})`]),
        ),
      })),
    ),
  );
  log(`a fresh workerd process took ${summary.fresh_process_ms} ms (median) from the start to its first answer`);
  log("");
  log(
    `Cold start (plain workerd serve, spawn → first answer to a hot request, median of ${preset.coldStarts}): ` +
      `production ${coldStart.production.ready_ms} ms, ${coldStart.production.cpu_ms} ms CPU; ` +
      `baseline ${coldStart.baseline.ready_ms} ms, ${coldStart.baseline.cpu_ms} ms CPU; ` +
      `the authorizer's extra: ${coldStart.extra_ready_ms} ms wall, ${coldStart.extra_cpu_ms} ms CPU (cold_start_ms)`,
  );
  log("");
  log(
    `Unloaded (1 connection, p50/p99 µs): ${Object.entries(unloaded)
      .map(([id, u]) => `${id} ${round(u.p50_us, 0)}/${round(u.p99_us, 0)}`)
      .join(", ")}; added p50 (hot − baseline) ${summary.unloaded.added_p50_us} µs`,
  );
  log("");
  log(`Micro-benchmark in workerd (ns per operation, ${preset.microMs} ms per piece)`);
  log(table(MICRO_COLUMNS, microBody.ops));
  log("");
  log(
    `Bundle (production, wrangler deploy --dry-run): ${bundle.raw_kib} KiB raw, ${bundle.gzip_kib} KiB gzip; largest inputs: ` +
      bundle.largest_inputs.map((i) => `${i.path} ${round(i.bytes / 1024, 1)} KiB`).join(", "),
  );
  log(
    `Audit Worker bundle (wrangler.audit.toml, wrangler deploy --dry-run; not on the request path): ${auditBundle.raw_kib} KiB raw, ${auditBundle.gzip_kib} KiB gzip`,
  );
  log("");
  log(`Cost per million requests (hot key, prices of ${PRICES.as_of}, beyond included usage)`);
  log(
    table(
      [
        { title: "line", key: "line" },
        { title: "USD", key: "per_million_usd", right: true },
      ],
      summary.cost.per_million_requests,
    ),
  );
  if (!SMOKE) {
    log("");
    log("Targets");
    log(
      table(
        [
          { title: "target", key: "target" },
          { title: "value", key: "value" },
          { title: "met", key: "met" },
        ],
        summary.targets.map((t) => ({ ...t, met: t.retired ? "retired" : t.met === null ? "n/a" : t.met ? "yes" : "NO" })),
      ),
    );
  }

  const elapsed = Math.round((Date.now() - started) / 1000);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const record = {
    issue: 16,
    started_at: new Date(started).toISOString(),
    elapsed_s: elapsed,
    settings: {
      mode: MODE,
      rounds: ROUNDS,
      seconds: SECONDS,
      warmup_s: WARMUP,
      cheap_arms: { seconds: CHEAP_SECONDS, warmup_s: CHEAP_WARMUP },
      connections: CONNECTIONS,
      tool,
      smoke: SMOKE,
      path: PATH,
      slow_factor: SLOW_FACTOR,
    },
    machine: {
      ...info,
      workerd,
      wrk: wrk?.version ?? null,
      loadavg_1m_before: round(loadBefore),
      loadavg_1m_after: round(os.loadavg()[0]),
    },
    ...summary,
    markdown: markdownTable(ARM_COLUMNS, rows),
    failures,
  };
  const kind = SMOKE ? `${MODE}-smoke` : MODE;
  const file = join(RESULTS, `bench-${kind}-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  writeFileSync(join(RESULTS, `latest-${kind}.json`), `${JSON.stringify(record, null, 2)}\n`);
  log("");
  log(`results: ${file.slice(ROOT.length + 1)} (${elapsed} s)`);
  await cleanup();
  log(benchLine(summary));
  return failures.length === 0 ? 0 : 1;
}

/**
 * `--profile`: each arm under load for SECONDS with workerd's sampling profiler on (100 µs), then
 * the self time of every source module in µs per request, next to the process CPU per request.
 */
async function profileArms(ARMS, targets, load) {
  const out = {};
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  for (const id of ["baseline", "minimal", "hot_noaudit", "hot", "reject", "malformed"]) {
    const arm = ARMS.find((a) => a.id === id);
    if (arm === undefined) continue; // not among --arms
    const target = targets[arm.target];
    const inspector = await connectInspector(target.inspectorPort, [`core:user:${target.name}`, "main"]);
    await inspector.send("Profiler.enable");
    await inspector.send("Profiler.setSamplingInterval", { interval: 100 });
    await inspector.send("Profiler.start");
    const cpuBefore = cpuMicros(target.pid);
    const result = await load(arm, SECONDS);
    const cpuAfter = cpuMicros(target.pid);
    const { profile } = await inspector.send("Profiler.stop");
    inspector.close();
    const file = join(RESULTS, `profile-${MODE}-${id}-${stamp}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    const groups = summarizeProfile(profile, target.entry, result.requests);
    const jsUs = groups.reduce((n, g) => n + g.us_per_req, 0);
    const cpuUs = (cpuAfter - cpuBefore) / result.requests;
    out[id] = {
      rps: round(result.rps, 0),
      cpu_us_per_req: round(cpuUs, 0),
      sampled_us_per_req: round(jsUs, 0),
      groups,
      file: file.slice(ROOT.length + 1),
    };
    log("");
    log(
      `${id}: ${round(result.rps, 0)} req/s, workerd process ${round(cpuUs, 0)} µs CPU/request, of which sampled in the isolate ${round(jsUs, 0)} µs` +
        ` (the rest: HTTP, KV/queue plumbing and Miniflare's own workers outside this isolate) → ${file.slice(ROOT.length + 1)}`,
    );
    log(
      table(
        [
          { title: "self time in", key: "group" },
          { title: "µs/req", key: "us_per_req", right: true },
          { title: "%", key: "share", right: true },
        ],
        groups.slice(0, 14),
      ),
    );
    await sleep(SETTLE_MS);
  }
  writeFileSync(join(RESULTS, `profile-${MODE}-${stamp}.json`), `${JSON.stringify(out, null, 2)}\n`);
  await cleanup();
  return failures.length === 0 ? 0 : 1;
}

/**
 * `--deopts`: V8 deoptimizations of minimal, hot_noaudit and hot under load (bench/lib/deopts.mjs),
 * printed per arm and written to bench/results/deopts-lean-<time>.json.
 */
async function deoptArms(ARMS, start, load) {
  const traced = ["minimal", "hot_noaudit", "hot"].map((id) => ARMS.find((a) => a.id === id)).filter(Boolean);
  const windows = 4;
  log(`--trace-deopt: ${WARMUP} s warm-up, then ${windows} windows of ${SECONDS} s, a fresh process per arm …`);
  const out = await traceDeopts(traced, (arm, onLine) => start(arm.target, { v8Flags: ["--trace-deopt"], onLine }), load, {
    warmupS: WARMUP,
    windowS: SECONDS,
    windows,
  });
  for (const [id, r] of Object.entries(out)) {
    const after = r.windows.reduce((a, b) => a + b, 0);
    log("");
    log(
      `${id}: ${r.warmup} deoptimizations in the warm-up; after it ${after} in ${r.requests} requests (per window: ${r.windows.join(", ")})`,
    );
    for (const { fn, reason, count } of r.after_warmup.slice(0, 10)) log(`  ${String(count).padStart(4)}  ${fn}  (${reason})`);
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const file = join(RESULTS, `deopts-${MODE}-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify({ warmup_s: WARMUP, window_s: SECONDS, windows, arms: out }, null, 2)}\n`);
  log(`\nresults: ${file.slice(ROOT.length + 1)}`);
  await cleanup();
  return failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    console.error(`✘ bench failed: ${err?.stack ?? err}`);
    await cleanup();
    process.exit(1);
  },
);
