/**
 * In-workerd micro-benchmark of the authorizer's own hot-path pieces (`npm run bench`): each piece
 * runs in a loop inside workerd (never in Node: Node's WebCrypto is far slower per awaited call) and
 * is reported in nanoseconds per operation.
 *
 * GET /run?ms=<milliseconds per piece, 20..2000> →
 *   { ops: [{ op, what, ns_per_op, iterations }], hot_path_sum_ns: number }
 *
 * `hot_path` runs, in one iteration, every piece a hot request (isolate cache hit) goes through,
 * in the order and number of the request path; Hono routing, the upstream fetch and the queue send
 * are not in it (they are the runtime's and are measured by the load arms). Pieces named
 * `consumer_*` are the queue consumer's work per event, outside the request path and outside
 * `hot_path_sum_ns`: `consumer_validate` (the message check), `consumer_archive` (the archive plan and
 * the Parquet encoding of a message's events: grouping, content id, hyparquet-writer with Snappy; CPU
 * only, no R2; `consumer_archive_full` the same for a full batch in one object), and `consumer_store`
 * (the whole consumer on one message: validation, the archive object, the D1 insert; wall time, which
 * includes the local D1's own work; the R2 write goes to a stand-in that keeps nothing), which runs only
 * where the Worker has an AUDIT_DB binding (Miniflare mode).
 *
 * Bindings: those of the authorizer (API_VERSIONS, SECRET_HASH_KEY, SECRET_HASH_KEY_ID, KEY_CACHE_*);
 * BENCH_ACCOUNT, BENCH_SECRET (the key seeded for the bench), BENCH_RECORD (its KV record, JSON).
 */

import { encodeRequestEvents } from "../../src/audit/archive/parquet";
import { planArchiveObjects } from "../../src/audit/archive/plan";
import { AUDIT_QUEUE_NAME, consumeAuditBatch, parseAuditMessage } from "../../src/audit/consumer";
import { buildAuditEvent } from "../../src/audit/event";
import { prepareAuditEvent } from "../../src/audit/producer";
import { resolveClientIp, upstreamForwardedFor } from "../../src/client-ip/resolve";
import { getConfig } from "../../src/env";
import { buildUpstreamHeaders, UPSTREAM_HEADERS } from "../../src/forwarding/headers";
import { buildUpstreamUrl } from "../../src/forwarding/url";
import { findDuplicateHeader, readCredentials } from "../../src/keys/credentials";
import { hashSecret, importHashKey } from "../../src/keys/hash";
import { checkKeyRecord } from "../../src/keys/record";
import { findKeyBySecretHash } from "../../src/keys/store";
import { todayUtc } from "../../src/versioning/date";
import { deprecationHeaders, resolveVersion } from "../../src/versioning/resolve";

type MicroEnv = Env & { BENCH_ACCOUNT: string; BENCH_SECRET: string; BENCH_RECORD: string };

interface OpResult {
  op: string;
  what: string;
  ns_per_op: number;
  iterations: number;
}

const URL_TEXT = "http://127.0.0.1:8787/v1/charges?limit=10";
const XFF = "203.0.113.7";
const CONNECTING_IP = "127.0.0.1";
const VERSION = "2024-11-15";

/** Runs `fn` in batches until `ms` milliseconds of wall time have passed (workerd's clock advances here). */
async function measure(op: string, what: string, ms: number, fn: () => unknown | Promise<unknown>, warmup = 2000): Promise<OpResult> {
  for (let i = 0; i < warmup; i++) await fn(); // warm-up: JIT and caches
  const batch = Math.min(256, warmup);
  let iterations = 0;
  const start = Date.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < batch; i++) await fn();
    iterations += batch;
    elapsed = Date.now() - start;
  } while (elapsed < ms);
  return { op, what, ns_per_op: Math.round((elapsed * 1e6) / iterations), iterations };
}

/** A piece measured over `n` events at once, reported per event. */
function perEvent(result: OpResult, n: number): OpResult {
  return { ...result, ns_per_op: Math.round(result.ns_per_op / n), iterations: result.iterations * n };
}

async function run(env: MicroEnv, ms: number): Promise<OpResult[]> {
  const headers = new Headers({
    "X-Spot-Api-Key": env.BENCH_ACCOUNT,
    "X-Spot-Api-Secret": env.BENCH_SECRET,
    "X-Spot-Api-Version": VERSION,
    "X-Forwarded-For": XFF,
    "CF-Connecting-IP": CONNECTING_IP,
    "User-Agent": "spot-bench",
    Accept: "*/*",
  });
  const config = getConfig(env);
  const cacheOptions = { cacheTtlMs: 3_600_000, negativeCacheTtlMs: 3_600_000 };
  const key = await importHashKey(env.SECRET_HASH_KEY);
  const hash = await hashSecret(key, env.BENCH_SECRET);
  // Fill the isolate cache once through a KV stand-in; later lookups must never reach it.
  let kvReads = 0;
  const kv = {
    get: async () => {
      kvReads++;
      return env.BENCH_RECORD;
    },
  } as unknown as KVNamespace;
  const record = await findKeyBySecretHash(kv, hash, cacheOptions, Date.now());
  if (!record) throw new Error("micro: the bench record did not parse");
  const entry = config.versions.byVersion.get(VERSION);
  if (!entry) throw new Error(`micro: version ${VERSION} is not in API_VERSIONS`);
  const clientIp = resolveClientIp(CONNECTING_IP, XFF);

  const credentials = () => {
    if (findDuplicateHeader(headers)) throw new Error("duplicate");
    const presented = readCredentials(headers);
    if ("code" in presented) throw new Error(presented.code);
    return presented;
  };
  const hmac = async () => hashSecret(await importHashKey(env.SECRET_HASH_KEY), env.BENCH_SECRET);
  const cache = () => findKeyBySecretHash(kv, hash, cacheOptions, Date.now());
  const version = () => {
    const r = resolveVersion(headers.get("X-Spot-Api-Version"), getConfig(env).versions, todayUtc(Date.now()));
    if (!r.ok) throw new Error(r.code);
    return deprecationHeaders(r.entry);
  };
  const ip = () => resolveClientIp(headers.get("cf-connecting-ip"), headers.get("x-forwarded-for"));
  const upstream = () => {
    const parsed = new URL(URL_TEXT);
    const url = buildUpstreamUrl(entry.origin, parsed);
    const added: Record<string, string> = {
      [UPSTREAM_HEADERS.accountId]: record.account_id,
      [UPSTREAM_HEADERS.keyId]: record.key_id,
      [UPSTREAM_HEADERS.keyMode]: record.mode,
      [UPSTREAM_HEADERS.apiVersion]: entry.version,
      [UPSTREAM_HEADERS.forwardedProto]: parsed.protocol.replace(":", ""),
      [UPSTREAM_HEADERS.forwardedHost]: parsed.host,
      [UPSTREAM_HEADERS.requestId]: "00000000-0000-4000-8000-000000000000",
      [UPSTREAM_HEADERS.forwardedFor]: upstreamForwardedFor(XFF, clientIp.connectingIp) ?? "",
    };
    return [url, buildUpstreamHeaders(headers, added)];
  };
  const event = () => {
    const now = Date.now();
    const url = new URL(URL_TEXT);
    return buildAuditEvent({
      eventId: crypto.randomUUID(),
      timeMs: now,
      requestId: crypto.randomUUID(),
      rayId: null,
      outcome: "allowed",
      reason: "ok",
      accountId: record.account_id,
      accountVerified: true,
      keyId: record.key_id,
      mode: record.mode,
      requestedVersion: VERSION,
      resolvedVersion: entry.version,
      origin: entry.origin,
      method: "GET",
      host: url.host,
      path: url.pathname,
      status: 200,
      durationMs: 1,
      connectingIp: clientIp.connectingIp,
      sourceIp: clientIp.sourceIp,
      sourceIpFrom: clientIp.sourceIpFrom,
      forwarded: clientIp.forwarded,
      userAgent: headers.get("user-agent"),
      country: null,
      colo: null,
    });
  };
  const sample = event();
  const prepare = () => {
    if (prepareAuditEvent(sample) === null) throw new Error("micro: the sample event is too large");
  };
  // A coalesced message as the consumer receives it (parsed JSON), 50 events.
  const received = JSON.parse(JSON.stringify({ v: 1, events: Array.from({ length: 50 }, () => event()) }));
  const validate = () => {
    if (!parseAuditMessage(received).ok) throw new Error("micro: the consumer refused the bench events");
  };
  // The archive object of such a message: its plan (one hour, one object) and its Parquet bytes. An object
  // has a fixed cost (37 columns of page headers, statistics, the footer), so a batch of one message is
  // the dearest case per event; a full batch (100 such messages, 5,000 events, one object) the cheapest.
  const archiveOf = async (message: unknown) => {
    const parsed = parseAuditMessage(message);
    if (!parsed.ok) throw new Error("micro: the consumer refused the bench events");
    let bytes = 0;
    for (const group of await planArchiveObjects(parsed.events)) {
      if (group.kind === "request") bytes += encodeRequestEvents(group.events).byteLength;
    }
    if (bytes === 0) throw new Error("micro: no archive object was encoded");
  };
  const fullBatch = Array.from({ length: 100 }, () =>
    JSON.parse(JSON.stringify({ v: 1, events: Array.from({ length: 50 }, () => event()) })),
  );
  const archiveBatch = async () => {
    const events = fullBatch.flatMap((m) => {
      const parsed = parseAuditMessage(m);
      if (!parsed.ok) throw new Error("micro: the consumer refused the bench events");
      return parsed.events;
    });
    for (const group of await planArchiveObjects(events)) if (group.kind === "request") encodeRequestEvents(group.events);
  };
  // The consumer storing such a message: validation, the archive object (plan and Parquet bytes) and the
  // D1 insert. Fresh event ids each time, unique per run (the consumer retries a message whose events are
  // in D1 already). The archive bucket is a stand-in that takes the bytes and keeps nothing: Miniflare's
  // local R2 would add its own emulation's time (and memory) to a figure meant to follow the consumer's work.
  const runId = crypto.randomUUID();
  let storedIds = 0;
  const sink = { put: async (key: string) => ({ key }), head: async () => null } as unknown as R2Bucket;
  const storeEnv: Env = { ...env, AUDIT_ARCHIVE: sink };
  const store = async () => {
    for (const e of received.events) e.event_id = `micro-${runId}-${storedIds++}`;
    let acked = false;
    const message = { id: `micro-${storedIds}`, timestamp: new Date(), attempts: 1, body: received, ack: () => (acked = true), retry() {} };
    await consumeAuditBatch(
      { queue: AUDIT_QUEUE_NAME, messages: [message], ackAll() {}, retryAll() {} } as unknown as MessageBatch,
      storeEnv,
    );
    if (!acked) throw new Error("micro: the consumer did not store the bench events");
  };
  const hotPath = async () => {
    // In the order of src/request-path/handler.ts
    ip();
    credentials();
    version();
    getConfig(env);
    const h = await hmac();
    const found = await findKeyBySecretHash(kv, h, cacheOptions, Date.now());
    if (!found || checkKeyRecord(found, env.BENCH_ACCOUNT, "live", Date.now()) !== null) throw new Error("micro: not authorized");
    getConfig(env);
    upstream();
    prepareAuditEvent(event());
  };

  const results: OpResult[] = [];
  results.push(await measure("credentials", "duplicate check + parse/validate key and secret headers", ms, credentials));
  results.push(await measure("hmac", "importHashKey (cached) + HMAC-SHA-256 of the secret + hex", ms, hmac));
  results.push(await measure("cache_lookup", "isolate cache hit (findKeyBySecretHash, no KV)", ms, cache));
  results.push(
    await measure("record_check", "checkKeyRecord (account, mode, status, expiry)", ms, () =>
      checkKeyRecord(record, env.BENCH_ACCOUNT, "live", Date.now()),
    ),
  );
  results.push(await measure("version", "getConfig (cached) + todayUtc + resolveVersion + deprecation headers", ms, version));
  results.push(await measure("client_ip", "CF-Connecting-IP + X-Forwarded-For parsing (ipaddr.js)", ms, ip));
  results.push(await measure("upstream", "upstream URL + header hygiene + identity headers", ms, upstream));
  results.push(await measure("audit_event", "build the capped audit event (2 UUIDs included)", ms, event));
  results.push(await measure("audit_prepare", "the producer's size check of one event (prepareAuditEvent)", ms, prepare));
  results.push(await measure("hot_path", "all of the above in request order, once per request", ms, hotPath));
  results.push(
    perEvent(await measure("consumer_validate", "the consumer's validation of a message, per event (50 per message)", ms, validate), 50),
  );
  results.push(
    perEvent(
      await measure(
        "consumer_archive",
        "the consumer's archive object of a message: plan + Parquet encoding, per event (50 per message; validation included, no R2)",
        ms,
        () => archiveOf(received),
        20,
      ),
      50,
    ),
  );
  results.push(
    perEvent(
      await measure(
        "consumer_archive_full",
        "the same for a full batch: 100 messages of 50 events, one object of 5,000 rows, per event",
        ms,
        archiveBatch,
        2,
      ),
      5000,
    ),
  );
  if (env.AUDIT_DB !== undefined) {
    results.push(
      perEvent(
        await measure(
          "consumer_store",
          "the consumer storing a message: validation, archive object (R2 stand-in), D1 insert, per event (50; wall time)",
          ms,
          store,
          5,
        ),
        50,
      ),
    );
  }
  if (kvReads !== 1) throw new Error(`micro: expected 1 KV read (cache fill), saw ${kvReads}`);
  return results;
}

export default {
  async fetch(request: Request, env: MicroEnv): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== "/run") return new Response("micro-benchmark: GET /run?ms=200\n");
    const ms = Math.min(2000, Math.max(20, Number(url.searchParams.get("ms") ?? 200) || 200));
    try {
      const ops = await run(env, ms);
      const sum = ops.filter((o) => o.op !== "hot_path" && !o.op.startsWith("consumer_")).reduce((total, o) => total + o.ns_per_op, 0);
      return Response.json({ ops, hot_path_sum_ns: sum });
    } catch (err) {
      return Response.json({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }, { status: 500 });
    }
  },
};
