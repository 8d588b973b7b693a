// `npm run soak [-- N] [-- --concurrency C]`: proves the audit trail loses nothing (docs/audit.md).
//
// Starts the local stack (`scripts/start.mjs`: wrangler dev with Miniflare's Queue and D1, demo
// origins, demo key), sends N requests to it on 127.0.0.1 only, a third each allowed (the demo key),
// denied (a wrong secret) and malformed (a bad key header), each under a path unique to this run,
// then waits for the queue consumer and checks the local D1:
//   sent       requests that got the status their kind expects
//   stored     requests the trail accounts for (a row each, or folded_count for a folded flood row)
//   duplicates rows sharing a request id
//   dlq        dead letters stored since the run started
//   secrets    rows containing the demo secret anywhere
//   archived   requests the R2 archive accounts for, read back by DuckDB from the Parquet objects of the
//              local bucket (scripts/lib/local-archive.mjs); its duplicates and secrets count in too
// and ends with `soak: sent=N stored=N archived=N duplicates=0 dlq=0 secrets=0`, exit 0 only when it says so.
// Bounded: N ≤ 100,000, the load and the wait each stop after a fixed time.
// `npm run soak -- --port P` runs the stack on P (demo origins on P-87…P-83, as `npm start -- --port P`).

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { adminRequest, mintDevToken } from "./admin-client.mjs";
import { archivedRequestCounts, localArchiveObjects } from "./lib/local-archive.mjs";
import { startStack } from "./lib/stack.mjs";
import { queryLocalD1, ROOT } from "./lib/wrangler.mjs";
import { DEFAULT_PORT, parsePort } from "./start/args.mjs";

/** The stack's address (--port). */
let BASE = `http://127.0.0.1:${DEFAULT_PORT}`;
const LOAD_TIMEOUT_MS = 600_000;
const SETTLE_TIMEOUT_MS = 120_000;

function fail(message) {
  console.error(`soak: ${message}`);
  process.exitCode = 1;
}

/**
 * The kinds of request the soak mixes, with the statuses each may get. Denied and malformed requests
 * come from 127.0.0.1 and soon exceed the failed-attempt limit (README "Limits"): from then on they get
 * 429, which the trail must account for just the same (folded per IP). Allowed requests come from
 * another connecting address (`wrangler dev` passes a client-sent CF-Connecting-IP through; Cloudflare's
 * edge would not), so the flood's block never touches them.
 */
function kinds(secret) {
  return [
    {
      name: "allowed",
      expected: [200],
      headers: { "X-Spot-Api-Key": "acct_demo", "X-Spot-Api-Secret": secret, "CF-Connecting-IP": "198.51.100.10" },
    },
    {
      name: "denied",
      expected: [401, 429],
      headers: { "X-Spot-Api-Key": "acct_demo", "X-Spot-Api-Secret": "sk_live_soakWrongSecret000000000000" },
    },
    { name: "malformed", expected: [400, 429], headers: { "X-Spot-Api-Key": "not-an-account", "X-Spot-Api-Secret": secret } },
  ];
}

/** Sets the demo key's per-key rate limit (a tier, or null for the default) through the admin API. */
async function setDemoRateLimit(demo, perMinute) {
  const token = await mintDevToken({ sub: "npm-soak@localhost" });
  await adminRequest({
    baseUrl: BASE,
    token,
    method: "PATCH",
    path: `/accounts/${demo.account_id}/keys/${demo.key_id}`,
    body: { policy: { rate_limit_per_minute: perMinute } },
  });
}

/** Sends `total` requests with at most `concurrency` in flight; returns how many got their expected status. */
async function sendLoad(run, total, concurrency, secret) {
  const mix = kinds(secret);
  let next = 0;
  let ok = 0;
  const unexpected = new Map();
  const deadline = Date.now() + LOAD_TIMEOUT_MS;
  async function worker() {
    while (next < total && Date.now() < deadline) {
      const i = next++;
      const kind = mix[i % mix.length];
      try {
        const res = await fetch(`${BASE}/soak/${run}/${kind.name}/${i}`, { headers: { ...kind.headers, "User-Agent": "spot-soak/1" } });
        await res.arrayBuffer();
        if (kind.expected.includes(res.status)) ok++;
        else unexpected.set(`${kind.name}:${res.status}`, (unexpected.get(`${kind.name}:${res.status}`) ?? 0) + 1);
      } catch (err) {
        unexpected.set(
          `${kind.name}:${err.cause?.code ?? err.message}`,
          (unexpected.get(`${kind.name}:${err.cause?.code ?? err.message}`) ?? 0) + 1,
        );
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ok, attempted: next, unexpected };
}

async function trailCounts(run) {
  const [row] = await queryLocalD1(
    `SELECT count(*) AS rows, coalesce(sum(CASE WHEN folded_count > 0 THEN folded_count ELSE 1 END), 0) AS represented, ` +
      `count(*) - count(DISTINCT request_id) AS duplicates FROM audit_events WHERE path LIKE '/soak/${run}/%'`,
  );
  return row;
}

/** What the local archive holds of this run (the consumer writes R2 after D1, so it may lag a little). */
async function archiveCounts(run, secret) {
  const files = localArchiveObjects(ROOT, "audit/v1/kind=request/").map((o) => o.file);
  return { objects: files.length, ...(await archivedRequestCounts(files, `/soak/${run}/`, secret)) };
}

async function main() {
  const { values, positionals } = parseArgs({
    options: { concurrency: { type: "string", default: "32" }, port: { type: "string" } },
    allowPositionals: true,
  });
  const total = Number(positionals[0] ?? 10_000);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(total) || total < 3 || total > 100_000) return fail("N must be a whole number from 3 to 100000");
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) return fail("--concurrency must be from 1 to 256");

  let port = DEFAULT_PORT;
  try {
    if (values.port !== undefined) port = parsePort(values.port);
  } catch (err) {
    return fail(err.message);
  }
  BASE = `http://127.0.0.1:${port}`;
  const stack = startStack(["--port", String(port)]);
  try {
    await stack.ready;
    const demo = JSON.parse(readFileSync(join(ROOT, ".wrangler", "demo-key.json"), "utf8"));
    const { secret } = demo;
    // The allowed third must not meet the demo key's own limit (default 6,000 a minute): raise it to
    // the top tier for the run (the change reaches the edge within the revocation bound: wait for it).
    await setDemoRateLimit(demo, 60_000);
    await new Promise((r) => setTimeout(r, 35_000));
    const run = randomBytes(6).toString("hex");
    const startedIso = new Date().toISOString();
    console.log(`soak: run ${run}: ${total} requests, ${concurrency} at a time, to ${BASE} ...`);
    const t0 = Date.now();
    const load = await sendLoad(run, total, concurrency, secret);
    console.log(`soak: sent ${load.attempted} in ${((Date.now() - t0) / 1000).toFixed(1)} s; expected statuses: ${load.ok}`);
    for (const [what, n] of load.unexpected) console.log(`soak:   unexpected ${what} × ${n}`);

    // Wait until the consumer has stored everything (or nothing moves for a while).
    let counts = await trailCounts(run);
    const settleDeadline = Date.now() + SETTLE_TIMEOUT_MS;
    while (counts.represented < load.attempted && Date.now() < settleDeadline) {
      await new Promise((r) => setTimeout(r, 2000));
      counts = await trailCounts(run);
    }
    // A last look a few seconds on, so a late duplicate would show too.
    await new Promise((r) => setTimeout(r, 3000));
    counts = await trailCounts(run);

    let archived = await archiveCounts(run, secret);
    while (archived.represented < counts.represented && Date.now() < settleDeadline) {
      await new Promise((r) => setTimeout(r, 2000));
      archived = await archiveCounts(run, secret);
    }

    const [dlq] = await queryLocalD1(`SELECT count(*) AS n FROM audit_dead_letters WHERE received_at >= '${startedIso}'`);
    const rows = await queryLocalD1(`SELECT * FROM audit_events WHERE path LIKE '/soak/${run}/%'`);
    const secrets = rows.filter((row) => JSON.stringify(row).includes(secret)).length + archived.secrets;
    const duplicates = counts.duplicates + archived.duplicateEvents + archived.duplicateRequests;
    console.log(`soak: ${counts.rows} rows stand for ${counts.represented} requests (floods of denied requests are folded per IP)`);
    console.log(
      `soak: the archive (DuckDB over ${archived.objects} Parquet objects of the local R2): ${archived.rows} rows stand for ${archived.represented} requests; ` +
        `${archived.duplicateEvents} duplicate event ids, ${archived.duplicateRequests} duplicate request ids`,
    );
    const line = `soak: sent=${load.ok} stored=${counts.represented} archived=${archived.represented} duplicates=${duplicates} dlq=${dlq.n} secrets=${secrets}`;
    console.log(line);
    const good =
      load.ok === total &&
      counts.represented === total &&
      archived.represented === total &&
      duplicates === 0 &&
      dlq.n === 0 &&
      secrets === 0;
    if (!good) fail(`the trail does not account for every request exactly once (${line})`);
    await setDemoRateLimit(demo, null).catch((err) => console.log(`soak: could not restore the demo key's rate limit: ${err.message}`));
  } finally {
    await stack.stop();
  }
}

main().catch((err) => fail(err?.stack ?? String(err)));
