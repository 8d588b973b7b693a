// spot-keys: the usage text of `spot-keys --help`.

import { localBaseUrl } from "../admin-client.mjs";
import { TIERS } from "./values.mjs";

export const USAGE = `spot-keys: manage API keys and search the audit trail through the edge authorizer's admin API

Usage:
  spot-keys create --account ACCT [--mode live|test] [--label TEXT] [--expires-at ISO]
                   [--allow-ip CIDR]... [--rate-limit N]
  spot-keys list   --account ACCT
  spot-keys show   --account ACCT KEY_ID
  spot-keys rotate --account ACCT KEY_ID [--overlap DURATION] [--expires-at ISO] [--label TEXT]
  spot-keys revoke --account ACCT KEY_ID [--yes]
  spot-keys update --account ACCT KEY_ID [--label TEXT | --no-label] [--expires-at ISO | --expires-at none]
                   [--allow-ip CIDR]... [--no-allow-ip] [--rate-limit N | --rate-limit default]
  spot-keys suspend --account ACCT [--yes]                            (every key of the account answers 401)
  spot-keys resume  --account ACCT                                    (its keys work again)
  spot-keys import --account ACCT [--label TEXT] [--expires-at ISO]   (the secret is read from stdin)
  spot-keys import --file KEYS.jsonl [--dry-run]                      (many keys: one JSON object a line)
  spot-keys token  [--read-only]                                      (prints a local dev admin token)
  spot-keys audit  --request-id ID [--wait DURATION]                  (the audit event of one response, from D1 or the archive)
  spot-keys audit  [--account ACCT] [--key KEY_ID] [--request-id ID] [--source-ip IP] [--connecting-ip IP]
                   [--outcome allowed|denied|error] [--since TIME] [--until TIME]
                   [--limit N] [--cursor C | --all]                   (search request events, newest first)
  spot-keys admin-audit [--account ACCT] [--key KEY_ID] [--actor SUB] [--action ACTION]
                   [--since TIME] [--until TIME] [--limit N] [--cursor C | --all]   (search admin events)

Options:
  --json        machine-readable output: the API's JSON answer (errors too), nothing else on stdout
  --yes, -y     revoke or suspend without asking
  --expires-at  an ISO 8601 UTC instant, in the future and at most 3650 days ahead; update: "none" removes the expiry
  --overlap     how long the old secret keeps working: 0, 3600, 90s, 30m, 24h, 7d (default 24h, at most 30d)
  --since, --until  an ISO 8601 instant (2026-11-30T14:00:00Z), a UTC day (2026-11-30), or a time ago (90s, 15m, 2h, 7d)
  --limit       events per page, 1..200 (default 50); with --all the most to fetch in all, 1..10000 (default 10000)
  --cursor      continue from the next_cursor (printed after a page)
  --all         follow the pages to the end (at most 10000 events)
  --file        import: a JSON Lines file, {"account": "acct_…", "secret": "sk_…", "label": "…"} a line
                (optional expires_at, policy); readable by its owner only (chmod 600)
  --dry-run     import --file: check every line and print what would be imported, send nothing
  --wait        with a lone --request-id: retry for up to this long (e.g. 15s) while the event is not stored yet
  --allow-ip    an IPv4/IPv6 address or CIDR range the key may be used from (repeat for several); the
                connecting IP must match, else 403 ip_not_allowed. update: replaces the whole list
  --no-allow-ip update: remove the allowlist (any address)
  --rate-limit  requests per minute for the key: ${TIERS.join(", ")}; update: "default" removes it
  -h, --help    this text

Environment:
  SPOT_ADMIN_URL    the authorizer (default: the local dev server of npm start, ${localBaseUrl()})
  SPOT_ADMIN_TOKEN  an admin JWT (Authorization: Bearer; also sent as cf-access-token for Cloudflare
                    Access, e.g. from \`cloudflared access token\`). Unset and the URL is local: a dev
                    token is minted from .wrangler/admin-dev-key.json (made by npm start).
  SPOT_ACCESS_CLIENT_ID, SPOT_ACCESS_CLIENT_SECRET
                    a Cloudflare Access service token (CF-Access-Client-Id / -Secret); Access then
                    adds its own JWT, so SPOT_ADMIN_TOKEN is not needed.

Exit codes: 0 ok · 1 server error · 2 usage or validation error · 3 network · 4 not authorized (401/403)
            5 not found · 6 conflict (409) · 7 not confirmed · 8 import --file: some lines failed`;
