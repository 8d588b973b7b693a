// spot-keys list: the keys of an account as a table (GET /accounts/{account}/keys); never a secret.

import { adminRequest } from "../../admin-client.mjs";
import { escapeForTerminal as esc } from "../../lib/terminal-text.mjs";
import { connection } from "../connection.mjs";
import { EXIT } from "../errors.mjs";
import { account } from "../options.mjs";
import { dim, KEY_HEADER, keyLine, yellow } from "../output.mjs";
import { noPositionals, requireAccount } from "../values.mjs";

export default {
  name: "list",
  summary: "the keys of an account: status, mode, secret hint, created, expires, last used, label",
  usage: ["spot-keys list --account ACCT"],
  options: { account },
  example: "spot-keys list --account acct_42",

  async run(values, positionals, out) {
    const acct = requireAccount(values);
    noPositionals(positionals);
    const { body: list } = await adminRequest({ ...(await connection()), method: "GET", path: `/accounts/${acct}/keys` });
    out(list, (b) => {
      console.log(dim(KEY_HEADER));
      for (const key of b.keys) console.log(keyLine(key));
      if (b.account?.suspended) {
        console.log(
          yellow(
            `Account suspended since ${esc(b.account.suspended_at)}: every key answers 401 (spot-keys resume --account ${esc(acct)}).`,
          ),
        );
      }
      if (b.keys.some((key) => key.status === "sync_failed"))
        console.log(dim("sync_failed: KV refused the key's edge lookup record, so it does not authenticate (spot-keys show for more)."));
    });
    return EXIT.ok;
  },
};
