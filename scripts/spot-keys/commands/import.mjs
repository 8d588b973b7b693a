// spot-keys import: register an existing secret as a key (POST /accounts/{account}/keys/import), the
// secret read from stdin; with --file, many keys from a JSON Lines file (import-file.mjs).

import { adminRequest } from "../../admin-client.mjs";
import { escapeForTerminal as esc } from "../../lib/terminal-text.mjs";
import { connection } from "../connection.mjs";
import { EXIT, UsageError } from "../errors.mjs";
import { account, expiresAt } from "../options.mjs";
import { bold, syncNote } from "../output.mjs";
import { readSecret } from "../prompt.mjs";
import { noPositionals, optionalBody, requireAccount } from "../values.mjs";
import { importFile } from "./import-file.mjs";

export default {
  name: "import",
  summary: "register an existing secret as a key (read from stdin), or many from a file (--file)",
  usage: [
    "spot-keys import --account ACCT [--label TEXT] [--expires-at ISO]   (the secret is read from stdin)",
    "spot-keys import --file KEYS.jsonl [--dry-run]                      (many keys: one JSON object a line)",
  ],
  options: {
    account: { ...account, help: "the account the secret is registered to (acct_…); required without --file" },
    label: { type: "string", arg: "TEXT", help: "a label for the key" },
    "expires-at": expiresAt,
    file: {
      type: "string",
      arg: "KEYS.jsonl",
      help: 'JSON Lines, {"account": "acct_…", "secret": "sk_…", "label": "…"} a line; owner-only (chmod 600)',
    },
    "dry-run": { type: "boolean", default: false, help: "with --file: check every line and print what would be imported, send nothing" },
  },
  example: "spot-keys import --account acct_seed --label legacy < secret.txt",

  async run(values, positionals, out) {
    if (values.file !== undefined) return importFile(values, positionals);
    if (values["dry-run"]) throw new UsageError("--dry-run goes with --file");
    const acct = requireAccount(values);
    noPositionals(positionals);
    const secret = await readSecret();
    if (!secret) throw new UsageError("no secret given: pipe it on stdin (e.g. `spot-keys import --account acct_42 < secret.txt`)");
    const body = {
      secret,
      ...optionalBody(values, [
        ["label", "label"],
        ["expires-at", "expires_at"],
      ]),
    };
    const { body: imported } = await adminRequest({ ...(await connection()), method: "POST", path: `/accounts/${acct}/keys/import`, body });
    out(imported, (b) => {
      console.log(
        `Imported as key ${bold(esc(b.key.key_id))} for ${esc(b.key.account_id)} (${esc(b.key.mode)}, ${esc(b.key.secret_format)}).`,
      );
      syncNote(b);
    });
    return EXIT.ok;
  },
};
