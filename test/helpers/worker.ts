/**
 * Calls the Worker's real fetch handler inside workerd with the test bindings, waits for its
 * waitUntil work, and records what it sent to the audit queue and read from KV.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { AuditEvent } from "../../src/audit/event";
import worker from "../../src/index";
import { messageEvents } from "./audit";
import { API } from "./fixtures";

export interface CallResult {
  res: Response;
  /** Parsed JSON body when the response is JSON, else the text. */
  body: unknown;
  /** Audit events sent while handling the request (admin requests: admin events, typed loosely). */
  events: AuditEvent[];
  /** KV keys read while handling the request. */
  kvReads: string[];
}

export interface CallOptions {
  /** Replace bindings (e.g. a failing KV or queue). */
  bindings?: Partial<Env>;
}

export async function call(path: string, init: RequestInit = {}, options: CallOptions = {}): Promise<CallResult> {
  const events: AuditEvent[] = [];
  const kvReads: string[] = [];
  const realKv = options.bindings?.KEYS ?? env.KEYS;
  const kv = {
    get: (key: string, type?: unknown) => {
      kvReads.push(key);
      return (realKv.get as (k: string, t?: unknown) => Promise<unknown>)(key, type);
    },
  } as unknown as KVNamespace;
  const queue =
    options.bindings?.AUDIT_QUEUE ??
    ({
      send: async (body: unknown) => {
        // Request events; admin events (kind: "admin") too, which test/helpers/admin.ts picks out.
        events.push(...(messageEvents(body) as AuditEvent[]));
      },
      sendBatch: async () => {},
    } as unknown as Queue);
  const testEnv = { ...env, ...options.bindings, KEYS: kv, AUDIT_QUEUE: queue } as Env;
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${API}${path}`, init), testEnv, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  let body: unknown = text;
  if (text !== "" && res.headers.get("content-type")?.includes("application/json")) body = JSON.parse(text);
  return { res, body, events, kvReads };
}
