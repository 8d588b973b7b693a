// spot-keys rotate: a new key in place of an old one (POST …/keys/{key}/rotate); the old secret keeps
// working for the overlap; the new secret is printed once.

import { adminRequest } from "../../admin-client.mjs";
import { escapeForTerminal as esc } from "../../lib/terminal-text.mjs";
import { connection } from "../connection.mjs";
import { EXIT } from "../errors.mjs";
import { account, expiresAt } from "../options.mjs";
import { bold, printSecret, syncNote } from "../output.mjs";
import { optionalBody, parseDuration, requireAccount, requireKeyId } from "../values.mjs";

export default {
  name: "rotate",
  summary: "replace a key by a new one; the old secret keeps working for the overlap",
  usage: ["spot-keys rotate --account ACCT KEY_ID [--overlap DURATION] [--expires-at ISO] [--label TEXT]"],
  options: {
    account,
    overlap: {
      type: "string",
      arg: "DURATION",
      help: "how long the old secret keeps working: 0, 3600, 90s, 30m, 24h, 7d (default 24h, at most 30d)",
    },
    label: { type: "string", arg: "TEXT", help: "the new key's label (default: the old one's)" },
    "expires-at": { ...expiresAt, help: "when the new key stops working (ISO 8601 UTC, at most 3650 days ahead)" },
  },
  example: "spot-keys rotate --account acct_42 key_PHPvxkEck3kP1fk0 --overlap 1h",

  async run(values, positionals, out) {
    const acct = requireAccount(values);
    const keyId = requireKeyId(positionals);
    const body = optionalBody(values, [
      ["label", "label"],
      ["expires-at", "expires_at"],
    ]);
    if (values.overlap !== undefined) body.overlap_seconds = parseDuration(values.overlap);
    const { body: rotated } = await adminRequest({
      ...(await connection()),
      method: "POST",
      path: `/accounts/${acct}/keys/${keyId}/rotate`,
      body,
    });
    out(rotated, (b) => {
      console.log(`Rotated ${esc(b.previous.key_id)} → ${bold(esc(b.key.key_id))}.`);
      console.log(
        `The old secret works until ${esc(b.previous.expires_at)}${b.previous.status === "expired" ? " (already ended)" : ""}; the new one works now.`,
      );
      printSecret(b.secret);
      syncNote(b);
    });
    return EXIT.ok;
  },
};
