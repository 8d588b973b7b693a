/** GET /__spot/console/audit: find one request by its id, or search the trail; newest first, paged. */
import { WOULD_REFUSE_ANY } from "../../audit/query";
import { WOULD_REFUSE_CODES } from "../../request-path/would-refuse";
import type { ConsoleSession } from "../env";
import type { AuditEventView } from "../model";
import { CONSOLE_MOUNT } from "../paths";
import { Layout, Time } from "./layout";

export const SEARCH_FIELDS = ["account_id", "key_id", "connecting_ip", "source_ip", "outcome", "would_refuse", "since", "until"] as const;
/** The choices of the would-refuse filter (report-only mode's mark): no filter, any code, or one code. */
const WOULD_REFUSE_CHOICES = ["", WOULD_REFUSE_ANY, ...WOULD_REFUSE_CODES];
export type SearchValues = Partial<Record<(typeof SEARCH_FIELDS)[number] | "request_id", string>>;

export interface AuditPageProps {
  session: ConsoleSession;
  values: SearchValues;
  /** null: nothing asked yet. */
  events: AuditEventView[] | null;
  /** Link to the next page, when there is one. */
  nextHref: string | null;
  /** Where a single event was read (find by request id). */
  source?: "d1" | "archive" | undefined;
}

export function AuditPage({ session, values, events, nextHref, source }: AuditPageProps) {
  const action = `${CONSOLE_MOUNT}/audit`;
  return (
    <Layout title="Audit trail" session={session}>
      <form method="get" action={action} id="audit-find-form" data-testid="audit-find-form">
        <label for="request_id">Find by request id (X-Request-Id)</label>
        <input type="text" name="request_id" id="request_id" value={values.request_id ?? ""} size={40} required />{" "}
        <button type="submit" data-testid="audit-find">
          Find
        </button>
      </form>
      <form method="get" action={action} id="audit-search-form" data-testid="audit-search-form">
        <h2>Search</h2>
        <fieldset>
          <Field name="account_id" text="Account" value={values.account_id} placeholder="acct_42" />
          <Field name="key_id" text="Key" value={values.key_id} placeholder="key_…" />
          <Field name="connecting_ip" text="Connecting IP (CF-Connecting-IP)" value={values.connecting_ip} />
          <Field name="source_ip" text="Source IP (may be asserted by X-Forwarded-For)" value={values.source_ip} />
          <label for="outcome">Outcome</label>
          <select name="outcome" id="outcome">
            {["", "allowed", "denied", "error"].map((o) => (
              <option value={o} selected={(values.outcome ?? "") === o}>
                {o === "" ? "any" : o}
              </option>
            ))}
          </select>
          <label for="would_refuse">Would refuse (report-only mode)</label>
          <select name="would_refuse" id="would_refuse">
            {WOULD_REFUSE_CHOICES.map((w) => (
              <option value={w} selected={(values.would_refuse ?? "") === w}>
                {w === "" ? "—" : w === WOULD_REFUSE_ANY ? "any code" : w}
              </option>
            ))}
          </select>
          <label for="since">Since (UTC)</label>
          <input type="datetime-local" step={1} name="since" id="since" value={values.since ?? ""} />
          <label for="until">Until (UTC)</label>
          <input type="datetime-local" step={1} name="until" id="until" value={values.until ?? ""} />
        </fieldset>
        <button type="submit" data-testid="audit-search">
          Search
        </button>
      </form>
      {events === null ? null : (
        <section aria-label="Events" data-testid="audit-results">
          <h2>{events.length === 0 ? "No event matches" : `${events.length} event${events.length === 1 ? "" : "s"}, newest first`}</h2>
          {source === "archive" ? <p class="hint">Read from the archive (R2): the event has left D1.</p> : null}
          {events.map((event) => (
            <AuditEventCard event={event} />
          ))}
          {nextHref ? (
            <p>
              <a href={nextHref} id="audit-next-page" data-testid="audit-next-page" rel="next">
                Next page
              </a>
            </p>
          ) : null}
        </section>
      )}
    </Layout>
  );
}

function Field({ name, text, value, placeholder }: { name: string; text: string; value: string | undefined; placeholder?: string }) {
  return (
    <>
      <label for={name}>{text}</label>
      <input type="text" name={name} id={name} value={value ?? ""} placeholder={placeholder ?? ""} />
    </>
  );
}

function AuditEventCard({ event: e }: { event: AuditEventView }) {
  const asserted = e.source_ip_from === "x-forwarded-for";
  return (
    <article class="event" data-testid="audit-event" data-request-id={e.request_id} data-would-refuse={e.would_refuse ?? undefined}>
      <dl class="event">
        <dt>Time</dt>
        <dd>
          <Time iso={e.time} /> ({e.duration_ms} ms)
        </dd>
        <dt>Request id</dt>
        <dd>
          <code data-testid="audit-request-id">{e.request_id}</code>
        </dd>
        <dt>Outcome</dt>
        <dd data-testid="audit-outcome">
          {e.outcome} · status {e.status} · reason <code>{e.reason}</code>
        </dd>
        {e.would_refuse ? (
          <>
            <dt>Would refuse</dt>
            <dd data-testid="audit-would-refuse">
              <code>{e.would_refuse}</code> <span class="idle">report-only: enforcement would refuse this request; it was forwarded</span>
            </dd>
          </>
        ) : null}
        <dt>Account / key</dt>
        <dd>
          <code>{e.account_id ?? "—"}</code>
          {e.account_id ? (e.account_verified ? " (verified)" : " (claimed, not verified)") : ""} / <code>{e.key_id ?? "—"}</code>
          {e.mode ? ` (${e.mode})` : ""}
        </dd>
        <dt>Request</dt>
        <dd>
          <code>
            {e.method} {e.host}
            {e.path}
          </code>
        </dd>
        <dt>Source IP</dt>
        <dd data-testid="audit-source-ip">
          <code>{e.source_ip ?? "—"}</code>
          {asserted ? <span class="idle"> asserted by X-Forwarded-For</span> : null}
        </dd>
        <dt>Connecting IP</dt>
        <dd>
          <code>{e.connecting_ip ?? "—"}</code>
        </dd>
        <dt>User agent</dt>
        <dd>{e.user_agent ?? "—"}</dd>
        <dt>Country · colo</dt>
        <dd>
          {e.country ?? "—"} · {e.colo ?? "—"}
        </dd>
        <dt>Version</dt>
        <dd>
          {e.resolved_version ?? "—"}
          {e.requested_version && e.requested_version !== e.resolved_version ? ` (asked ${e.requested_version})` : ""}
        </dd>
        <dt>Origin</dt>
        <dd>{e.origin ?? "—"}</dd>
      </dl>
    </article>
  );
}
