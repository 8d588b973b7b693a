// Where the bench's Workers run. Each target is one workerd process of its own, so its CPU time
// (/proc/<pid>/stat) belongs to that target alone:
//
//   Miniflare   Miniflare's programmatic API with the local bindings of wrangler.toml: KV (seeded),
//               the audit queue, D1 (migrated), the R2 audit archive; `cf` fetching off. The audit
//               Worker (wrangler.audit.toml's bundle) runs next to it in the same Miniflare (the same
//               workerd process), consuming the queue into the same D1 and R2, as under `npm start`.
//   lean        plain `workerd serve` with two small stub services in the same process: a read-only
//               KV (bench/workers/lean-kv.js) and a queue that drops messages (lean-queue.js).
//               No Miniflare entry worker, no queue broker, no consumer, no D1.

import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { DEBUG_COUNTERS_PATH } from "./build.mjs";

/** Queue settings of wrangler.audit.toml, with a 1 s batch timeout so the consumer's work stays inside each arm. */
const AUDIT_QUEUE = "spot-audit-events";
const AUDIT_DLQ = "spot-audit-events-dlq";
const CONSUMER = { maxBatchSize: 100, maxBatchTimeout: 1, maxRetries: 10 };

/** Clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK; 100 on Linux). */
export const CLOCK_TICKS = 100;

/**
 * CPU time a process (all its threads) has used so far.
 * @returns microseconds of user + system time
 */
export function cpuMicros(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}

/**
 * CPU time a process has used so far, in nanoseconds' resolution: the sum of
 * /proc/<pid>/task/<tid>/schedstat (time on CPU) over its live threads. For short spans (a cold
 * start) where /proc/<pid>/stat's clock ticks (10 ms) are too coarse; falls back to {@link cpuMicros}.
 * @returns microseconds
 */
export function cpuMicrosPrecise(pid) {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // the thread ended meanwhile
      }
    }
    return ns / 1000;
  } catch {
    return cpuMicros(pid);
  }
}

/**
 * CPU time the whole machine has been busy (user, nice, system, irq, softirq and steal of every core,
 * from /proc/stat) and what of it was this bench's own: this Node process, its children it has
 * already reaped (wrk, autocannon, the unloaded client: cutime/cstime) and the running processes in
 * `pids` (the target's workerd, the origin). The difference of two readings, divided by the wall
 * time between them, is the CPU other processes on the machine took meanwhile, in cores.
 * @param {number[]} pids
 * @returns {{ busy_us: number, ours_us: number }}
 */
export function machineCpu(pids) {
  const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  const busy = ((user + nice + system + irq + softirq + (steal ?? 0)) * 1e6) / CLOCK_TICKS;
  const self = readFileSync("/proc/self/stat", "utf8");
  const f = self.slice(self.lastIndexOf(")") + 2).split(" ");
  // fields 14–17: utime, stime, cutime, cstime
  let ours = ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1e6) / CLOCK_TICKS;
  for (const pid of pids) {
    try {
      ours += cpuMicros(pid);
    } catch {
      // ended meanwhile
    }
  }
  return { busy_us: busy, ours_us: ours };
}

/** Pids of this process's children whose command name is `comm`. */
function childPids(comm) {
  const out = new Set();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const c = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (c === comm && ppid === process.pid) out.add(Number(name));
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

/** The workerd binary Miniflare itself runs (same version in both modes). */
export function workerdBinary(root) {
  const fromMiniflare = createRequire(join(root, "node_modules", "miniflare", "package.json"));
  return join(dirname(fromMiniflare.resolve("workerd/package.json")), "bin", "workerd");
}

/** SQL statements of the D1 migrations, comments removed. */
export function migrationStatements(root) {
  const dir = join(root, "migrations");
  const statements = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith(".sql")) continue;
    const sql = readFileSync(join(dir, file), "utf8")
      .split("\n")
      .map((line) => line.replace(/--.*$/, ""))
      .join("\n");
    for (const s of sql.split(";")) if (s.trim()) statements.push(s.trim());
  }
  return statements;
}

async function getJson(url, timeoutMs = 10_000) {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url} → ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/**
 * A target's request counters (bench builds of the authorizer only).
 * @returns {Promise<{ kv_reads: number, queue_sends: number }>}
 */
export function readCounters(url) {
  return getJson(new URL(DEBUG_COUNTERS_PATH, url).href);
}

/**
 * Starts one Worker under Miniflare.
 * @param {{ root: string, name: string, entry: string, compatibilityDate: string, vars: Record<string, string>,
 *           kvSeed: Record<string, string>, consumer: boolean, auditEntry?: string, inspectorPort?: number,
 *           revocationFeed?: boolean }} options
 *        `consumer`: the audit queue (and its dead-letter queue) has a consumer: with `auditEntry` (authorizer
 *        bundles) the audit Worker, that bundle, runs next to this one and stores the events into D1 and R2;
 *        without it this Worker consumes its own queue (the bench Workers, which only acknowledge);
 *        `inspectorPort`: open workerd's inspector there (for --profile);
 *        `revocationFeed`: bind REVOCATION_FEED to the bundle's own RevocationFeed class (authorizer bundles)
 * @returns {Promise<{ name: string, url: URL, pid: number, close: () => Promise<void> }>}
 */
export async function startMiniflare({
  root,
  name,
  entry,
  compatibilityDate,
  compatibilityFlags = [],
  vars,
  kvSeed,
  consumer,
  auditEntry,
  inspectorPort,
  revocationFeed = false,
}) {
  const queueConsumers = consumer ? { [AUDIT_QUEUE]: { ...CONSUMER, deadLetterQueue: AUDIT_DLQ }, [AUDIT_DLQ]: CONSUMER } : {};
  const { Miniflare, convertV4MiniflareOptions } = await import(join(root, "node_modules", "miniflare", "dist", "src", "index.js"));
  const before = childPids("workerd");
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      cf: false,
      ...(inspectorPort ? { inspectorPort } : {}),
      workers: [
        {
          name,
          modules: [{ type: "ESModule", path: entry }],
          compatibilityDate,
          compatibilityFlags,
          bindings: vars,
          kvNamespaces: ["KEYS"],
          queueProducers: { AUDIT_QUEUE: { queueName: AUDIT_QUEUE } },
          queueConsumers: auditEntry ? {} : queueConsumers,
          d1Databases: ["AUDIT_DB"],
          // The audit archive the consumer writes next to D1 (docs/audit.md "Archive"), in memory.
          r2Buckets: ["AUDIT_ARCHIVE"],
          // The revocation feed the request path follows (docs/storage.md "Revocation feed"), in the bundle itself.
          ...(revocationFeed ? { durableObjects: { REVOCATION_FEED: { className: "RevocationFeed", useSQLite: true } } } : {}),
        },
        // The audit Worker: the same D1 database and R2 bucket (same ids), the consumer of the queue.
        ...(consumer && auditEntry
          ? [
              {
                name: `${name}-audit`,
                modules: [{ type: "ESModule", path: auditEntry }],
                compatibilityDate,
                compatibilityFlags,
                bindings: { AUDIT_RETENTION_DAYS: vars.AUDIT_RETENTION_DAYS ?? "90", AUDIT_DB_MAX_MB: vars.AUDIT_DB_MAX_MB ?? "8000" },
                queueConsumers,
                d1Databases: ["AUDIT_DB"],
                r2Buckets: ["AUDIT_ARCHIVE"],
              },
            ]
          : []),
      ],
    }),
  );
  let url;
  try {
    url = await mf.ready;
    const kv = await mf.getKVNamespace("KEYS");
    for (const [key, value] of Object.entries(kvSeed)) await kv.put(key, value);
    const db = await mf.getD1Database("AUDIT_DB");
    for (const statement of migrationStatements(root)) await db.prepare(statement).run();
  } catch (err) {
    await mf.dispose().catch(() => {});
    throw err;
  }
  const started = [...childPids("workerd")].filter((pid) => !before.has(pid));
  if (started.length !== 1) {
    await mf.dispose();
    throw new Error(`could not identify the workerd process of ${name} (found ${started.length})`);
  }
  return { name, url, pid: started[0], close: () => mf.dispose() };
}

/** A free TCP port on 127.0.0.1 (probed, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** A Cap'n Proto text literal (JSON string syntax is a subset for the values used here). */
const capnpText = (value) => JSON.stringify(String(value));

/**
 * Starts one Worker on plain `workerd serve` (lean mode).
 * @param {{ root: string, buildDir: string, name: string, entry: string, compatibilityDate: string,
 *           compatibilityFlags?: string[], vars: Record<string, string>, kvSeed: Record<string, string>,
 *           inspectorPort?: number, queueStub?: string, queueVars?: Record<string, string>, revocationFeed?: boolean,
 *           v8Flags?: string[], onLine?: (line: string) => void }} options
 *        `queueStub`: the module of the queue service (default bench/workers/lean-queue.js, which drops
 *        messages), with `queueVars` as its text bindings (test/runtime/ collects the audit events);
 *        `revocationFeed`: bind REVOCATION_FEED to the bundle's own RevocationFeed class (SQLite storage in a
 *        temporary directory, removed by `close`);
 *        `probe`: the request that tells the Worker is up (default GET /, any answer), polled every `pollMs`
 *        (default 20); with `probe.status` a different answer is an error; `v8Flags`: V8 flags of the
 *        process (workerd config `v8Flags`); `onLine`: called with each line workerd writes to stdout or
 *        stderr (workerd then runs under `stdbuf -oL`, so V8's traces arrive as they are written)
 * @returns {Promise<{ name: string, url: URL, pid: number, close: () => Promise<void>,
 *           startup: { ready_ms: number, cpu_us: number } }>} `startup`: wall time from the spawn to the
 *           first answer to the probe, and the process's CPU time right after it
 */
export async function startLean({
  root,
  buildDir,
  name,
  entry,
  compatibilityDate,
  compatibilityFlags = [],
  vars,
  kvSeed,
  inspectorPort,
  queueStub,
  queueVars = {},
  revocationFeed = false,
  probe = { path: "/" },
  pollMs = 20,
  v8Flags = [],
  onLine,
}) {
  const port = await freePort();
  const stubs = join(root, "bench", "workers");
  const queueModule = queueStub ?? join(stubs, "lean-queue.js");
  const flags = `compatibilityFlags = [${compatibilityFlags.map(capnpText).join(", ")}]`;
  // `embed` paths are relative to the config file (absolute ones are refused).
  const embed = (file) => `embed ${capnpText(relative(buildDir, file))}`;
  const bindings = [
    `(name = "KEYS", kvNamespace = (name = "kv"))`,
    `(name = "AUDIT_QUEUE", queue = (name = "queue"))`,
    ...Object.entries(vars).map(([key, value]) => `(name = ${capnpText(key)}, text = ${capnpText(value)})`),
    ...(revocationFeed ? [`(name = "REVOCATION_FEED", durableObjectNamespace = "RevocationFeed")`] : []),
  ];
  // The revocation feed's Durable Object lives in the bundle itself. Its SQLite storage is a throwaway
  // directory per process: workerd's in-memory storage has no SQL API, so every feed read would fail
  // (and the request path would run as with an unreachable feed).
  const storageDir = revocationFeed ? mkdtempSync(join(tmpdir(), "spot-bench-do-")) : null;
  const durableObjects = revocationFeed
    ? `durableObjectNamespaces = [(className = "RevocationFeed", uniqueKey = "spot-revocation-feed", enableSql = true)],
      durableObjectStorage = (localDisk = "do-storage"),`
    : "";
  const storageService = storageDir === null ? "" : `(name = "do-storage", disk = (path = ${capnpText(storageDir)}, writable = true)),`;
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  v8Flags = [${v8Flags.map(capnpText).join(", ")}],
  services = [
    (name = "main", worker = (
      modules = [(name = ${capnpText(basename(entry))}, esModule = ${embed(entry)})],
      compatibilityDate = ${capnpText(compatibilityDate)},
      ${flags},
      bindings = [
        ${bindings.join(",\n        ")}
      ],
      globalOutbound = "loopback",
      ${durableObjects}
    )),
    (name = "kv", worker = (
      modules = [(name = "lean-kv.js", esModule = ${embed(join(stubs, "lean-kv.js"))})],
      compatibilityDate = ${capnpText(compatibilityDate)},
      bindings = [(name = "SEED", text = ${capnpText(JSON.stringify(kvSeed))})],
    )),
    (name = "queue", worker = (
      modules = [(name = ${capnpText(basename(queueModule))}, esModule = ${embed(queueModule)})],
      compatibilityDate = ${capnpText(compatibilityDate)},
      bindings = [${Object.entries(queueVars)
        .map(([key, value]) => `(name = ${capnpText(key)}, text = ${capnpText(value)})`)
        .join(", ")}],
      globalOutbound = "loopback",
    )),
    (name = "loopback", network = (allow = ["local"])),
    ${storageService}
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
`;
  const configPath = join(buildDir, `lean-${name}.capnp`);
  writeFileSync(configPath, config);
  const args = ["serve", configPath, "--experimental", ...(inspectorPort ? [`--inspector-addr=127.0.0.1:${inspectorPort}`] : [])];
  const spawnedAt = performance.now();
  // V8's traces go to stdout, which a pipe would buffer in blocks: line-buffered when they are read line by line.
  const child = onLine
    ? spawn("stdbuf", ["-oL", "-eL", workerdBinary(root), ...args], { stdio: ["ignore", "pipe", "pipe"] })
    : spawn(workerdBinary(root), args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  // Each stream its own unfinished line: a chunk of one must not complete a line of the other.
  const keep = () => {
    let partial = "";
    return (chunk) => {
      output = (output + chunk).slice(-4000);
      if (onLine === undefined) return;
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) onLine(line);
    };
  };
  child.stdout.setEncoding("utf8").on("data", keep());
  child.stderr.setEncoding("utf8").on("data", keep());
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
    if (storageDir !== null) rmSync(storageDir, { recursive: true, force: true });
  };
  const url = new URL(`http://127.0.0.1:${port}/`);
  const deadline = Date.now() + 20_000;
  let startup;
  for (;;) {
    if (child.exitCode !== null) {
      await close(); // removes the Durable Object storage directory
      throw new Error(`workerd serve (${name}) exited with ${child.exitCode}:\n${output}`);
    }
    let res;
    try {
      res = await fetch(new URL(probe.path, url), { headers: probe.headers, signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
    } catch {
      if (Date.now() > deadline) {
        await close();
        throw new Error(`workerd serve (${name}) did not answer on ${url} within 20 s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, pollMs));
      continue;
    }
    startup = { ready_ms: performance.now() - spawnedAt, cpu_us: cpuMicrosPrecise(child.pid) };
    if (probe.status !== undefined && res.status !== probe.status) {
      await close();
      throw new Error(`workerd serve (${name}): the first answer to ${probe.path} was ${res.status}, not ${probe.status}:\n${output}`);
    }
    break;
  }
  return { name, url, pid: child.pid, close, output: () => output, startup };
}

/** `workerd --version` of the binary both modes run. */
export function workerdVersion(root) {
  return new Promise((resolve) => {
    const child = spawn(workerdBinary(root), ["--version"], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d) => {
      out += d;
    });
    child.on("error", () => resolve("unknown"));
    child.on("close", () => resolve(out.trim() || "unknown"));
  });
}
