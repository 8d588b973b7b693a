// spot-keys update: change a key's label, expiry or policy (PATCH /accounts/{account}/keys/{key}), only
// what is given.

import { adminRequest } from "../../admin-client.mjs";
import { escapeForTerminal as esc } from "../../lib/terminal-text.mjs";
import { connection } from "../connection.mjs";
import { EXIT, UsageError } from "../errors.mjs";
import { account, allowIp, expiresAt, rateLimit } from "../options.mjs";
import { bold, boundNote, dim, policyLines, syncNote } from "../output.mjs";
import { policyFromOptions, requireAccount, requireKeyId } from "../values.mjs";

export default {
  name: "update",
  summary: "change a key's label, expiry, IP allowlist or rate limit",
  usage: [
    "spot-keys update --account ACCT KEY_ID [--label TEXT | --no-label] [--expires-at ISO | --expires-at none]",
    "                 [--allow-ip CIDR]... [--no-allow-ip] [--rate-limit N | --rate-limit default]",
  ],
  options: {
    account,
    label: { type: "string", arg: "TEXT", help: "set the label" },
    "no-label": { type: "boolean", default: false, help: "remove the label" },
    "expires-at": { ...expiresAt, help: 'the new end: an ISO 8601 UTC instant (at most 3650 days ahead), or "none" for no expiry' },
    "allow-ip": { ...allowIp, help: "an address or CIDR range the key may be used from (repeat for several); replaces the list" },
    "no-allow-ip": { type: "boolean", default: false, help: "remove the allowlist (any address)" },
    "rate-limit": { ...rateLimit, help: `${rateLimit.help}; "default" removes it` },
  },
  example: "spot-keys update --account acct_42 key_iuHsjSxb6RTpQfTt --allow-ip 203.0.113.0/24 --rate-limit 600",

  async run(values, positionals, out) {
    const acct = requireAccount(values);
    const keyId = requireKeyId(positionals);
    const body = {};
    if (values.label !== undefined && values["no-label"]) throw new UsageError("give --label or --no-label, not both");
    if (values.label !== undefined) body.label = values.label;
    if (values["no-label"]) body.label = null;
    if (values["expires-at"] !== undefined) {
      body.expires_at = String(values["expires-at"]).trim().toLowerCase() === "none" ? null : values["expires-at"];
    }
    const policy = policyFromOptions(values, { update: true });
    if (policy) body.policy = policy;
    if (Object.keys(body).length === 0) {
      throw new UsageError("nothing to change: give --label, --no-label, --expires-at, --allow-ip, --no-allow-ip or --rate-limit");
    }
    const { body: updated } = await adminRequest({
      ...(await connection()),
      method: "PATCH",
      path: `/accounts/${acct}/keys/${keyId}`,
      body,
    });
    out(updated, (b) => {
      console.log(
        b.changed.length > 0
          ? `Updated ${bold(esc(b.key.key_id))}: ${esc(b.changed.join(", "))}.`
          : `Nothing changed on ${esc(b.key.key_id)}.`,
      );
      if (b.changed.includes("expires_at")) console.log(`  ${"expires".padEnd(12)}${esc(b.key.expires_at ?? "never")}`);
      for (const [name, value] of policyLines(b.key.policy)) console.log(`  ${name.padEnd(12)}${esc(value)}`);
      if (b.changed.includes("expires_at")) console.log(dim(`An earlier end is enforced everywhere ${boundNote(b)}.`));
      if (b.changed.some((name) => name !== "expires_at")) {
        console.log(dim("The edge enforces the change within about 90 s (KV propagation + isolate cache)."));
      }
      syncNote(b);
    });
    return EXIT.ok;
  },
};
