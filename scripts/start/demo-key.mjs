// Step 5, the demo key: made through the admin API, exactly as `npx spot-keys create` does
// (scripts/admin-client.mjs), on first start (acct_demo), its secret kept in .wrangler/demo-key.json; a
// kept key that no longer authenticates (local state wiped, hash key changed) is revoked and replaced.
// Also removes the demo key of an older npm start that wrote it straight into KV.

import { rmSync } from "node:fs";
import { AdminApiError, adminRequest, mintDevToken } from "../admin-client.mjs";
import { DEMO_KEY_FILE, readText, writePrivate } from "./files.mjs";
import { step, warn } from "./output.mjs";
import { runWrangler } from "./processes.mjs";

const DEMO_ACCOUNT = "acct_demo";
const DEMO_LABEL = "demo key (npm start)";

// Format rules mirrored from src/keys/format.ts and src/admin/model.ts (this script cannot import TypeScript).
const API_KEY_PATTERN = /^acct_[A-Za-z0-9]{1,64}$/;
const API_SECRET_PATTERN = /^sk_(live|test)_[A-Za-z0-9]{4,128}$/;
const KEY_ID_PATTERN = /^key_[A-Za-z0-9]{1,64}$/;

/** @returns the kept demo key, null when there is none; a file from before the admin API is reported as legacy */
function readDemoKey() {
  const text = readText(DEMO_KEY_FILE);
  if (text === null) return null;
  try {
    const demo = JSON.parse(text);
    if (API_KEY_PATTERN.test(demo.account_id) && KEY_ID_PATTERN.test(demo.key_id) && API_SECRET_PATTERN.test(demo.secret)) {
      return demo.created_via === "admin-api" ? demo : { ...demo, legacy: true };
    }
  } catch {
    // fall through
  }
  warn(".wrangler/demo-key.json is unreadable: creating a new demo key");
  return null;
}

/**
 * A demo key written straight into local KV by an older `npm start` is unknown to the admin API:
 * remove its KV record (before wrangler dev holds the local state) so every local key is managed.
 */
export async function dropLegacyDemoKey() {
  const demo = readDemoKey();
  if (demo?.legacy !== true) return;
  if (typeof demo.kv_key === "string" && /^secret:[0-9a-f]{64}$/.test(demo.kv_key)) {
    await runWrangler(["kv", "key", "delete", "--local", "--binding", "KEYS", demo.kv_key]);
  }
  rmSync(DEMO_KEY_FILE, { force: true });
  step("removed the demo key of an older npm start (written straight into KV); a new one comes from the admin API");
}

/**
 * Whether a probe's answer shows the demo key authenticating. 401 means it does not. In report-only
 * mode (docs/operations.md "Report-only mode") a refused caller is forwarded anyway: the demo origin's
 * 200 echo then has `report_only` and no `verified_assertion`, which means it does not either. Any
 * other answer (the echo of a verified caller, a 403 or 429 of the key's policy) means it does.
 * @param {number} status the HTTP status of `GET /` with the demo credentials
 * @param {unknown} echo its body parsed as JSON, or null when it is not JSON
 * @returns {boolean}
 */
export function demoKeyAuthenticated(status, echo) {
  if (status === 401) return false;
  const forwardedUnauthenticated = echo !== null && typeof echo === "object" && "report_only" in echo && !("verified_assertion" in echo);
  return !forwardedUnauthenticated;
}

/**
 * Probes `GET /` with the demo credentials (user agent `spot-start/demo-check`; like any request, it
 * has an audit event).
 * @returns {Promise<boolean>} whether the key authenticates ({@link demoKeyAuthenticated})
 */
async function demoKeyWorks(url, demo) {
  const res = await fetch(`${url}/`, {
    headers: { "X-Spot-Api-Key": demo.account_id, "X-Spot-Api-Secret": demo.secret, "user-agent": "spot-start/demo-check" },
    signal: AbortSignal.timeout(15_000),
  });
  let echo = null;
  try {
    echo = await res.json();
  } catch {
    // not JSON: only the status counts
  }
  return demoKeyAuthenticated(res.status, echo);
}

/**
 * Reuses the kept demo key while it authenticates, else makes a new one through the admin API.
 * @param {string} url the local authorizer
 * @param {{ hashKeyChanged: boolean }} options `hashKeyChanged`: the local keys were made with another
 *   SECRET_HASH_KEY (scripts/lib/hash-key.mjs), which is then named as the reason a kept key fails
 * @returns the demo key as kept in .wrangler/demo-key.json (its secret included)
 */
export async function ensureDemoKey(url, { hashKeyChanged }) {
  const token = await mintDevToken({ sub: "npm-start@localhost" });
  const admin = (method, path, body) => adminRequest({ baseUrl: url, token, method, path, body });
  let demo = readDemoKey();
  if (demo !== null && (await demoKeyWorks(url, demo))) {
    step(`demo key ${demo.key_id} found`);
    return demo;
  }
  if (demo !== null) {
    // Local state wiped or hash key changed: retire the old key if the admin API still knows it.
    try {
      await admin("POST", `/accounts/${demo.account_id}/keys/${demo.key_id}/revoke`, {});
    } catch (err) {
      if (!(err instanceof AdminApiError && err.status === 404)) throw err;
    }
  }
  const { body } = await admin("POST", `/accounts/${DEMO_ACCOUNT}/keys`, { label: DEMO_LABEL });
  const reason =
    demo === null
      ? "created"
      : hashKeyChanged
        ? `replaced (the kept one, ${demo.key_id}, was made with the previous SECRET_HASH_KEY; revoked)`
        : "replaced (the kept one no longer authenticated)";
  demo = {
    note: "Local demo key created by `npm start` through the admin API. The secret exists only here (KV holds its HMAC). Never commit this file.",
    created_via: "admin-api",
    account_id: body.key.account_id,
    key_id: body.key.key_id,
    mode: body.key.mode,
    secret: body.secret,
    created_at: body.key.created_at,
  };
  writePrivate(DEMO_KEY_FILE, `${JSON.stringify(demo, null, 2)}\n`);
  step(`demo key ${demo.key_id} ${reason} through the admin API`);
  return demo;
}
