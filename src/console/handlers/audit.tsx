/** The audit screen: GET /audit, one admin API call per page (a find by request id, or a search). */
import type { Hono } from "hono";
import { callAdmin, renderAdminError } from "../admin-call";
import type { AdminFetch, ConsoleEnv } from "../env";
import { type AuditEventView, type AuditPage as AuditPageAnswer, instantOf } from "../model";
import { CONSOLE_MOUNT } from "../paths";
import { AuditPage, SEARCH_FIELDS, type SearchValues } from "../views/audit";
import { renderPage } from "../views/render";

export function registerAuditScreen(app: Hono<ConsoleEnv>, adminFetch: AdminFetch): void {
  app.get("/audit", async (c) => {
    const session = c.get("consoleSession");
    const values: SearchValues = {};
    const query = c.req.query();
    for (const name of [...SEARCH_FIELDS, "request_id"] as const) {
      const value = query[name]?.trim();
      if (value) values[name] = value;
    }
    const back = { href: `${CONSOLE_MOUNT}/audit`, text: "Back to the audit search" };

    if (values.request_id) {
      const answer = await callAdmin<{ event: AuditEventView; source: "d1" | "archive" }>(
        c,
        adminFetch,
        "GET",
        `/audit/requests/${encodeURIComponent(values.request_id)}`,
      );
      if (!answer.ok) return renderAdminError(c, answer, back);
      return renderPage(
        c,
        200,
        <AuditPage session={session} values={values} events={[answer.body.event]} nextHref={null} source={answer.body.source} />,
      );
    }

    // A search only once the search form was sent (its fields are in the query, even empty).
    const searched = SEARCH_FIELDS.some((name) => name in query);
    if (!searched) return renderPage(c, 200, <AuditPage session={session} values={values} events={null} nextHref={null} />);

    const params = new URLSearchParams();
    for (const name of SEARCH_FIELDS) {
      const value = values[name];
      if (value === undefined) continue;
      params.set(name, name === "since" || name === "until" ? (instantOf(value) ?? value) : value);
    }
    const cursor = query.cursor?.trim();
    if (cursor) params.set("cursor", cursor);
    const answer = await callAdmin<AuditPageAnswer>(c, adminFetch, "GET", `/audit/events?${params}`);
    if (!answer.ok) return renderAdminError(c, answer, back);

    let nextHref: string | null = null;
    if (answer.body.next_cursor) {
      const next = new URLSearchParams();
      for (const name of SEARCH_FIELDS) next.set(name, values[name] ?? "");
      next.set("cursor", answer.body.next_cursor);
      nextHref = `${CONSOLE_MOUNT}/audit?${next}`;
    }
    return renderPage(c, 200, <AuditPage session={session} values={values} events={answer.body.events} nextHref={nextHref} />);
  });
}
