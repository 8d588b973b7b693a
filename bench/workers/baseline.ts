/**
 * The baseline of `npm run bench`: a bare Hono pass-through to the same origin, with the same Hono
 * version and bundled the same way (`wrangler deploy --dry-run`) as the authorizer, so the ratio
 * authorizer/baseline is the cost of what the authorizer adds on top of a proxy hop.
 *
 * Bindings: `ORIGIN` (text, e.g. `http://127.0.0.1:8700`). The other bindings the authorizer has
 * (KEYS, AUDIT_QUEUE, AUDIT_DB) are given to it too, and left unused.
 */
import { Hono } from "hono";
import { proxy } from "hono/proxy";

type Bindings = { ORIGIN: string };

const app = new Hono<{ Bindings: Bindings }>();

app.all("*", (c) => {
  const url = new URL(c.req.url);
  const raw = c.req.raw;
  const hasBody = raw.method !== "GET" && raw.method !== "HEAD";
  return proxy(`${c.env.ORIGIN}${url.pathname}${url.search}`, {
    method: raw.method,
    headers: raw.headers,
    body: hasBody ? raw.body : null,
    redirect: "manual",
  });
});

export default {
  fetch: app.fetch,
  // Same consumer wiring as the authorizer; the baseline sends nothing, so this never runs in practice.
  async queue() {},
};
