// spot-keys admin-audit: a search of admin events (key changes, audit searches…), newest first
// (GET /audit/admin-events).

import { printAdminEvents } from "../audit-output.mjs";
import { fetchPages, MAX_ALL, MAX_PAGE, printMore } from "../audit-pages.mjs";
import { connection } from "../connection.mjs";
import { EXIT } from "../errors.mjs";
import { search } from "../options.mjs";
import { noPositionals, optionalAccount, optionalKey, parseLimit, timeRange } from "../values.mjs";

export default {
  name: "admin-audit",
  summary: "search admin events: who changed which key, who searched the trail",
  usage: [
    "spot-keys admin-audit [--account ACCT] [--key KEY_ID] [--actor SUB] [--action ACTION]",
    "                      [--since TIME] [--until TIME] [--limit N] [--cursor C | --all]",
  ],
  options: {
    account: search.account,
    key: search.key,
    actor: { type: "string", arg: "SUB", help: "events of this admin (the sub of the admin token)" },
    action: { type: "string", arg: "ACTION", help: "events of this action (key.create, audit.search, …)" },
    since: search.since,
    until: search.until,
    limit: search.limit,
    cursor: search.cursor,
    all: search.all,
  },
  example: "spot-keys admin-audit --account acct_42 --since 7d",

  async run(values, positionals, out) {
    noPositionals(positionals);
    const params = Object.entries({
      account_id: optionalAccount(values),
      key_id: optionalKey(values),
      actor: values.actor,
      action: values.action,
      ...timeRange(values),
    }).filter(([, v]) => v !== undefined);
    const limit = parseLimit(values.limit, values.all ? MAX_ALL : MAX_PAGE);
    const page = await fetchPages(await connection(), "/audit/admin-events", params, { all: values.all, limit, cursor: values.cursor });
    out(page, (p) => {
      printAdminEvents(p.events);
      printMore(p, values);
    });
    return EXIT.ok;
  },
};
