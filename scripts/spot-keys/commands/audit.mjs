// spot-keys audit: the audit event of one response (a lone --request-id, from D1 or the archive), or a
// search of request events, newest first (GET /audit/events).

import { AdminApiError, adminRequest } from "../../admin-client.mjs";
import { printEvents, showEvent } from "../audit-output.mjs";
import { fetchPages, MAX_ALL, MAX_PAGE, printMore } from "../audit-pages.mjs";
import { connection } from "../connection.mjs";
import { EXIT, NOT_STORED_HINT, UsageError } from "../errors.mjs";
import { search } from "../options.mjs";
import { noPositionals, optionalAccount, optionalId, optionalKey, parseLimit, parseWait, timeRange } from "../values.mjs";

const OUTCOMES = ["allowed", "denied", "error"];
/** `any`, or the shape of an error code; the API knows which codes report-only mode records (400 query.would_refuse). */
const WOULD_REFUSE = /^(any|[a-z][a-z_]{0,63})$/;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The time inside a UUIDv7 request id (RFC 9562: the first 48 bits, Unix ms), or null for any other id (src/request-id.ts). */
function uuidv7Time(id) {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(id)) return null;
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/**
 * The hint under a 404 of `audit --request-id`: for a UUIDv7 id older than a few minutes, when its request
 * arrived (waiting will not help: the API looked in D1 and in the archive objects of that time); after a
 * --wait of 15 s or more, that the id may be wrong; else the wait hint.
 * @param {string} requestId
 * @param {number} waitedSeconds the --wait given (0 without one)
 * @param {number} [nowMs] now, Unix milliseconds
 * @returns {string}
 */
export function notFoundHint(requestId, waitedSeconds, nowMs = Date.now()) {
  const timeMs = uuidv7Time(requestId);
  if (timeMs === null || nowMs - timeMs < 5 * 60_000) {
    if (waitedSeconds >= 15) {
      return `Not stored after waiting ${waitedSeconds} s, although events are usually stored within about 5 s: check the id (the X-Request-Id of the response), or wait longer.`;
    }
    return waitedSeconds > 0
      ? "Audit events are stored a few seconds after the response: retry with a longer --wait (e.g. 15s)."
      : NOT_STORED_HINT;
  }
  return `The request id says its request arrived at ${new Date(timeMs).toISOString()}: not a recent one, so --wait will not bring it (docs/audit.md "Past the D1 window").`;
}

/** The one event of a request id; with --wait, retried while the answer is 404. */
async function lookUp(requestId, values, out) {
  const waitSeconds = values.wait === undefined ? 0 : parseWait(values.wait);
  const conn = await connection();
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    try {
      const { body } = await adminRequest({ ...conn, method: "GET", path: `/audit/requests/${encodeURIComponent(requestId)}` });
      out(body, (b) => console.log(showEvent(b.event, b.source)));
      return EXIT.ok;
    } catch (err) {
      if (!(err instanceof AdminApiError && err.status === 404 && Date.now() < deadline)) {
        if (err instanceof AdminApiError && err.code === "audit_event_not_found") err.hint = notFoundHint(requestId, waitSeconds);
        throw err;
      }
      await sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
    }
  }
}

export default {
  name: "audit",
  summary: "the audit event of one response (--request-id), or a search of request events",
  usage: [
    "spot-keys audit --request-id ID [--wait DURATION]                  (the audit event of one response, from D1 or the archive)",
    "spot-keys audit [--account ACCT] [--key KEY_ID] [--request-id ID] [--source-ip IP] [--connecting-ip IP]",
    "                [--outcome allowed|denied|error] [--would-refuse any|CODE] [--since TIME] [--until TIME]",
    "                [--limit N] [--cursor C | --all]                   (search request events, newest first)",
  ],
  options: {
    "request-id": { type: "string", arg: "ID", help: "the X-Request-Id of a response: alone, its one event; else a filter" },
    wait: { type: "string", arg: "DURATION", help: "with a lone --request-id: retry for up to this long (e.g. 15s) while not stored yet" },
    account: search.account,
    key: search.key,
    "source-ip": { type: "string", arg: "IP", help: "events whose source IP (observed or asserted) is this address" },
    "connecting-ip": { type: "string", arg: "IP", help: "events whose connecting IP (observed by Cloudflare) is this address" },
    outcome: { type: "string", arg: "OUTCOME", help: "allowed, denied or error (alone it needs --since at most 24 h back)" },
    "would-refuse": {
      type: "string",
      arg: "any|CODE",
      help: "report-only mode: events enforcement would refuse, any or of one code (alone it needs --since ≤ 24 h back)",
    },
    since: search.since,
    until: search.until,
    limit: search.limit,
    cursor: search.cursor,
    all: search.all,
  },
  example: "spot-keys audit --account acct_demo --outcome denied --since 2h",

  async run(values, positionals, out) {
    noPositionals(positionals);
    const requestId = optionalId(values, "request-id", /^[A-Za-z0-9._:-]{1,128}$/, "a request id (the X-Request-Id of a response)");
    const outcome = values.outcome;
    if (outcome !== undefined && !OUTCOMES.includes(outcome))
      throw new UsageError(`--outcome ${JSON.stringify(outcome)}: one of ${OUTCOMES.join(", ")}`);
    const wouldRefuse = values["would-refuse"];
    if (wouldRefuse !== undefined && !WOULD_REFUSE.test(wouldRefuse))
      throw new UsageError(
        `--would-refuse ${JSON.stringify(wouldRefuse)}: any, or an error code such as invalid_credentials or ip_not_allowed`,
      );
    const params = Object.entries({
      account_id: optionalAccount(values),
      key_id: optionalKey(values),
      request_id: requestId,
      source_ip: values["source-ip"],
      connecting_ip: values["connecting-ip"],
      outcome,
      would_refuse: wouldRefuse,
      ...timeRange(values),
    }).filter(([, v]) => v !== undefined);
    const paging = values.limit !== undefined || values.cursor !== undefined || values.all;
    if (values.all && values.cursor === "") throw new UsageError("--cursor is empty");

    // A lone request id: the one event of that response.
    if (requestId !== undefined && params.length === 1 && !paging) return lookUp(requestId, values, out);
    if (values.wait !== undefined) throw new UsageError("--wait goes only with a lone --request-id");
    const limit = parseLimit(values.limit, values.all ? MAX_ALL : MAX_PAGE);
    const page = await fetchPages(await connection(), "/audit/events", params, { all: values.all, limit, cursor: values.cursor });
    out(page, (p) => {
      printEvents(p.events);
      printMore(p, values);
    });
    return EXIT.ok;
  },
};
