// spot-keys create: a new key for an account (POST /accounts/{account}/keys); its secret is printed once.

import { adminRequest } from "../../admin-client.mjs";
import { escapeForTerminal as esc } from "../../lib/terminal-text.mjs";
import { connection } from "../connection.mjs";
import { EXIT } from "../errors.mjs";
import { account, allowIp, expiresAt, rateLimit } from "../options.mjs";
import { bold, printSecret, syncNote } from "../output.mjs";
import { noPositionals, optionalBody, policyFromOptions, requireAccount } from "../values.mjs";

export default {
  name: "create",
  summary: "create a key for an account; its secret is printed once",
  usage: [
    "spot-keys create --account ACCT [--mode live|test] [--label TEXT] [--expires-at ISO]",
    "                 [--allow-ip CIDR]... [--rate-limit N]",
  ],
  options: {
    account,
    mode: { type: "string", arg: "live|test", help: "live (the default) or test: the secret's prefix, sk_live_ or sk_test_" },
    label: { type: "string", arg: "TEXT", help: "a label to tell the key apart (1..200 characters)" },
    "expires-at": expiresAt,
    "allow-ip": allowIp,
    "rate-limit": rateLimit,
  },
  example: "spot-keys create --account acct_42 --label billing --rate-limit 600",

  async run(values, positionals, out) {
    const acct = requireAccount(values);
    noPositionals(positionals);
    const body = optionalBody(values, [
      ["mode", "mode"],
      ["label", "label"],
      ["expires-at", "expires_at"],
    ]);
    const policy = policyFromOptions(values, { update: false });
    if (policy) body.policy = policy;
    const { body: created } = await adminRequest({ ...(await connection()), method: "POST", path: `/accounts/${acct}/keys`, body });
    out(created, (b) => {
      console.log(
        `Created key ${bold(esc(b.key.key_id))} for ${esc(b.key.account_id)} (${esc(b.key.mode)}${b.key.label ? `, "${esc(b.key.label)}"` : ""}).`,
      );
      printSecret(b.secret);
      syncNote(b);
    });
    return EXIT.ok;
  },
};
