/**
 * Console helpers: pages fetched through the Worker's real fetch handler (test/helpers/worker.ts) as
 * a browser behind Cloudflare Access would (`Cf-Access-Jwt-Assertion`), and form posts with the
 * page's CSRF token and the console's own Origin.
 */
import type { AdminAuditEvent } from "../../src/audit/admin-event";
import { adminToken } from "./admin";
import { API } from "./fixtures";
import { type CallOptions, type CallResult, call } from "./worker";

export const CONSOLE = "/__spot/console";

export interface ConsoleResult extends CallResult {
  html: string;
  adminEvents: AdminAuditEvent[];
}

export interface ConsoleOptions {
  /** The Access token; default a valid write token; null: none. */
  token?: string | null;
  headers?: Record<string, string>;
  call?: CallOptions;
}

function adminEventsOf(result: CallResult): AdminAuditEvent[] {
  return result.events.filter((e) => (e as unknown as { kind?: string }).kind === "admin") as unknown as AdminAuditEvent[];
}

async function send(method: string, path: string, options: ConsoleOptions, body?: string): Promise<ConsoleResult> {
  const headers = new Headers(options.headers);
  const token = options.token === undefined ? await adminToken() : options.token;
  if (token !== null && !headers.has("cf-access-jwt-assertion")) headers.set("Cf-Access-Jwt-Assertion", token);
  const result = await call(`${CONSOLE}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) }, options.call);
  return {
    ...result,
    html: typeof result.body === "string" ? result.body : JSON.stringify(result.body),
    adminEvents: adminEventsOf(result),
  };
}

export function consoleGet(path: string, options: ConsoleOptions = {}): Promise<ConsoleResult> {
  return send("GET", path, options);
}

/**
 * Posts a form. By default with `Origin` = the API's origin and the CSRF token of `csrf` (take it from
 * a page with {@link csrfOf}); `origin: null` sends no Origin.
 */
export function consolePost(
  path: string,
  fields: Record<string, string>,
  options: ConsoleOptions & { origin?: string | null } = {},
): Promise<ConsoleResult> {
  const headers: Record<string, string> = { "Content-Type": "application/x-www-form-urlencoded", ...options.headers };
  const origin = options.origin === undefined ? API : options.origin;
  if (origin !== null) headers.Origin = origin;
  return send("POST", path, { ...options, headers }, new URLSearchParams(fields).toString());
}

/** The CSRF token in a page's forms. */
export function csrfOf(html: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(html);
  if (!match?.[1]) throw new Error("no CSRF field in this page");
  return match[1];
}

/** The text of the element with this id (first match, tags stripped). */
export function textOf(html: string, id: string): string | null {
  const match = new RegExp(`id="${id}"[^>]*>([\\s\\S]*?)</`).exec(html);
  return match?.[1] ?? null;
}
