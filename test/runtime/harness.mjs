// The production bundle on plain `workerd serve`, for tests where the runtime's own HTTP handling
// matters (uploads, disconnects, malformed origin answers, what a client's raw bytes become): built
// with `wrangler deploy --dry-run` exactly as a deploy would, with the compatibility date and flags of
// wrangler.toml, a seeded read-only KV, a queue stub that hands every audit message to this process,
// and origins that are small Node servers here. No Miniflare in between.

import http from "node:http";
import net from "node:net";
import { join } from "node:path";
import { buildProduction, compatibilityDate, compatibilityFlags } from "../../bench/lib/build.mjs";
import { liveKey } from "../../bench/lib/key.mjs";
import { startLean, startMiniflare } from "../../bench/lib/runtimes.mjs";
import { newSigningKey } from "../../scripts/assertion-key.mjs";

export const ACCOUNT = "acct_runtime";

/** The production bundle, built once per test process. */
let bundle;
export const KEY_ID = "key_runtime1";

/**
 * Builds the bundle and starts it with one key and the given origin.
 * @param {{ root: string, origin: string, vars?: Record<string, string>, runtime?: "workerd" | "miniflare" }} options
 *        `origin`: base URL every version is served from; `vars`: settings replacing the defaults below;
 *        `runtime`: plain workerd (default), or Miniflare as `npm start` runs it (no audit events collected)
 * @returns {Promise<{ url: URL, secret: string, events: () => object[], output: () => string, close: () => Promise<void> }>}
 *          `events`: the audit events received so far; `output`: workerd's recent log output
 */
export async function startAuthorizer({ root, origin, vars = {}, runtime = "workerd" }) {
  const buildDir = join(root, ".wrangler", "runtime-test");
  bundle ??= buildProduction(root, join(buildDir, "bundle"));
  const entry = await bundle;
  const collector = await startCollector();
  const key = liveKey({ accountId: ACCOUNT, keyId: KEY_ID, hashKeyId: "hk-runtime" });
  const versions = [{ version: "2024-11-15", status: "stable", origin }];
  const options = {
    root,
    buildDir,
    name: "runtime",
    entry,
    compatibilityDate: compatibilityDate(root),
    compatibilityFlags: compatibilityFlags(root),
    vars: {
      API_VERSIONS: JSON.stringify(versions),
      SECRET_HASH_KEY: key.hashKeyBase64,
      SECRET_HASH_KEY_ID: "hk-runtime",
      ASSERTION_ISSUER: "https://api.spot-thought.com",
      ASSERTION_SIGNING_KEY: JSON.stringify(newSigningKey("runtime")),
      AUDIT_BATCH_DELAY_MS: "10",
      AUTH_FAILURE_LIMIT: "1000000",
      ...vars,
    },
    kvSeed: { [key.kvKey]: key.record },
    revocationFeed: true,
  };
  let worker;
  try {
    worker =
      runtime === "miniflare"
        ? await startMiniflare({ ...options, consumer: false })
        : await startLean({
            ...options,
            queueStub: join(root, "test", "runtime", "queue-collector.js"),
            queueVars: { COLLECTOR_URL: collector.url },
          });
  } catch (err) {
    await collector.close();
    throw err;
  }
  return {
    url: worker.url,
    secret: key.secret,
    events: collector.events,
    output: worker.output ?? (() => ""),
    close: async () => {
      await worker.close();
      await collector.close();
    },
  };
}

/** A Node server that takes what the queue stub passes on and decodes the audit messages in it. */
async function startCollector() {
  const events = [];
  const server = http.createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => {
      text += chunk;
    });
    req.on("end", () => {
      try {
        const { path, body } = JSON.parse(text);
        const payload = Buffer.from(body, "base64").toString("utf8");
        // POST /message carries one message body; POST /batch a JSON list of base64 bodies.
        const bodies = path.endsWith("/batch")
          ? JSON.parse(payload).messages.map((m) => Buffer.from(m.body, "base64").toString("utf8"))
          : [payload];
        for (const message of bodies) events.push(...JSON.parse(message).events);
      } catch (err) {
        events.push({ collector_error: String(err) });
      }
      res.end("ok");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/collect`,
    events: () => events.slice(),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/**
 * Sends raw bytes on one TCP connection and collects what comes back.
 * @param {URL} url where the authorizer listens
 * @param {(socket: net.Socket) => Promise<void>} write writes the request (and may end or destroy the socket)
 * @param {{ readMs?: number }} options how long to keep reading after `write` returned (milliseconds)
 * @returns {Promise<{ text: string, bytes: number, closed: boolean, firstByteMs: number | null }>} what was
 *          received, and the milliseconds from the connection to its first byte (null: none)
 */
export async function rawExchange(url, write, { readMs = 3000 } = {}) {
  const startedAt = Date.now();
  const socket = net.connect(Number(url.port), url.hostname);
  const chunks = [];
  let closed = false;
  let firstByteMs = null;
  socket.on("data", (chunk) => {
    firstByteMs ??= Date.now() - startedAt;
    chunks.push(chunk);
  });
  socket.on("error", () => {});
  const ended = new Promise((resolve) => socket.once("close", resolve)).then(() => {
    closed = true;
  });
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  await write(socket);
  await Promise.race([ended, sleep(readMs)]);
  socket.destroy();
  const all = Buffer.concat(chunks);
  return { text: all.toString("latin1"), bytes: all.length, closed, firstByteMs };
}

/** The status code of a raw HTTP/1.1 response, or 0. */
export function statusOf(text) {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
  return match ? Number(match[1]) : 0;
}

/** The JSON body of a raw HTTP/1.1 response with Content-Length, or null. */
export function jsonOf(text) {
  const split = text.indexOf("\r\n\r\n");
  if (split < 0) return null;
  try {
    return JSON.parse(text.slice(split + 4));
  } catch {
    return null;
  }
}

/** The value of a response header (first one), or null. */
export function headerOf(text, name) {
  const head = text.slice(0, text.indexOf("\r\n\r\n"));
  const line = head.split("\r\n").find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line === undefined ? null : line.slice(line.indexOf(":") + 1).trim();
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls until `find` returns something, or `timeoutMs` milliseconds pass.
 * @returns the found value, or undefined
 */
export async function waitFor(find, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined && found !== null && found !== false) return found;
    if (Date.now() > deadline) return undefined;
    await sleep(25);
  }
}
