/**
 * Every console action is an admin API call, made in process through the Worker's own app (the admin
 * API mounted in it) with the signed-in token as the Bearer: validation, authorization (`keys:write`
 * for writes), the Durable Object calls and the admin audit event are exactly the API's.
 */
import type { Context } from "hono";
import { ADMIN_PREFIX } from "../admin/paths";
import type { AdminFetch, ConsoleEnv } from "./env";
import { type ErrorDetails, renderError } from "./views/render";

/** Tells the admin API (and a reader of its requests) that the console made the call. */
export const CONSOLE_CLIENT_HEADER = "X-Spot-Admin-Client";

/** Request headers of the browser's request that the admin API's audit event records. Never cookies or API-key headers. */
const PASSED_HEADERS = ["cf-connecting-ip", "user-agent", "cf-ray", "cf-ipcountry"];

export type AdminAnswer<T> =
  | { ok: true; status: number; body: T }
  | { ok: false; status: number; error: { code: string; message: string; request_id?: string; param?: string } };

/**
 * Calls the admin API in process.
 * @param path relative to /__spot/admin/v1 (e.g. `/accounts/acct_42/keys`), query included
 */
export async function callAdmin<T>(
  c: Context<ConsoleEnv>,
  adminFetch: AdminFetch,
  method: string,
  path: string,
  body?: unknown,
): Promise<AdminAnswer<T>> {
  const headers = new Headers({ Authorization: `Bearer ${c.get("consoleSession").token}`, [CONSOLE_CLIENT_HEADER]: "console" });
  for (const name of PASSED_HEADERS) {
    const value = c.req.header(name);
    if (value !== undefined) headers.set(name, value);
  }
  if (body !== undefined) headers.set("Content-Type", "application/json");
  const url = new URL(`${ADMIN_PREFIX}${path}`, c.req.url);
  const request = new Request(url, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const res = await adminFetch(request, c.env, c.executionCtx as unknown as ExecutionContext);
  let json: unknown = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  if (res.ok) return { ok: true, status: res.status, body: json as T };
  const error = (json as { error?: { code: string; message: string; request_id?: string; param?: string } } | null)?.error;
  return {
    ok: false,
    status: res.status,
    error: error ?? { code: "unexpected_answer", message: `The admin API answered ${res.status} without an error envelope.` },
  };
}

/** Short titles of the admin API's refusals; the message comes from the API itself. */
const TITLES: Record<number, string> = {
  400: "Not accepted",
  401: "Sign-in refused",
  403: "Not allowed",
  404: "Not found",
  409: "Conflict",
  503: "Unavailable",
};

/** The error page of an admin API refusal: its status, message, code, field and request id. */
export function renderAdminError(
  c: Context<ConsoleEnv>,
  answer: Extract<AdminAnswer<unknown>, { ok: false }>,
  back?: ErrorDetails["back"],
): Promise<Response> {
  return renderError(c, answer.status, TITLES[answer.status] ?? "Failed", answer.error.message, {
    code: answer.error.code,
    param: answer.error.param,
    requestId: answer.error.request_id,
    back,
  });
}
