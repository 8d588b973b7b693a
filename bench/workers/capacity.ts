/**
 * The capacity measurement's Worker (`npm run capacity`, bench/capacity.mjs): stores realistic request
 * events (bench/workers/realistic-events.ts) in D1 through the Worker's real queue handler
 * (src/index.ts → src/audit/consumer.ts) and reports what D1 says about the database, so bytes per
 * stored event, D1 time and rows written per event are those of the production schema and statement.
 * Runs under Miniflare with the AUDIT_DB binding (migrated by the runner) and nothing else it needs.
 *
 *   POST /fill?from=&count=&seed=&rate=&ids=4|7&per_message=
 *        events from … from + count − 1 of the sequence, `per_message` events per queue message
 *        (1..100), at most 100 messages per consumer batch →
 *        { stored, size_bytes, d1_ms, rows_written, rows_read, batches, retried }
 *        (d1_ms: D1's own time for the consumer's statements, `meta.duration`, summed)
 *   GET  /size → { size_bytes, request_events }
 *   POST /trim?rows= → the retention's own delete of the oldest request events (src/audit/retention.ts
 *        `deleteOldestEvents`): { deleted, statements, d1_ms, rows_written, size_before, size_after }
 *   GET  /encode?count=&per_object=&seed=&rate=&ids= → sizes of the same events as the queue and the
 *        archive carry them: JSON bytes per event, per message of 100, and Parquet bytes per event for
 *        objects of `per_object` events (src/audit/archive/parquet.ts)
 */
import { encodeRequestEvents } from "../../src/audit/archive/parquet";
import { AUDIT_QUEUE_NAME } from "../../src/audit/consumer";
import { type AuditEvent, buildAuditEvent } from "../../src/audit/event";
import { AUDIT_MESSAGE_VERSION } from "../../src/audit/producer";
import { databaseSize, deleteOldestEvents, newBudget } from "../../src/audit/retention";
import worker from "../../src/index";
import { type RealisticEventOptions, realisticInputs } from "./realistic-events";

/** D1 counters summed over the statements of the batches it ran. */
interface D1Tally {
  ms: number;
  rowsWritten: number;
  rowsRead: number;
}

/** The same D1 binding, but `batch` adds each result's meta to the tally (the consumer stores with one batch per queue batch). */
function tallied(db: D1Database, tally: D1Tally): D1Database {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          const results = await target.batch(statements);
          for (const r of results) {
            tally.ms += r.meta.duration ?? 0;
            tally.rowsWritten += r.meta.rows_written ?? 0;
            tally.rowsRead += r.meta.rows_read ?? 0;
          }
          return results;
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function options(url: URL): RealisticEventOptions {
  const num = (name: string, fallback: number) => {
    const v = Number(url.searchParams.get(name) ?? fallback);
    return Number.isFinite(v) ? v : fallback;
  };
  return {
    seed: num("seed", 1),
    startMs: num("start", Date.UTC(2026, 10, 1)),
    ratePerSecond: num("rate", 25),
    idVersion: url.searchParams.get("ids") === "7" ? 7 : 4,
  };
}

function events(url: URL, from: number, count: number): AuditEvent[] {
  return realisticInputs(options(url), from, count).map((input) => buildAuditEvent(input));
}

/** A queue message as the consumer receives it, recording whether it was acked. */
function message(id: string, body: unknown, outcome: { acked: number; retried: number }): Message {
  return {
    id,
    timestamp: new Date(),
    attempts: 1,
    body,
    ack() {
      outcome.acked++;
    },
    retry() {
      outcome.retried++;
    },
  } as Message;
}

async function fill(url: URL, env: Env, ctx: ExecutionContext): Promise<Response> {
  const from = Number(url.searchParams.get("from") ?? 0);
  const count = Math.min(50_000, Math.max(1, Number(url.searchParams.get("count") ?? 10_000)));
  const perMessage = Math.min(100, Math.max(1, Number(url.searchParams.get("per_message") ?? 100)));
  const all = events(url, from, count);
  const tally: D1Tally = { ms: 0, rowsWritten: 0, rowsRead: 0 };
  const outcome = { acked: 0, retried: 0 };
  const dbEnv = { ...env, AUDIT_DB: tallied(env.AUDIT_DB, tally) };
  let batches = 0;
  for (let i = 0; i < all.length; i += perMessage * 100) {
    const messages: Message[] = [];
    for (let j = i; j < Math.min(all.length, i + perMessage * 100); j += perMessage) {
      messages.push(message(`m-${from + j}`, { v: AUDIT_MESSAGE_VERSION, events: all.slice(j, j + perMessage) }, outcome));
    }
    const batch = { queue: AUDIT_QUEUE_NAME, messages, ackAll() {}, retryAll() {} } as unknown as MessageBatch;
    await worker.queue(batch, dbEnv, ctx);
    batches++;
  }
  return Response.json({
    stored: all.length,
    size_bytes: await databaseSize(env.AUDIT_DB),
    d1_ms: tally.ms,
    rows_written: tally.rowsWritten,
    rows_read: tally.rowsRead,
    batches,
    acked: outcome.acked,
    retried: outcome.retried,
  });
}

async function size(env: Env): Promise<Response> {
  const row = await env.AUDIT_DB.prepare("SELECT count(*) AS n FROM audit_events").first<{ n: number }>();
  return Response.json({ size_bytes: await databaseSize(env.AUDIT_DB), request_events: row?.n ?? 0 });
}

async function trim(url: URL, env: Env): Promise<Response> {
  const rows = Math.max(1, Number(url.searchParams.get("rows") ?? 10_000));
  const before = await databaseSize(env.AUDIT_DB);
  const budget = newBudget(1_000_000);
  const done = await deleteOldestEvents(env.AUDIT_DB, rows, budget);
  return Response.json({
    deleted: done.deleted,
    statements: 1_000_000 - budget.statements,
    d1_ms: budget.d1Ms,
    rows_written: budget.rowsWritten,
    size_before: before,
    size_after: await databaseSize(env.AUDIT_DB),
  });
}

async function encode(url: URL): Promise<Response> {
  const count = Math.min(50_000, Math.max(1, Number(url.searchParams.get("count") ?? 10_000)));
  const perObject = Math.min(count, Math.max(1, Number(url.searchParams.get("per_object") ?? count)));
  const all = events(url, 0, count);
  const encoder = new TextEncoder();
  const jsonBytes = all.reduce((sum, e) => sum + encoder.encode(JSON.stringify(e)).length, 0);
  let messageBytes = 0;
  let messages = 0;
  for (let i = 0; i < all.length; i += 100) {
    messageBytes += encoder.encode(JSON.stringify({ v: AUDIT_MESSAGE_VERSION, events: all.slice(i, i + 100) })).length;
    messages++;
  }
  let parquetBytes = 0;
  let objects = 0;
  const started = Date.now();
  for (let i = 0; i < all.length; i += perObject) {
    parquetBytes += encodeRequestEvents(all.slice(i, i + perObject)).byteLength;
    objects++;
  }
  return Response.json({
    events: count,
    json_bytes_per_event: jsonBytes / count,
    message_bytes_per_100: messageBytes / messages,
    per_object: perObject,
    objects,
    parquet_bytes_per_event: parquetBytes / count,
    parquet_bytes_per_object: parquetBytes / objects,
    parquet_encode_ms_per_object: (Date.now() - started) / objects,
  });
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    try {
      if (request.method === "POST" && url.pathname === "/fill") return await fill(url, env, ctx);
      if (url.pathname === "/size") return await size(env);
      if (request.method === "POST" && url.pathname === "/trim") return await trim(url, env);
      if (url.pathname === "/encode") return await encode(url);
      return new Response("capacity: POST /fill, GET /size, POST /trim, GET /encode\n", { status: 404 });
    } catch (err) {
      return Response.json({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }, { status: 500 });
    }
  },
};
