// spot-keys show: one key field by field (GET /accounts/{account}/keys/{key}), its edge record and policy.

import { adminRequest } from "../../admin-client.mjs";
import { connection } from "../connection.mjs";
import { EXIT } from "../errors.mjs";
import { account } from "../options.mjs";
import { showKey } from "../output.mjs";
import { requireAccount, requireKeyId } from "../values.mjs";

export default {
  name: "show",
  summary: "one key: status, secret hint, expiry, last use, edge record, policy",
  usage: ["spot-keys show --account ACCT KEY_ID"],
  options: { account },
  example: "spot-keys show --account acct_42 key_iuHsjSxb6RTpQfTt",

  async run(values, positionals, out) {
    const acct = requireAccount(values);
    const keyId = requireKeyId(positionals);
    const { body: shown } = await adminRequest({ ...(await connection()), method: "GET", path: `/accounts/${acct}/keys/${keyId}` });
    out(shown, (b) => console.log(showKey(b.key)));
    return EXIT.ok;
  },
};
