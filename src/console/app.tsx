/**
 * The web console (docs/console.md), mounted by src/app.ts at {@link CONSOLE_MOUNT} before the API-key
 * chain, like the admin API: never proxied, never reachable with API keys.
 *
 *   securityHeaders (CSP, no framing, no-store, …) → refuseApiKeys (the admin API's own refusal)
 *     → assets (CSS, JS) and the local sign-in, without a session
 *     → requireSession (Access header or local cookie, verified like an admin token)
 *     → POST: same origin + CSRF token → screens (src/console/handlers/: one admin API call each)
 */

import type { Context, MiddlewareHandler } from "hono";
import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { refuseApiKeys } from "../admin/middleware";
import { ApiError, errorResponse } from "../errors";
import { errorMessage, log } from "../log";
import { CONSOLE_JS } from "./assets/script";
import { CONSOLE_CSS } from "./assets/style";
import type { AdminFetch, ConsoleEnv } from "./env";
import { registerAuditScreen } from "./handlers/audit";
import { registerKeyScreens } from "./handlers/keys";
import { CONSOLE_CSS_PATH, CONSOLE_JS_PATH, CONSOLE_MOUNT, CSRF_FIELD } from "./paths";
import { crossOriginProblem, csrfTokenValid, securityHeaders } from "./security";
import { localSignIn, requireSession } from "./session";
import { HomePage } from "./views/home";
import { renderError, renderPage } from "./views/render";

export { CONSOLE_MOUNT } from "./paths";

/** Every POST: same origin, then the CSRF token of this session. Refused: 403 page. */
const csrfGuard = createMiddleware<ConsoleEnv>(async (c, next) => {
  if (c.req.method !== "POST") return next();
  const problem = crossOriginProblem(c.req.raw);
  if (problem !== null) {
    return renderError(
      c,
      403,
      "Refused: not from this console",
      `This change was refused because ${problem}. Open the console and try again.`,
    );
  }
  const session = c.get("consoleSession");
  let sent: string | undefined;
  try {
    const field = (await c.req.parseBody())[CSRF_FIELD];
    sent = typeof field === "string" ? field : undefined;
  } catch {
    sent = undefined;
  }
  if (!(await csrfTokenValid(c.env, session.actor.sub, session.token, sent))) {
    return renderError(
      c,
      403,
      "Refused: form expired or forged",
      "This change was refused: the form's security token is missing or belongs to another sign-in. Reload the page and try again.",
    );
  }
  await next();
});

/** The console as a Hono app; `adminFetch` reaches the admin API in process (src/app.ts passes its own `fetch`). */
export function createConsoleApp(adminFetch: AdminFetch): Hono<ConsoleEnv> {
  const app = new Hono<ConsoleEnv>();
  app.use(securityHeaders);
  app.use(refuseApiKeys as unknown as MiddlewareHandler<ConsoleEnv>);

  const asset = (body: string, type: string) => (c: { body: (b: string, s: 200, h: Record<string, string>) => Response }) =>
    c.body(body, 200, { "Content-Type": type });
  app.get(CONSOLE_CSS_PATH.slice(CONSOLE_MOUNT.length), asset(CONSOLE_CSS, "text/css; charset=utf-8"));
  app.get(CONSOLE_JS_PATH.slice(CONSOLE_MOUNT.length), asset(CONSOLE_JS, "text/javascript; charset=utf-8"));
  app.get("/sign-in", localSignIn);

  app.use(requireSession);
  app.use(csrfGuard);
  const home = (c: Context<ConsoleEnv>) => renderPage(c, 200, <HomePage session={c.get("consoleSession")} />);
  app.get("/", home);
  registerKeyScreens(app, adminFetch);
  registerAuditScreen(app, adminFetch);

  app.all("*", (c) => {
    // `/__spot/console/` (with the slash) is the home page too.
    if (c.req.method === "GET" && c.req.path === `${CONSOLE_MOUNT}/`) return home(c);
    return renderError(c, 404, "Not found", "There is no such console page.");
  });
  app.onError((err, c) => {
    // The API-key refusal: the admin API's JSON answer, word for word.
    if (err instanceof ApiError) {
      c.set("errorCode", err.code);
      return errorResponse(c, err);
    }
    log("error", "console_error", { request_id: c.get("requestId"), error: errorMessage(err) });
    return renderError(
      c,
      500,
      "Something went wrong",
      "The console could not process this request. Retry; if it persists, quote the time.",
    );
  });
  return app;
}
