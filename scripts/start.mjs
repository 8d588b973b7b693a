// `npm start` / `npm run dev`: runs the whole edge authorizer on this machine, no Cloudflare
// account and no network (DESIGN §9).
//
//   1. .dev.vars       SECRET_HASH_KEY and ASSERTION_SIGNING_KEY (each generated once, kept), API_VERSIONS →
//                      local demo origins, and the admin API settings: ADMIN_JWKS = the public half of the dev
//                      admin key, generated on first start into .wrangler/admin-dev-key.json (git-ignored; the
//                      CLI mints tokens from it); CONSOLE_LOCAL_SIGN_IN="true" (the console's local sign-in,
//                      docs/console.md; never in wrangler.toml)
//      hash key        the fingerprint of SECRET_HASH_KEY is compared with the one the local keys were made
//                      with (.wrangler/hash-key-fingerprint.json, scripts/lib/hash-key.mjs): when they differ
//                      (.dev.vars deleted and regenerated, or edited), every local key made before answers
//                      401, and a warning says so and what to do
//   2. D1              `wrangler d1 migrations apply AUDIT_DB --local`
//   3. demo origins    scripts/demo-origin.mjs, 127.0.0.1:8700-8703, one per API version, and the sandbox on
//                      8704 (SANDBOX_ORIGIN, where test-mode keys go); each verifies
//                      X-Spot-Assertion against the Worker's JWKS and echoes the verified claims
//   4. wrangler dev    local mode (Miniflare's embedded KV, Queues, D1, Durable Objects) on wrangler.toml's [dev] address
//   5. demo key        through the admin API, exactly as `npx spot-keys create` does (scripts/admin-client.mjs):
//                      created on first start (acct_demo), secret kept in .wrangler/demo-key.json; a kept key
//                      that no longer authenticates (local state wiped, hash key changed) is revoked and replaced
//   6. banner          what runs where, a ready curl, the spot-keys commands and the console sign-in URL (a fresh dev token)
//
// Options: --reset-db    delete the local D1 database and R2 archive (the local audit trail) before migrating.
//          --reset-keys  delete the local keys (KV, the AccountKeys and SecretClaims Durable Objects, the demo
//                        key) before starting: a new start with the hash key in .dev.vars.
//          --simulate-kv-lag SECONDS
//                        (drills) every KV read of the Worker returns, for SECONDS, the value that isolate first
//                        read, as a distant location's KV does while a write propagates; compiled in with
//                        `wrangler dev --define`, never part of a deployed bundle (npm run drill:revocation).
// Ctrl-C / SIGTERM stops everything; if wrangler dies, the origins are stopped and the exit code is 1.
//
// Plain ESM, node: builtins only. The toolchain needs Node ≥ 22: `npm start` runs this with the
// Node 22 binary of the `node` devDependency (node_modules/.bin), and every wrangler command is
// spawned through that same binary (process.execPath).

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  AdminApiError,
  adminRequest,
  DEV_ADMIN_KEY_FILE,
  DEV_AUDIENCE,
  DEV_ISSUER,
  generateDevAdminKey,
  mintDevToken,
  readDevAdminKey,
} from "./admin-client.mjs";
import { isUsableSigningKey, newSigningKey } from "./assertion-key.mjs";
import { DEMO_HOST, DEMO_ORIGINS, DEMO_SANDBOX, startDemoOrigins } from "./demo-origin.mjs";
import { decodeHashKey, hashKeyWarning, prepareLocalKeys } from "./lib/hash-key.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");
const DEV_VARS = join(ROOT, ".dev.vars");
/** Hours the console sign-in link of the banner stays valid (a dev admin token; run npm start again for a new one). */
const CONSOLE_TOKEN_HOURS = 8;
const WRANGLER_TOML = join(ROOT, "wrangler.toml");
const MIGRATIONS_DIR = join(ROOT, "migrations");
const STATE_DIR = join(ROOT, ".wrangler");
const LOCAL_D1_DIR = join(STATE_DIR, "state", "v3", "d1");
/** Miniflare's local R2: the audit archive (the only bucket, AUDIT_ARCHIVE). */
const LOCAL_R2_DIR = join(STATE_DIR, "state", "v3", "r2");
const DEMO_KEY_FILE = join(STATE_DIR, "demo-key.json");
const APPLIED_MIGRATIONS_FILE = join(STATE_DIR, "start-migrations.json");

const DEMO_ACCOUNT = "acct_demo";
const DEMO_LABEL = "demo key (npm start)";

/** Local version table: the shape of wrangler.toml's API_VERSIONS, pointing at the demo origins. */
const VERSION_STATUS = [
  { version: "2024-06-01", status: "stable" },
  { version: "2024-11-15", status: "stable" },
  { version: "2025-03-01", status: "preview" },
  { version: "2023-08-01", status: "deprecated", deprecated_on: "2024-06-01", sunset: "2099-12-31" },
];
const LOCAL_API_VERSIONS = VERSION_STATUS.map((entry) => {
  const demo = DEMO_ORIGINS.find((o) => o.version === entry.version);
  if (!demo) throw new Error(`no demo origin for version ${entry.version}`);
  const { version, status, ...dates } = entry;
  return { version, status, origin: `http://${DEMO_HOST}:${demo.port}`, ...dates };
});

// Format rules mirrored from src/keys/format.ts and src/admin/model.ts (this script cannot import TypeScript).
const API_KEY_PATTERN = /^acct_[A-Za-z0-9]{1,64}$/;
const API_SECRET_PATTERN = /^sk_(live|test)_[A-Za-z0-9]{4,128}$/;
const KEY_ID_PATTERN = /^key_[A-Za-z0-9]{1,64}$/;
/** .dev.vars lines npm start owns and rewrites on every start (everything else is kept as it is). */
const MANAGED_VARS = [
  "API_VERSIONS",
  "SANDBOX_ORIGIN",
  "ADMIN_JWKS",
  "ADMIN_JWKS_URL",
  "ADMIN_JWT_ISSUER",
  "ADMIN_JWT_AUDIENCE",
  "ADMIN_JWT_ALGORITHMS",
  "CONSOLE_LOCAL_SIGN_IN",
];

// Environment for every wrangler command: never phone home (metrics, error reports, the update
// check in the banner, Miniflare's download of the Request.cf object), and make sure anything
// wrangler spawns as `node` is this Node 22 too.
const WRANGLER_ENV = {
  ...process.env,
  PATH: `${dirname(process.execPath)}${process.platform === "win32" ? ";" : ":"}${process.env.PATH ?? ""}`,
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  WRANGLER_HIDE_BANNER: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
};

// ---------------------------------------------------------------------------------------------
// Output

const useColor = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const paint = (code) => (text) => (useColor ? `\x1b[${code}m${text}\x1b[0m` : text);
const bold = paint("1");
const dim = paint("2");
const green = paint("32");
const yellow = paint("33");
const red = paint("31");
const cyan = paint("36");

const step = (text) => console.log(`${cyan("▸")} ${text}`);
const warn = (text) => console.warn(`${yellow("!")} ${text}`);

class StartError extends Error {
  name = "StartError";
}

// ---------------------------------------------------------------------------------------------
// Children

/**
 * Process groups of the children started here (each child leads its own group: wrangler dev runs
 * workerd in it). Kept until the whole group is gone, not just the direct child, so a signal or a
 * crash can stop everything.
 */
const groups = new Set();

function spawnInGroup(args, env) {
  const child = spawn(process.execPath, [WRANGLER, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  if (child.pid !== undefined) groups.add(child.pid);
  return child;
}

/** Sends `signal` to every process of a group; false when the group no longer exists. */
function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

/** Stops every child group: SIGINT (what Ctrl-C would send), then SIGKILL after `graceMs`. */
async function stopGroups(graceMs) {
  for (const pgid of groups) if (!signalGroup(pgid, "SIGINT")) groups.delete(pgid);
  const deadline = Date.now() + graceMs;
  while (groups.size > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    for (const pgid of groups) if (!signalGroup(pgid, 0)) groups.delete(pgid);
  }
  for (const pgid of groups) signalGroup(pgid, "SIGKILL");
  groups.clear();
}

// Last resort: whatever way this process ends, no child outlives it.
process.on("exit", () => {
  for (const pgid of groups) signalGroup(pgid, "SIGKILL");
});

/**
 * Runs one wrangler command to completion with no TTY and CI=true, so every confirmation takes its
 * non-interactive default instead of waiting for a keypress.
 * @returns {Promise<{ code: number | null, signal: string | null, output: string, stdout: string }>}
 */
function runWrangler(args) {
  return new Promise((resolve, reject) => {
    const child = spawnInGroup(args, { ...WRANGLER_ENV, CI: "true" });
    let stdout = "";
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      stdout += chunk;
      output += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk) => {
      output += chunk;
    });
    child.on("error", (err) => {
      groups.delete(child.pid);
      reject(new StartError(`could not run wrangler (${err.message}); did \`npm ci\` finish?`));
    });
    child.on("close", (code, signal) => {
      groups.delete(child.pid);
      resolve({ code, signal, output, stdout });
    });
  });
}

/** Like {@link runWrangler}, but a failure stops the start with wrangler's own output. */
async function wranglerStep(what, args) {
  const result = await runWrangler(args);
  if (result.code !== 0) {
    const shown = result.output.trim() || "(no output)";
    throw new StartError(
      `${what} failed: \`wrangler ${args.join(" ")}\` exited with ${result.signal ?? `code ${result.code}`}\n${indent(shown, "  │ ")}`,
    );
  }
  return result;
}

function indent(text, prefix) {
  return text
    .split("\n")
    .map((line) => `${prefix}${line}`)
    .join("\n");
}

// ---------------------------------------------------------------------------------------------
// Small file helpers

function readText(path) {
  return existsSync(path) ? readFileSync(path, "utf8") : null;
}

/** Writes a file readable by its owner only (it holds a secret). */
function writePrivate(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

// ---------------------------------------------------------------------------------------------
// 1. .dev.vars

/**
 * Finds the assignments of a dotenv file, with the lines each one spans (a quoted value may run
 * over several lines), in the syntax wrangler reads (.dev.vars is dotenv).
 * @returns {{ name: string, value: string, start: number, end: number }[]} `end` inclusive
 */
function parseDotenv(text) {
  const lines = text.split("\n");
  const entries = [];
  for (let i = 0; i < lines.length; i++) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(lines[i]);
    if (!match) continue;
    const [, name, rest] = match;
    const start = i;
    let value;
    const quote = rest[0];
    if (quote === "'" || quote === '"' || quote === "`") {
      let body = rest.slice(1);
      let close = body.indexOf(quote);
      while (close < 0 && i + 1 < lines.length) {
        i++;
        body += `\n${lines[i]}`;
        close = body.indexOf(quote);
      }
      value = close < 0 ? body : body.slice(0, close);
    } else {
      value = rest.replace(/\s+#.*$/, "").trim();
    }
    entries.push({ name, value, start, end: i });
  }
  return entries;
}

/**
 * Makes sure .dev.vars holds a usable SECRET_HASH_KEY and ASSERTION_SIGNING_KEY (each kept across
 * runs), API_VERSIONS for the demo origins and the admin API settings for the dev admin key; every
 * other line is kept as it is.
 * @param {object} adminPublicJwk the public half of the dev admin key (see {@link ensureDevAdminKey})
 * @returns {{ vars: Map<string, string>, hashKeyGenerated: boolean }} the variables as wrangler will read
 *   them; whether this call generated SECRET_HASH_KEY (there was no usable one)
 */
function ensureDevVars(adminPublicJwk) {
  const before = readText(DEV_VARS);
  const lines = before === null ? [] : before.replace(/\n$/, "").split("\n");
  const entries = parseDotenv(before ?? "");
  const drop = new Set();
  const commentOut = new Set();
  const notes = [];

  let hashKeyText = null;
  let hashKeyGenerated = false;
  let signingKeyText = null;
  for (const entry of entries) {
    if (entry.name === "ASSERTION_SIGNING_KEY") {
      if (isUsableSigningKey(entry.value)) {
        signingKeyText = entry.value.trim();
      } else {
        for (let i = entry.start; i <= entry.end; i++) commentOut.add(i);
        notes.push("ASSERTION_SIGNING_KEY in .dev.vars was not an Ed25519 private JWK with a kid: replaced (old line kept as a comment)");
      }
    } else if (MANAGED_VARS.includes(entry.name)) {
      for (let i = entry.start; i <= entry.end; i++) drop.add(i);
    } else if (entry.name === "SECRET_HASH_KEY") {
      if (decodeHashKey(entry.value)) {
        hashKeyText = entry.value.trim();
      } else {
        for (let i = entry.start; i <= entry.end; i++) commentOut.add(i);
        notes.push("SECRET_HASH_KEY in .dev.vars was not base64 of at least 32 bytes: replaced (old line kept as a comment)");
      }
    }
  }
  // With several valid SECRET_HASH_KEY lines the last one wins, as in dotenv.
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    if (drop.has(i)) continue;
    out.push(commentOut.has(i) ? `# replaced by npm start: ${lines[i]}` : lines[i]);
  }
  if (!hashKeyText) {
    hashKeyText = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
    hashKeyGenerated = true;
    out.push("# HMAC key for secret hashes (base64 of 32 random bytes), generated by npm start and kept across runs.");
    out.push(`SECRET_HASH_KEY=${hashKeyText}`);
    notes.push(before === null ? "created .dev.vars with a new SECRET_HASH_KEY" : "added a new SECRET_HASH_KEY to .dev.vars");
  }
  if (!signingKeyText) {
    signingKeyText = JSON.stringify(newSigningKey(`dev-${new Date().toISOString().slice(0, 10)}-${crypto.randomUUID().slice(0, 8)}`));
    out.push("# Ed25519 private JWK that signs X-Spot-Assertion (docs/assertion.md), generated by npm start and kept across runs.");
    out.push(`ASSERTION_SIGNING_KEY='${signingKeyText}'`);
    notes.push(`added a new ASSERTION_SIGNING_KEY to .dev.vars (kid ${JSON.parse(signingKeyText).kid})`);
  }
  // Wrangler reads .dev.vars after [vars], so these replace the production values locally.
  out.push(`API_VERSIONS='${JSON.stringify(LOCAL_API_VERSIONS)}'`);
  // Test-mode keys (sk_test_) reach the demo sandbox for every version, never a version's origin.
  out.push(`SANDBOX_ORIGIN="http://${DEMO_HOST}:${DEMO_SANDBOX.port}"`);
  // Admin API: trust the dev admin key only (inline JWKS; the production JWKS URL is switched off).
  out.push(`ADMIN_JWKS='${JSON.stringify({ keys: [adminPublicJwk] })}'`);
  out.push('ADMIN_JWKS_URL=""');
  out.push(`ADMIN_JWT_ISSUER="${DEV_ISSUER}"`);
  out.push(`ADMIN_JWT_AUDIENCE="${DEV_AUDIENCE}"`);
  out.push(`ADMIN_JWT_ALGORITHMS="${adminPublicJwk.alg}"`);
  // The console's local sign-in (docs/console.md): only here, never in wrangler.toml.
  out.push('CONSOLE_LOCAL_SIGN_IN="true"');
  const after = `${out.join("\n")}\n`;
  if (after !== before) writePrivate(DEV_VARS, after);
  for (const note of notes) step(note);

  const vars = new Map(parseDotenv(after).map((e) => [e.name, e.value]));
  return { vars, hashKeyGenerated };
}

/**
 * The dev admin key: kept in .wrangler/admin-dev-key.json (private, git-ignored), generated on first
 * start or when that file is gone. @returns the public JWK for ADMIN_JWKS
 */
async function ensureDevAdminKey() {
  let file = readDevAdminKey();
  if (file === null) {
    const generated = await generateDevAdminKey();
    file = generated.privateFile;
    writePrivate(DEV_ADMIN_KEY_FILE, `${JSON.stringify(file, null, 2)}\n`);
    step("generated a dev admin key pair: public JWK → .dev.vars (ADMIN_JWKS), private → .wrangler/admin-dev-key.json");
  }
  const { kty, crv, x, y, kid, alg } = file.private_jwk;
  return { kty, crv, x, y, kid, alg, use: "sig" };
}

// ---------------------------------------------------------------------------------------------
// wrangler.toml (only the few plain values this script needs; not a TOML parser)

function readTomlValues() {
  const text = readText(WRANGLER_TOML);
  if (text === null) throw new StartError("wrangler.toml not found next to package.json");
  const sections = new Map();
  let current = "";
  for (const line of text.split("\n")) {
    const header = /^\s*\[\[?([^\]]+)\]\]?\s*(#.*)?$/.exec(line);
    if (header) {
      current = header[1].trim();
      continue;
    }
    const kv = /^\s*([A-Za-z0-9_]+)\s*=\s*("([^"]*)"|(\d+))\s*(#.*)?$/.exec(line);
    if (!kv) continue;
    if (!sections.has(current)) sections.set(current, new Map());
    sections.get(current).set(kv[1], kv[3] ?? kv[4]);
  }
  const dev = sections.get("dev") ?? new Map();
  return {
    workerName: sections.get("")?.get("name"),
    devIp: dev.get("ip") ?? "127.0.0.1",
    devPort: Number(dev.get("port") ?? 8787),
    hashKeyId: sections.get("vars")?.get("SECRET_HASH_KEY_ID"),
    issuer: sections.get("vars")?.get("ASSERTION_ISSUER"),
  };
}

// ---------------------------------------------------------------------------------------------
// 2. D1 migrations

function migrationHashes() {
  if (!existsSync(MIGRATIONS_DIR)) return {};
  const out = {};
  for (const name of readdirSync(MIGRATIONS_DIR).sort()) {
    if (name.endsWith(".sql"))
      out[name] = createHash("sha256")
        .update(readFileSync(join(MIGRATIONS_DIR, name)))
        .digest("hex");
  }
  return out;
}

async function applyMigrations(resetDb) {
  if (resetDb && (existsSync(LOCAL_D1_DIR) || existsSync(LOCAL_R2_DIR))) {
    rmSync(LOCAL_D1_DIR, { recursive: true, force: true });
    rmSync(LOCAL_R2_DIR, { recursive: true, force: true });
    step("--reset-db: deleted the local D1 database and R2 archive (local audit trail)");
  }
  const current = migrationHashes();
  // Wrangler tracks applied migrations by file name only: an edited file is never re-applied.
  if (existsSync(LOCAL_D1_DIR)) {
    let applied = {};
    try {
      applied = JSON.parse(readText(APPLIED_MIGRATIONS_FILE) ?? "{}");
    } catch {
      applied = {};
    }
    const changed = Object.keys(applied).filter((name) => current[name] && current[name] !== applied[name]);
    if (changed.length > 0) {
      warn(
        `${changed.map((n) => `migrations/${n}`).join(", ")} changed after it was applied to the local D1 database;` +
          " wrangler does not re-apply an edited migration, so the local tables may be stale." +
          ` Run ${bold("npm start -- --reset-db")} to rebuild the local database (this deletes the local audit trail).`,
      );
    }
  }
  const result = await wranglerStep("Applying the D1 migrations", ["d1", "migrations", "apply", "AUDIT_DB", "--local"]);
  // wrangler prints the table again after each migration: every name once.
  const applied = [...new Set([...result.stdout.matchAll(/(\d+_[\w.-]+\.sql)\s*│\s*✅/g)].map((m) => m[1]))];
  step(applied.length > 0 ? `D1 (AUDIT_DB, local): applied ${applied.join(", ")}` : "D1 (AUDIT_DB, local): migrations up to date");
  let record = {};
  try {
    record = JSON.parse(readText(APPLIED_MIGRATIONS_FILE) ?? "{}");
  } catch {
    record = {};
  }
  for (const name of applied) record[name] = current[name];
  // First run of this script against a database migrated by hand: start tracking from here.
  for (const name of Object.keys(current)) record[name] ??= current[name];
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(APPLIED_MIGRATIONS_FILE, `${JSON.stringify(record, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------
// 5. Demo key, through the admin API (the same path as `npx spot-keys create`)

/** @returns the kept demo key, null when there is none; a file from before the admin API is reported as legacy */
function readDemoKey() {
  const text = readText(DEMO_KEY_FILE);
  if (text === null) return null;
  try {
    const demo = JSON.parse(text);
    if (API_KEY_PATTERN.test(demo.account_id) && KEY_ID_PATTERN.test(demo.key_id) && API_SECRET_PATTERN.test(demo.secret)) {
      return demo.created_via === "admin-api" ? demo : { ...demo, legacy: true };
    }
  } catch {
    // fall through
  }
  warn(".wrangler/demo-key.json is unreadable: creating a new demo key");
  return null;
}

/**
 * A demo key written straight into local KV by an older `npm start` is unknown to the admin API:
 * remove its KV record (before wrangler dev holds the local state) so every local key is managed.
 */
async function dropLegacyDemoKey() {
  const demo = readDemoKey();
  if (demo?.legacy !== true) return;
  if (typeof demo.kv_key === "string" && /^secret:[0-9a-f]{64}$/.test(demo.kv_key)) {
    await runWrangler(["kv", "key", "delete", "--local", "--binding", "KEYS", demo.kv_key]);
  }
  rmSync(DEMO_KEY_FILE, { force: true });
  step("removed the demo key of an older npm start (written straight into KV); a new one comes from the admin API");
}

/** Status of `GET /` with the demo credentials: anything but 401 means the key authenticates. */
async function demoKeyWorks(url, demo) {
  const res = await fetch(`${url}/`, {
    headers: { "X-Spot-Api-Key": demo.account_id, "X-Spot-Api-Secret": demo.secret, "user-agent": "spot-start/demo-check" },
    signal: AbortSignal.timeout(15_000),
  });
  await res.body?.cancel();
  return res.status !== 401;
}

/**
 * Reuses the kept demo key while it authenticates, else makes a new one through the admin API.
 * @param {string} url the local authorizer
 * @param {{ hashKeyChanged: boolean }} options `hashKeyChanged`: the local keys were made with another
 *   SECRET_HASH_KEY (scripts/lib/hash-key.mjs), which is then named as the reason a kept key fails
 * @returns the demo key as kept in .wrangler/demo-key.json (its secret included)
 */
async function ensureDemoKey(url, { hashKeyChanged }) {
  const token = await mintDevToken({ sub: "npm-start@localhost" });
  const admin = (method, path, body) => adminRequest({ baseUrl: url, token, method, path, body });
  let demo = readDemoKey();
  if (demo !== null && (await demoKeyWorks(url, demo))) {
    step(`demo key ${demo.key_id} found`);
    return demo;
  }
  if (demo !== null) {
    // Local state wiped or hash key changed: retire the old key if the admin API still knows it.
    try {
      await admin("POST", `/accounts/${demo.account_id}/keys/${demo.key_id}/revoke`, {});
    } catch (err) {
      if (!(err instanceof AdminApiError && err.status === 404)) throw err;
    }
  }
  const { body } = await admin("POST", `/accounts/${DEMO_ACCOUNT}/keys`, { label: DEMO_LABEL });
  const reason =
    demo === null
      ? "created"
      : hashKeyChanged
        ? `replaced (the kept one, ${demo.key_id}, was made with the previous SECRET_HASH_KEY; revoked)`
        : "replaced (the kept one no longer authenticated)";
  demo = {
    note: "Local demo key created by `npm start` through the admin API. The secret exists only here (KV holds its HMAC). Never commit this file.",
    created_via: "admin-api",
    account_id: body.key.account_id,
    key_id: body.key.key_id,
    mode: body.key.mode,
    secret: body.secret,
    created_at: body.key.created_at,
  };
  writePrivate(DEMO_KEY_FILE, `${JSON.stringify(demo, null, 2)}\n`);
  step(`demo key ${demo.key_id} ${reason} through the admin API`);
  return demo;
}

// ---------------------------------------------------------------------------------------------
// 3-4. Processes

/** Fails with a message naming the port when something already listens on it. */
function assertPortFree(host, port, what) {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", (err) => {
      if (err.code === "EADDRINUSE")
        reject(new StartError(`port ${port} is already in use (needed for ${what} on ${host}:${port}); stop whatever holds it`));
      else reject(new StartError(`cannot listen on ${host}:${port} for ${what}: ${err.message}`));
    });
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

function pipeLines(stream, prefix, write) {
  createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => write(`${prefix}${line}`));
}

/**
 * @param {number | null} kvLagMs milliseconds of simulated KV lag (`--simulate-kv-lag`), or null
 */
function startWranglerDev(kvLagMs) {
  const args = [
    "dev",
    // Drills only: compiled into this dev build alone (src/keys/kv-lag.ts).
    ...(kvLagMs === null ? [] : ["--define", `__SPOT_KV_LAG_MS__:${kvLagMs}`]),
    // Local mode only: Miniflare's embedded KV/Queues/D1/R2 in .wrangler/state, remote bindings off.
    "--local",
    // No hotkey session: stdin is not a terminal here, and Ctrl-C must reach this script.
    "--show-interactive-dev-session=false",
  ];
  const child = spawnInGroup(args, { ...WRANGLER_ENV, ...(useColor ? { FORCE_COLOR: "1" } : {}) });
  const prefix = dim("[wrangler] ");
  pipeLines(child.stdout, prefix, (line) => console.log(line));
  pipeLines(child.stderr, prefix, (line) => console.error(line));
  return child;
}

/** Resolves once anything answers HTTP at `url` (any status); rejects if `abort` fires first. */
async function waitForHttp(url, abort) {
  const started = Date.now();
  let hinted = false;
  while (!abort.aborted) {
    try {
      const res = await fetch(url, {
        signal: AbortSignal.any([abort, AbortSignal.timeout(5000)]),
        headers: { "user-agent": "spot-start/readiness" },
      });
      await res.body?.cancel();
      return;
    } catch {
      if (abort.aborted) break;
    }
    if (!hinted && Date.now() - started > 45_000) {
      hinted = true;
      warn(`still waiting for ${url}: a build error above? wrangler dev reloads when the Worker compiles (Ctrl-C to stop)`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new StartError("stopped while waiting for wrangler dev");
}

/**
 * The hash key warning (scripts/lib/hash-key.mjs hashKeyWarning) framed in red, on stderr.
 * @param {string[]} lines plain text
 */
function printHashKeyWarning(lines) {
  const rule = red("!".repeat(78));
  console.warn(["", rule, ...lines.map((line, i) => `${red("!")} ${i === 0 ? bold(red(line)) : line}`), rule, ""].join("\n"));
}

/**
 * The closing banner: where everything runs, a ready curl and the spot-keys commands.
 * @param {{ url: string, demo: object, hashKeyChanged: boolean, consoleToken: string }} input `hashKeyChanged`: add a line
 *   pointing at the hash key warning printed just before; `consoleToken`: a fresh dev admin token for the console's sign-in URL
 */
function banner({ url, demo, hashKeyChanged, consoleToken }) {
  const line = dim("─".repeat(78));
  const byVersion = [...LOCAL_API_VERSIONS].sort((a, b) => a.version.localeCompare(b.version));
  const latestStable = LOCAL_API_VERSIONS.filter((v) => v.status === "stable")
    .map((v) => v.version)
    .sort()
    .at(-1);
  const curl = (version) =>
    `curl -sS ${url}/v1/charges -H 'X-Spot-Api-Key: ${demo.account_id}' -H 'X-Spot-Api-Secret: ${demo.secret}' -H 'X-Spot-Api-Version: ${version}'`;
  const out = [
    "",
    line,
    ` ${bold("Spot Thought edge authorizer")} is running locally ${dim("(no Cloudflare account, no network)")}`,
    "",
    `   authorizer    ${bold(url)}  ${dim("wrangler dev: local KV, Queues, D1 and R2 in .wrangler/state")}`,
    ...byVersion.map(
      (v, i) =>
        `   ${i === 0 ? "demo origins" : "            "}  ${v.origin}  ${v.version} ${v.status}${v.version === latestStable ? " (default)" : ""}${v.sunset ? ` (sunset ${v.sunset})` : ""}`,
    ),
    `                 http://${DEMO_HOST}:${DEMO_SANDBOX.port}  sandbox: every version, test-mode keys (sk_test_) only`,
    `   JWKS          ${url}/.well-known/spot-authorizer/jwks.json  ${dim("(no API key; the demo origins verify X-Spot-Assertion with it)")}`,
    `   demo key      account ${bold(demo.account_id)}  key ${bold(demo.key_id)}  live  ${dim("(secret kept in .wrangler/demo-key.json)")}`,
    ...(hashKeyChanged
      ? [
          "",
          `   ${red(bold("! SECRET_HASH_KEY changed:"))} the local keys made before it answer 401 (see the warning above;`,
          `     restore the old .dev.vars, or ${bold("npm start -- --reset-keys")})`,
        ]
      : []),
    "",
    ` Try it:`,
    `   ${green(curl("2024-11-15"))}`,
    `   ${green(curl("2024-06-01"))}`,
    `   ${green("npm run audit:tail")}   ${dim("# newest rows of the audit trail (local D1)")}`,
    `   ${green(`npx spot-keys list --account ${demo.account_id}`)}   ${dim("# keys through the admin API (dev admin token minted locally)")}`,
    `   ${green("npx spot-keys create --account acct_42")}`,
    `   ${green("npx spot-keys create --account acct_42 --mode test --allow-ip 127.0.0.1 --rate-limit 60")}   ${dim("# reaches the sandbox; 403 from other addresses")}`,
    "",
    ` Web console ${dim(`(keys and audit in a browser; this link signs you in for ${CONSOLE_TOKEN_HOURS} h, from this machine only):`)}`,
    `   ${green(`${url}/__spot/console/sign-in?token=${consoleToken}`)}`,
    "",
    ` ${dim("Ctrl-C stops everything.")}`,
    line,
    "",
  ];
  console.log(out.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  const { values } = parseArgs({
    options: {
      "reset-db": { type: "boolean", default: false },
      "reset-keys": { type: "boolean", default: false },
      "simulate-kv-lag": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: false,
  });
  if (values.help) {
    console.log(
      [
        "usage: npm start [-- [--reset-db] [--reset-keys] [--simulate-kv-lag SECONDS]]",
        "  --reset-db    delete the local D1 database and R2 archive (local audit trail) before applying the migrations",
        "  --reset-keys  delete the local keys (KV, the AccountKeys and SecretClaims Durable Objects,",
        "                .wrangler/demo-key.json) and start over with the SECRET_HASH_KEY in .dev.vars;",
        "                the remedy when npm start warns that SECRET_HASH_KEY changed",
        "  --simulate-kv-lag SECONDS",
        "                (drills) every KV read of the Worker returns, for SECONDS, the value that isolate",
        "                first read: KV held stale as during propagation (npm run drill:revocation)",
      ].join("\n"),
    );
    return 0;
  }

  let kvLagMs = null;
  if (values["simulate-kv-lag"] !== undefined) {
    const seconds = Number(values["simulate-kv-lag"]);
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > 600)
      throw new StartError("--simulate-kv-lag takes whole seconds from 1 to 600");
    kvLagMs = seconds * 1000;
  }

  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 22 || (major === 22 && minor < 12)) {
    throw new StartError(
      `Node ${process.versions.node} is too old for wrangler (needs ≥ 22.12). Run it as \`npm start\`, which uses the Node 22 from node_modules/.bin (after \`npm ci\`).`,
    );
  }
  if (!existsSync(WRANGLER)) throw new StartError("node_modules/.bin/wrangler not found: run `npm ci` first");

  const toml = readTomlValues();
  const url = `http://${toml.devIp}:${toml.devPort}`;

  let stopping = false;
  let origins = null;
  const stopAll = async (code, message) => {
    if (stopping) return;
    stopping = true;
    if (message) console.error(message);
    await Promise.all([stopGroups(8000), origins?.close()]);
    process.exit(code);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      if (!stopping) console.log(`\n${dim(`${signal}: stopping…`)}`);
      stopAll(0);
    });
  }

  /** The hash key warning's lines when the local keys were made with another SECRET_HASH_KEY, else null. */
  let warning = null;
  try {
    // 1
    const adminPublicJwk = await ensureDevAdminKey();
    const { vars, hashKeyGenerated } = ensureDevVars(adminPublicJwk);
    const hashKeyId = vars.get("SECRET_HASH_KEY_ID") ?? toml.hashKeyId;
    if (!hashKeyId) throw new StartError("SECRET_HASH_KEY_ID not found in wrangler.toml [vars]");
    step(
      `.dev.vars ready: SECRET_HASH_KEY, ASSERTION_SIGNING_KEY, ADMIN_JWKS (dev admin key ${adminPublicJwk.kid}), API_VERSIONS → demo origins on ports ${DEMO_ORIGINS.map((o) => o.port).join(", ")}`,
    );
    // Fail on busy ports before doing anything slow.
    await assertPortFree(toml.devIp, toml.devPort, "wrangler dev");
    for (const { version, port } of DEMO_ORIGINS) await assertPortFree(DEMO_HOST, port, `the ${version} demo origin`);
    // Local keys against the hash key (and --reset-keys), before wrangler dev holds the local state.
    if (!toml.workerName) throw new StartError("name not found in wrangler.toml");
    const keys = prepareLocalKeys({
      stateDir: STATE_DIR,
      workerName: toml.workerName,
      hashKey: vars.get("SECRET_HASH_KEY"),
      resetKeys: values["reset-keys"],
    });
    if (values["reset-keys"]) {
      step(
        keys.removed.length > 0
          ? `--reset-keys: deleted the local keys (${keys.removed.join(", ")}); new keys are made with the SECRET_HASH_KEY of .dev.vars (fingerprint ${keys.current})`
          : "--reset-keys: there were no local keys to delete",
      );
    }
    const hashKeyChanged = keys.status === "changed";
    warning = hashKeyChanged
      ? hashKeyWarning({ recorded: keys.recorded, recordedAt: keys.recordedAt, current: keys.current, generatedNow: hashKeyGenerated })
      : null;
    if (warning)
      warn(
        red(
          `SECRET_HASH_KEY changed since the local keys were made (fingerprint ${keys.recorded} → ${keys.current}): they answer 401; details below`,
        ),
      );
    else if (keys.status === "unrecorded")
      step(
        `recorded the fingerprint of SECRET_HASH_KEY (${keys.current}) in .wrangler/hash-key-fingerprint.json: the local keys are taken as made with it`,
      );
    // 2
    await applyMigrations(values["reset-db"]);
    await dropLegacyDemoKey();
    if (stopping) return 0;
    // 3
    const issuer = vars.get("ASSERTION_ISSUER") ?? toml.issuer;
    if (!issuer) throw new StartError("ASSERTION_ISSUER not found in wrangler.toml [vars]");
    origins = await startDemoOrigins({ log: (line) => console.log(dim(line)), authorizerUrl: url, issuer });
    step(`demo origins listening on ${DEMO_HOST}:${DEMO_ORIGINS.map((o) => o.port).join(", ")}`);
    // 4
    await assertPortFree(toml.devIp, toml.devPort, "wrangler dev");
    step(`starting wrangler dev on ${url} …`);
    const dev = startWranglerDev(kvLagMs);
    const devExited = new AbortController();
    // "exit", not "close": workerd (same group) may still hold the output pipes.
    dev.on("exit", (code, signal) => {
      devExited.abort();
      if (!stopping) stopAll(1, red(`✘ wrangler dev exited unexpectedly (${signal ?? `code ${code}`}); stopping the demo origins.`));
    });
    dev.on("error", (err) => {
      devExited.abort();
      if (!stopping) stopAll(1, red(`✘ could not start wrangler dev: ${err.message}`));
    });
    await waitForHttp(`${url}/`, devExited.signal);
    // 5
    const demo = await ensureDemoKey(url, { hashKeyChanged });
    // The whole warning where the eye lands, just above the banner.
    if (warning) printHashKeyWarning(warning);
    const consoleToken = await mintDevToken({ ttlSeconds: CONSOLE_TOKEN_HOURS * 3600 });
    banner({ url, demo, hashKeyChanged, consoleToken });
  } catch (err) {
    if (stopping) return 0;
    // Not started, but the hash key trouble stays: say it in full here too.
    if (warning) printHashKeyWarning(warning);
    await stopAll(1, red(`✘ ${err instanceof StartError ? err.message : (err?.stack ?? String(err))}`));
  }
  return null; // keeps running until a signal or a child's exit
}

main().then(
  (code) => {
    if (code !== null) process.exit(code);
  },
  (err) => {
    console.error(red(`✘ ${err instanceof StartError ? err.message : (err?.stack ?? String(err))}`));
    process.exit(1);
  },
);
