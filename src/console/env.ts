/** The console's Hono environment: the Worker's, plus the signed-in session. */
import type { AdminActor } from "../admin/auth";
import type { AppEnv } from "../env";

/** Who is signed in, with the token that is forwarded to the admin API as the Bearer. */
export interface ConsoleSession {
  token: string;
  actor: AdminActor;
  /** The token may write (`keys:write`, or a writer list): the forms that change keys are shown. The admin API decides anyway. */
  canWrite: boolean;
  /** The CSRF token of this session's forms (src/console/security.ts). */
  csrf: string;
  /** Where the token came from. */
  via: "access" | "local";
}

export type ConsoleEnv = { Bindings: Env; Variables: AppEnv["Variables"] & { consoleSession: ConsoleSession } };

/** Calls the Worker's own app (the admin API mounted in it), in process: `app.fetch`. */
export type AdminFetch = (request: Request, env: Env, ctx: ExecutionContext) => Response | Promise<Response>;
