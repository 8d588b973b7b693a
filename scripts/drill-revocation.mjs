// `npm run drill:revocation`: how long a key keeps working after the admin API said it stopped
// (README "Revocation bound", docs/storage.md "Revocation feed").
//
// Starts the local stack (`scripts/start.mjs --simulate-kv-lag 60`: every KV read of the Worker returns,
// for 60 s, the value that isolate first read, as a distant location's KV does while a write
// propagates), then for each change: makes a key, warms it (200s, so the isolate caches its record and
// the lagging KV holds the active one), makes the change through the admin API, and sends a request
// every 50 ms with the old secret until the first 401. Prints the time from the admin API's answer to
// that 401, for
//   revoke    POST …/keys/{key_id}/revoke
//   rotate    POST …/keys/{key_id}/rotate with overlap 0 (the old secret)
//   suspend   POST …/accounts/{account_id}/suspend (then resume)
// and ends with `drill: revoke=…s rotate=…s suspend=…s bound=5s`, exit 0 only when every time is within
// the bound. Traffic goes to 127.0.0.1 only; each wait stops after 20 s.
//
// `npm run drill:revocation -- --port N` runs the stack on N (and its demo origins on N-87…N-83, as
// `npm start -- --port N`), e.g. beside another checkout's npm start on 8787.

import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { adminRequest, mintDevToken } from "./admin-client.mjs";
import { startStack } from "./lib/stack.mjs";
import { DEFAULT_PORT, parsePort } from "./start/args.mjs";

/** The stack's address (--port). */
let BASE = `http://127.0.0.1:${DEFAULT_PORT}`;
/** Seconds every KV read stays stale in the drill's stack. */
const KV_LAG_SECONDS = 60;
/** The stated bound the drill checks, milliseconds. */
const BOUND_MS = 5_000;
/** Milliseconds between two probes, and how long to probe at most. */
const PROBE_EVERY_MS = 50;
const PROBE_FOR_MS = 20_000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function fail(message) {
  console.error(`drill: ${message}`);
  process.exitCode = 1;
}

/** One API request with these credentials; resolves with its status (0 when it could not be sent). */
async function probe(account, secret) {
  try {
    const res = await fetch(`${BASE}/v1/drill`, {
      headers: { "X-Spot-Api-Key": account, "X-Spot-Api-Secret": secret, "User-Agent": "spot-drill/1" },
      signal: AbortSignal.timeout(5_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Sends requests until one gets 200 (the key is live and cached), at most 10 s. */
async function warm(account, secret) {
  const deadline = Date.now() + 10_000;
  let ok = 0;
  while (Date.now() < deadline && ok < 5) {
    if ((await probe(account, secret)) === 200) ok++;
    await sleep(20);
  }
  if (ok < 5) throw new Error(`the new key of ${account} never answered 200`);
}

/**
 * Probes until the first 401.
 * @param {number} sinceMs epoch ms of the admin API's answer
 * @returns {Promise<number | null>} milliseconds from `sinceMs` to the first 401, or null within PROBE_FOR_MS
 */
async function timeToRefusal(account, secret, sinceMs) {
  while (Date.now() - sinceMs < PROBE_FOR_MS) {
    const sentAt = Date.now();
    const status = await probe(account, secret);
    if (status === 401) return sentAt - sinceMs;
    await sleep(PROBE_EVERY_MS);
  }
  return null;
}

async function main() {
  const { values } = parseArgs({ options: { port: { type: "string" } }, allowPositionals: false });
  let port = DEFAULT_PORT;
  try {
    if (values.port !== undefined) port = parsePort(values.port);
  } catch (err) {
    return fail(err.message);
  }
  BASE = `http://127.0.0.1:${port}`;
  const stack = startStack(["--simulate-kv-lag", String(KV_LAG_SECONDS), "--port", String(port)]);
  try {
    await stack.ready;
    const token = await mintDevToken({ sub: "npm-drill@localhost" });
    const admin = (method, path, body) => adminRequest({ baseUrl: BASE, token, method, path, body });
    const run = randomBytes(4).toString("hex");
    const newKey = async (account) => {
      const { body } = await admin("POST", `/accounts/${account}/keys`, { label: `revocation drill ${run}` });
      return body;
    };

    const changes = {
      revoke: async () => {
        const account = `acct_drill${run}r`;
        const key = await newKey(account);
        await warm(account, key.secret);
        const { body } = await admin("POST", `/accounts/${account}/keys/${key.key.key_id}/revoke`);
        return { account, secret: key.secret, answeredAt: Date.now(), published: body?.revocation_published };
      },
      rotate: async () => {
        const account = `acct_drill${run}o`;
        const key = await newKey(account);
        await warm(account, key.secret);
        const { body } = await admin("POST", `/accounts/${account}/keys/${key.key.key_id}/rotate`, { overlap_seconds: 0 });
        return { account, secret: key.secret, answeredAt: Date.now(), published: body?.revocation_published };
      },
      suspend: async () => {
        const account = `acct_drill${run}s`;
        const key = await newKey(account);
        await warm(account, key.secret);
        const { body } = await admin("POST", `/accounts/${account}/suspend`);
        const resume = () => admin("POST", `/accounts/${account}/resume`);
        return { account, secret: key.secret, answeredAt: Date.now(), published: body?.revocation_published, after: resume };
      },
    };

    const results = {};
    for (const [name, change] of Object.entries(changes)) {
      const done = await change();
      if (done.published !== true) console.log(`drill: ${name}: the admin API answered revocation_published: ${done.published}`);
      const ms = await timeToRefusal(done.account, done.secret, done.answeredAt);
      results[name] = ms;
      console.log(
        `drill: ${name}: ${ms === null ? `still accepted after ${PROBE_FOR_MS / 1000} s` : `first 401 ${ms} ms after the admin API's answer`}`,
      );
      await done.after?.();
    }
    const seconds = (ms) => (ms === null ? "never" : `${(ms / 1000).toFixed(1)}s`);
    const line = `drill: ${Object.entries(results)
      .map(([name, ms]) => `${name}=${seconds(ms)}`)
      .join(" ")} bound=${BOUND_MS / 1000}s kv_lag=${KV_LAG_SECONDS}s`;
    console.log(line);
    if (Object.values(results).some((ms) => ms === null || ms > BOUND_MS)) fail(`a change took longer than the bound (${line})`);
  } finally {
    await stack.stop();
  }
}

main().catch((err) => fail(err?.stack ?? String(err)));
