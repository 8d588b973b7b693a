/** Sets `c.var.clientIp` from `CF-Connecting-IP` (trusted) and `X-Forwarded-For` (asserted); never fails. */
import { createMiddleware } from "hono/factory";
import { resolveClientIp } from "../client-ip/resolve";
import type { AppEnv } from "../env";

export const clientIp = createMiddleware<AppEnv>(async (c, next) => {
  c.set("clientIp", resolveClientIp(c.req.header("cf-connecting-ip"), c.req.header("x-forwarded-for")));
  await next();
});
