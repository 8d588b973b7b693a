// spot-keys: paging of the audit searches (`audit`, `admin-audit`): one page, or with --all every page up
// to a bound, and the hint on stderr of where to continue.

import { adminRequest } from "../admin-client.mjs";
import { escapeForTerminal as esc } from "../lib/terminal-text.mjs";
import { dim } from "./output.mjs";

/** Audit searches: the API's page size bound, and the bound of --all. */
export const MAX_PAGE = 200;
export const MAX_ALL = 10_000;

/**
 * Fetches one page, or with --all every page up to `limit` events (pages of at most 200).
 * @returns {Promise<{ events: object[], next_cursor: string | null }>} next_cursor non-null when more remain
 */
export async function fetchPages(conn, path, params, { all, limit, cursor }) {
  const events = [];
  let next = cursor ?? null;
  const cap = all ? (limit ?? MAX_ALL) : null;
  for (;;) {
    const query = new URLSearchParams(params);
    const size = cap === null ? limit : Math.min(MAX_PAGE, cap - events.length);
    if (size !== undefined) query.set("limit", String(size));
    if (next) query.set("cursor", next);
    const { body } = await adminRequest({ ...conn, method: "GET", path: `${path}?${query}` });
    events.push(...body.events);
    next = body.next_cursor;
    if (cap === null || next === null || events.length >= cap) return { events, next_cursor: next };
  }
}

/** On stderr: how to continue after a page (or after --all stopped at its bound). */
export function printMore(page, values) {
  if (page.next_cursor === null) return;
  if (values.all) console.error(dim(`Stopped after ${page.events.length} events; continue with --cursor ${esc(page.next_cursor)}`));
  else console.error(dim(`More events: add --cursor ${esc(page.next_cursor)} (or --all)`));
}
