// spot-keys: the options shared by several commands, each with its one-line help. A command module lists
// its options (these, or its own) as `util.parseArgs` specs plus `arg` (the value's placeholder) and `help`.

import { TIERS } from "./values.mjs";

/** Every command takes these (added by main.mjs). */
export const COMMON = {
  json: { type: "boolean", default: false, help: "machine-readable output: the API's JSON answer (errors too), nothing else on stdout" },
  help: { type: "boolean", short: "h", default: false, help: "this text" },
};

export const account = { type: "string", arg: "ACCT", help: "the account id (acct_…); required" };

export const yes = { type: "boolean", short: "y", default: false, help: "do not ask for confirmation (needed without a terminal)" };

export const expiresAt = {
  type: "string",
  arg: "ISO",
  help: "when the key stops working: an ISO 8601 UTC instant in the future, at most 3650 days ahead",
};

export const allowIp = {
  type: "string",
  multiple: true,
  arg: "CIDR",
  help: "an IPv4/IPv6 address or CIDR range the key may be used from; repeat for several (others: 403)",
};

export const rateLimit = { type: "string", arg: "N", help: `requests per minute for the key: ${TIERS.join(", ")}` };

/** The filters and paging of the audit searches. */
export const search = {
  account: { type: "string", arg: "ACCT", help: "events of this account (acct_…)" },
  key: { type: "string", arg: "KEY_ID", help: "events of this key (key_…)" },
  since: {
    type: "string",
    arg: "TIME",
    help: "from: an instant (2026-11-30T14:00:00Z), a UTC day (2026-11-30) or a time ago (90s, 15m, 2h, 7d)",
  },
  until: { type: "string", arg: "TIME", help: "before (exclusive): as --since" },
  limit: { type: "string", arg: "N", help: "events per page, 1..200 (default 50); with --all the most in all, 1..10000 (default 10000)" },
  cursor: { type: "string", arg: "C", help: "continue from the next_cursor printed after a page" },
  all: { type: "boolean", default: false, help: "follow the pages to the end (at most 10000 events)" },
};
