/**
 * Sign-in (docs/console.md "Sign-in"). The console accepts exactly the tokens the admin API accepts
 * (src/admin/auth.ts: the same settings and verification) and forwards the token as the Bearer of its
 * in-process admin API calls, so reading needs a valid token and writing `keys:write` or a place in the
 * admin writer lists (src/admin/writers.ts), as in the API.
 *
 * - Production: Cloudflare Access in front of the console adds `Cf-Access-Jwt-Assertion` to every request.
 * - Local: GET /sign-in?token=<dev admin JWT>, only when CONSOLE_LOCAL_SIGN_IN is "true" (npm start writes
 *   it into .dev.vars; never set in wrangler.toml) and the request comes from this machine; the token is
 *   kept in an HttpOnly, SameSite=Strict cookie limited to the console's path, which is read only while
 *   local sign-in is on.
 */
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { decodeJwt } from "jose";
import { AdminTokenError, getAdminAuthConfig, verifyAdminToken } from "../admin/auth";
import { errorMessage, log } from "../log";
import type { ConsoleEnv, ConsoleSession } from "./env";
import { CONSOLE_MOUNT, SESSION_COOKIE } from "./paths";
import { csrfToken } from "./security";
import { renderError } from "./views/render";

/** The header Cloudflare Access adds to each request it lets through (its application token). */
export const ACCESS_HEADER = "Cf-Access-Jwt-Assertion";

/** Local sign-in is on only when the setting says exactly "true". */
export function localSignInEnabled(env: Env): boolean {
  return env.CONSOLE_LOCAL_SIGN_IN?.trim() === "true";
}

/** This machine: no CF-Connecting-IP (a bare local runtime) or a loopback one (wrangler dev sets 127.0.0.1). */
export function isLoopback(connectingIp: string | undefined): boolean {
  if (connectingIp === undefined) return true;
  const ip = connectingIp.trim();
  return ip === "127.0.0.1" || ip === "::1" || ip === "[::1]";
}

type Verified = { ok: true; session: Omit<ConsoleSession, "csrf" | "via"> } | { ok: false; status: 401 | 503; message: string };

/** Verifies a token with the admin API's settings and rules. */
async function verify(c: Context<ConsoleEnv>, token: string): Promise<Verified> {
  let config: ReturnType<typeof getAdminAuthConfig>;
  try {
    config = getAdminAuthConfig(c.env);
  } catch (err) {
    log("error", "admin_config_invalid", { request_id: c.get("requestId"), error: errorMessage(err) });
    return { ok: false, status: 503, message: "The console cannot check sign-ins right now (admin settings unusable). Retry shortly." };
  }
  try {
    const actor = await verifyAdminToken(token, config);
    return { ok: true, session: { token, actor, canWrite: actor.canWrite } };
  } catch (err) {
    if (err instanceof AdminTokenError) return { ok: false, status: 401, message: `Your sign-in token was refused: ${err.message}.` };
    log("error", "admin_jwks_unavailable", { request_id: c.get("requestId"), error: errorMessage(err) });
    return { ok: false, status: 503, message: "The console cannot check sign-ins right now (key set unavailable). Retry shortly." };
  }
}

const HOW_TO_SIGN_IN =
  "Behind Cloudflare Access, reload the page to sign in again. Locally, open the console URL that npm start prints (it signs you in with a fresh dev token).";

/** Every console page but the assets and the sign-in: a verified token, from Access or the local cookie. */
export const requireSession = createMiddleware<ConsoleEnv>(async (c, next) => {
  const header = c.req.header(ACCESS_HEADER)?.trim();
  const cookie = localSignInEnabled(c.env) ? getCookie(c, SESSION_COOKIE) : undefined;
  const token = header || cookie;
  if (!token) return renderError(c, 401, "Not signed in", `This console needs a sign-in. ${HOW_TO_SIGN_IN}`);
  const verified = await verify(c, token);
  if (!verified.ok) return renderError(c, verified.status, "Sign-in refused", `${verified.message} ${HOW_TO_SIGN_IN}`);
  let csrf: string;
  try {
    csrf = await csrfToken(c.env, verified.session.actor.sub, token);
  } catch (err) {
    log("error", "console_csrf_key_unusable", { request_id: c.get("requestId"), error: errorMessage(err) });
    return renderError(c, 503, "Console unavailable", "The console cannot protect its forms right now. Retry shortly.");
  }
  c.set("consoleSession", { ...verified.session, csrf, via: header ? "access" : "local" });
  await next();
});

/** GET /sign-in?token=…: local only; verifies the token, keeps it in the session cookie, goes to the console. */
export async function localSignIn(c: Context<ConsoleEnv>): Promise<Response> {
  if (!localSignInEnabled(c.env)) {
    return renderError(c, 403, "Local sign-in is off", "This console signs in through Cloudflare Access here; local sign-in is off.");
  }
  if (!isLoopback(c.req.header("cf-connecting-ip"))) {
    return renderError(c, 403, "Local sign-in refused", "Local sign-in is accepted only from this machine (a loopback address).");
  }
  const token = c.req.query("token")?.trim();
  if (!token) return renderError(c, 400, "No token", "Open the console URL that npm start prints: it carries a dev admin token.");
  const verified = await verify(c, token);
  if (!verified.ok) return renderError(c, verified.status, "Sign-in refused", verified.message);
  // The cookie ends with the token (verified above, so `exp` is a number).
  const maxAge = Math.max(0, Math.floor(Number(decodeJwt(token).exp) - Date.now() / 1000));
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: "Strict",
    path: CONSOLE_MOUNT,
    secure: new URL(c.req.url).protocol === "https:",
    maxAge,
  });
  return c.redirect(`${CONSOLE_MOUNT}/`, 303);
}
