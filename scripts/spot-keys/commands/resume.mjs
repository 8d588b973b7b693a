// spot-keys resume: the keys of a suspended account work again (POST /accounts/{account}/resume).

import { adminRequest } from "../../admin-client.mjs";
import { escapeForTerminal as esc } from "../../lib/terminal-text.mjs";
import { connection } from "../connection.mjs";
import { EXIT } from "../errors.mjs";
import { account } from "../options.mjs";
import { accountSyncNote, bold, dim } from "../output.mjs";
import { noPositionals, requireAccount } from "../values.mjs";

export default {
  name: "resume",
  summary: "the keys of a suspended account work again",
  usage: ["spot-keys resume --account ACCT"],
  options: { account },
  example: "spot-keys resume --account acct_42",

  async run(values, positionals, out) {
    const acct = requireAccount(values);
    noPositionals(positionals);
    const { body: resumed } = await adminRequest({ ...(await connection()), method: "POST", path: `/accounts/${acct}/resume`, body: {} });
    out(resumed, (b) => {
      console.log(
        b.already
          ? `${esc(b.account_id)} was not suspended.`
          : `Resumed ${bold(esc(b.account_id))}; ${esc(b.keys_rewritten)} key record(s) rewritten.`,
      );
      if (!b.already)
        console.log(dim("Its keys work again everywhere within 5 s (revocation feed; revoked and expired ones stay refused)."));
      accountSyncNote(b);
    });
    return EXIT.ok;
  },
};
