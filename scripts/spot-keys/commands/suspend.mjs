// spot-keys suspend: every key of an account answers 401 until resumed (POST /accounts/{account}/suspend),
// after a [y/N] unless --yes.

import { adminRequest } from "../../admin-client.mjs";
import { escapeForTerminal as esc } from "../../lib/terminal-text.mjs";
import { connection } from "../connection.mjs";
import { EXIT } from "../errors.mjs";
import { account, yes } from "../options.mjs";
import { accountSyncNote, bold, boundNote, dim } from "../output.mjs";
import { confirmed } from "../prompt.mjs";
import { noPositionals, requireAccount } from "../values.mjs";

export default {
  name: "suspend",
  summary: "every key of an account answers 401 until resumed (asks first unless --yes)",
  usage: ["spot-keys suspend --account ACCT [--yes]"],
  options: { account, yes: { ...yes, help: "suspend without asking (needed without a terminal)" } },
  example: "spot-keys suspend --account acct_42 --yes",

  async run(values, positionals, out) {
    const acct = requireAccount(values);
    noPositionals(positionals);
    const ok = await confirmed(values, {
      question: `Suspend ${acct}? Every key of it answers 401 within seconds, until resumed. [y/N] `,
      refusal: `Not suspending ${acct}: confirm with --yes (there is no terminal to ask on).`,
      declined: "Not suspended.",
    });
    if (!ok) return EXIT.aborted;
    const { body: suspended } = await adminRequest({
      ...(await connection()),
      method: "POST",
      path: `/accounts/${acct}/suspend`,
      body: {},
    });
    out(suspended, (b) => {
      console.log(
        b.already
          ? `${esc(b.account_id)} was already suspended (since ${esc(b.suspended_at)}).`
          : `Suspended ${bold(esc(b.account_id))} at ${esc(b.suspended_at)}; ${esc(b.keys_rewritten)} key record(s) rewritten.`,
      );
      console.log(dim(`Every key of it answers 401 everywhere ${boundNote(b)}, until \`spot-keys resume --account ${esc(acct)}\`.`));
      accountSyncNote(b);
    });
    return EXIT.ok;
  },
};
