// spot-keys revoke: stop a key for good (POST …/keys/{key}/revoke), after a [y/N] unless --yes.

import { adminRequest } from "../../admin-client.mjs";
import { escapeForTerminal as esc } from "../../lib/terminal-text.mjs";
import { connection } from "../connection.mjs";
import { EXIT } from "../errors.mjs";
import { account, yes } from "../options.mjs";
import { bold, boundNote, dim, syncNote } from "../output.mjs";
import { confirmed } from "../prompt.mjs";
import { requireAccount, requireKeyId } from "../values.mjs";

export default {
  name: "revoke",
  summary: "stop a key for good (asks first unless --yes)",
  usage: ["spot-keys revoke --account ACCT KEY_ID [--yes]"],
  options: { account, yes: { ...yes, help: "revoke without asking (needed without a terminal)" } },
  example: "spot-keys revoke --account acct_42 key_PHPvxkEck3kP1fk0 --yes",

  async run(values, positionals, out) {
    const acct = requireAccount(values);
    const keyId = requireKeyId(positionals);
    const ok = await confirmed(values, {
      question: `Revoke ${keyId} of ${acct}? It stops working within seconds and cannot be undone. [y/N] `,
      refusal: `Not revoking ${keyId}: confirm with --yes (there is no terminal to ask on).`,
      declined: "Not revoked.",
    });
    if (!ok) return EXIT.aborted;
    const { body: revoked } = await adminRequest({
      ...(await connection()),
      method: "POST",
      path: `/accounts/${acct}/keys/${keyId}/revoke`,
      body: {},
    });
    out(revoked, (b) => {
      console.log(
        b.already_revoked
          ? `${esc(b.key.key_id)} was already revoked (${esc(b.key.revoked_at)}).`
          : `Revoked ${bold(esc(b.key.key_id))} at ${esc(b.key.revoked_at)}.`,
      );
      console.log(dim(`It stops working everywhere ${boundNote(b)}.`));
      syncNote(b);
    });
    return EXIT.ok;
  },
};
