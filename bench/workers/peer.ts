/**
 * The `peer` reference arm of `npm run bench` (issue 16): what a team writes in an afternoon for the
 * same job, the typical authorizer the real one is compared with. Hono; per request the secret's
 * HMAC (the imported key is kept per isolate), one KV read of the key record (no isolate cache), one
 * `AUDIT_QUEUE.send` of a small audit message (no batching, in `waitUntil`), no signed assertion; then
 * `hono/proxy` to the origin with the secret dropped and the account and key ids added.
 *
 * It counts its own KV reads and queue sends and answers them at GET /__spot/debug/counters, in the
 * authorizer bench builds' format, so the bench shows KV/req and sends/req for it too.
 *
 * Bindings: ORIGIN, SECRET_HASH_KEY (base64) as text; KEYS (KV, seeded by the bench), AUDIT_QUEUE.
 */
import { Hono } from "hono";
import { proxy } from "hono/proxy";

type Bindings = { ORIGIN: string; SECRET_HASH_KEY: string; KEYS: KVNamespace; AUDIT_QUEUE: Queue };

const VERSIONS = ["2024-06-01", "2024-11-15", "2025-03-01"];
const counters = { kv_reads: 0, queue_sends: 0, feed_reads: 0, feed_waits: 0 };
let hashKey: Promise<CryptoKey> | null = null;

async function hashSecret(base64Key: string, secret: string): Promise<string> {
  hashKey ??= crypto.subtle.importKey(
    "raw",
    Uint8Array.from(atob(base64Key), (ch) => ch.charCodeAt(0)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", await hashKey, new TextEncoder().encode(secret));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const app = new Hono<{ Bindings: Bindings }>();

app.get("/__spot/debug/counters", (c) => c.json(counters));

app.all("*", async (c) => {
  const account = c.req.header("X-Spot-Api-Key");
  const secret = c.req.header("X-Spot-Api-Secret");
  const version = c.req.header("X-Spot-Api-Version");
  if (!account || !secret || !version) return c.json({ error: { code: "missing_credentials" } }, 400);
  if (!VERSIONS.includes(version)) return c.json({ error: { code: "unsupported_api_version" } }, 400);

  const hash = await hashSecret(c.env.SECRET_HASH_KEY, secret);
  counters.kv_reads++;
  const record = await c.env.KEYS.get<{ key_id: string; account_id: string; status: string }>(`secret:${hash}`, "json");
  if (!record || record.account_id !== account || record.status !== "active")
    return c.json({ error: { code: "invalid_credentials" } }, 401);

  const url = new URL(c.req.url);
  const requestId = crypto.randomUUID();
  counters.queue_sends++;
  c.executionCtx.waitUntil(
    c.env.AUDIT_QUEUE.send({
      request_id: requestId,
      at: new Date().toISOString(),
      account_id: record.account_id,
      key_id: record.key_id,
      method: c.req.method,
      path: url.pathname,
      ip: c.req.header("CF-Connecting-IP") ?? c.req.header("X-Forwarded-For") ?? null,
      user_agent: c.req.header("User-Agent") ?? null,
    }),
  );

  const headers = new Headers(c.req.raw.headers);
  headers.delete("X-Spot-Api-Secret");
  headers.set("X-Spot-Account-Id", record.account_id);
  headers.set("X-Spot-Key-Id", record.key_id);
  headers.set("X-Request-Id", requestId);
  const hasBody = c.req.method !== "GET" && c.req.method !== "HEAD";
  return proxy(`${c.env.ORIGIN}${url.pathname}${url.search}`, {
    method: c.req.method,
    headers,
    body: hasBody ? c.req.raw.body : null,
    redirect: "manual",
  });
});

export default {
  fetch: app.fetch,
  // Under Miniflare the bench makes every Worker the consumer of its own audit queue: this one only acknowledges.
  async queue() {},
};
