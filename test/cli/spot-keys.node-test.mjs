// The spot-keys CLI (bin/spot-keys.mjs) in Node, against a stand-in admin API on 127.0.0.1: what it
// sends, what it prints, and its exit codes (docs/cli.md). Run by `npm test` with `node --test`
// (the CLI is a Node program; the admin API itself is tested inside workerd under test/admin/).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { notFoundHint } from "../../scripts/spot-keys/commands/audit.mjs";

const CLI = join(dirname(dirname(dirname(fileURLToPath(import.meta.url)))), "bin", "spot-keys.mjs");

const KEY = {
  key_id: "key_abc123",
  account_id: "acct_42",
  mode: "live",
  label: "svc",
  status: "active",
  created_at: "2026-06-01T00:00:00.000Z",
  expires_at: null,
  revoked_at: null,
  secret_hint: "WXYZ",
  secret_format: "checksum",
  source: "generated",
  hash_key_id: "hk1",
  replaces_key_id: null,
  replaced_by_key_id: null,
  rotated_at: null,
  created_by: "ops",
  policy: null,
  kv_sync: "synced",
};
const SECRET = "sk_live_3hG8aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaWXYZ12";

let server;
let baseUrl;
/** What the stand-in received, and what it answers next ({ status, body } or a function of the request). */
let received;
let answer;

before(async () => {
  server = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk) => {
      text += chunk;
    });
    req.on("end", async () => {
      const request = { method: req.method, url: req.url, headers: req.headers, body: text ? JSON.parse(text) : undefined };
      received.push(request);
      const { status, body, headers } = await (typeof answer === "function" ? answer(request) : answer);
      res.writeHead(status, { "Content-Type": "application/json", "X-Request-Id": "req-1", ...headers });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${server.address().port}`;
});
after(() => server.close());
beforeEach(() => {
  received = [];
  answer = { status: 200, body: {} };
});

function run(args, { stdin = "", env = {} } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, NO_COLOR: "1", SPOT_ADMIN_URL: baseUrl, SPOT_ADMIN_TOKEN: "test-token", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => {
      stdout += c;
    });
    child.stderr.on("data", (c) => {
      stderr += c;
    });
    child.stdin.end(stdin);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const apiError = (status, code, message, param) => ({
  status,
  body: { error: { type: "x", code, message, request_id: "req-9", ...(param ? { param } : {}) } },
});

describe("create", () => {
  it("sends the body with the bearer token, prints the secret once with a warning, exit 0", async () => {
    answer = { status: 201, body: { key: KEY, secret: SECRET, kv_synced: true } };
    const { code, stdout, stderr } = await run(["create", "--account", "acct_42", "--label", "svc", "--mode", "live"]);
    assert.equal(code, 0);
    assert.equal(received[0].method, "POST");
    assert.equal(received[0].url, "/__spot/admin/v1/accounts/acct_42/keys");
    assert.equal(received[0].headers.authorization, "Bearer test-token");
    assert.deepEqual(received[0].body, { mode: "live", label: "svc" });
    assert.equal(stdout.split(SECRET).length - 1, 1);
    assert.match(stdout, /key_abc123/);
    assert.match(stderr, /shown only this once/);
  });

  it("a write still being retried: a note that it is pending", async () => {
    answer = { status: 201, body: { key: { ...KEY, kv_sync: "pending" }, secret: SECRET, kv_synced: false } };
    const { code, stderr } = await run(["create", "--account", "acct_42"]);
    assert.equal(code, 0);
    assert.match(stderr, /still being written \(retried automatically\)/);
    assert.doesNotMatch(stderr, /for good/);
  });

  it("a write KV refused for good: says the key does not authenticate and what to do", async () => {
    answer = {
      status: 201,
      body: { key: { ...KEY, status: "sync_failed", kv_sync: "failed" }, secret: SECRET, kv_synced: false },
    };
    const { code, stderr } = await run(["create", "--account", "acct_42"]);
    assert.equal(code, 0);
    assert.match(stderr, /KV refused the edge lookup record of key_abc123 for good: it does not authenticate/);
    assert.match(stderr, /Revoke it and create a new key/);
    assert.doesNotMatch(stderr, /retried automatically/);
  });

  it("--json prints the API's answer and nothing else on stdout", async () => {
    answer = { status: 201, body: { key: KEY, secret: SECRET, kv_synced: false } };
    const { code, stdout } = await run(["create", "--account", "acct_42", "--json"]);
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(stdout), answer.body);
  });
});

describe("list, show, rotate, import", () => {
  it("list prints one line per key, never a secret", async () => {
    answer = { status: 200, body: { account_id: "acct_42", keys: [KEY, { ...KEY, key_id: "key_def456", status: "revoked" }] } };
    const { code, stdout } = await run(["list", "--account", "acct_42"]);
    assert.equal(code, 0);
    assert.equal(received[0].url, "/__spot/admin/v1/accounts/acct_42/keys");
    assert.match(stdout, /key_abc123\s+active\s+live\s+…WXYZ/);
    assert.match(stdout, /key_def456\s+revoked/);
    assert.doesNotMatch(stdout, /sync_failed/);
  });

  it("list shows a key whose edge record failed as sync_failed, with a note", async () => {
    answer = { status: 200, body: { account_id: "acct_42", keys: [{ ...KEY, status: "sync_failed", kv_sync: "failed" }] } };
    const { code, stdout } = await run(["list", "--account", "acct_42"]);
    assert.equal(code, 0);
    assert.match(stdout, /key_abc123\s+sync_failed\s+live\s+…WXYZ/);
    assert.match(stdout, /sync_failed: KV refused the key's edge lookup record, so it does not authenticate/);
  });

  it("show prints where the key's edge record stands", async () => {
    answer = { status: 200, body: { key: { ...KEY, status: "sync_failed", kv_sync: "failed" } } };
    const { stdout } = await run(["show", "--account", "acct_42", "key_abc123"]);
    assert.match(stdout, /status\s+sync_failed/);
    assert.match(stdout, /edge record\s+FAILED: KV refused it for good/);
  });

  it("show asks for the key", async () => {
    answer = { status: 200, body: { key: KEY } };
    const { code, stdout } = await run(["show", "--account", "acct_42", "key_abc123"]);
    assert.equal(code, 0);
    assert.equal(received[0].url, "/__spot/admin/v1/accounts/acct_42/keys/key_abc123");
    assert.match(stdout, /sk_live_…WXYZ/);
  });

  it("rotate turns --overlap into seconds and prints the new secret", async () => {
    answer = {
      status: 200,
      body: {
        key: { ...KEY, key_id: "key_new" },
        previous: { ...KEY, expires_at: "2026-06-01T01:30:00.000Z" },
        secret: SECRET,
        kv_synced: true,
      },
    };
    const { code, stdout } = await run(["rotate", "--account", "acct_42", "key_abc123", "--overlap", "90m"]);
    assert.equal(code, 0);
    assert.deepEqual(received[0].body, { overlap_seconds: 5400 });
    assert.match(stdout, /key_abc123 → key_new/);
    assert.match(stdout, new RegExp(SECRET));
  });

  it("import reads the secret from stdin, never from the command line, and does not print it", async () => {
    answer = { status: 201, body: { key: { ...KEY, secret_format: "legacy", secret_hint: null }, kv_synced: true } };
    const { code, stdout } = await run(["import", "--account", "acct_42", "--label", "old"], { stdin: "sk_live_abcd\n" });
    assert.equal(code, 0);
    assert.deepEqual(received[0].body, { secret: "sk_live_abcd", label: "old" });
    assert.doesNotMatch(stdout, /sk_live_abcd/);
  });
});

describe("policy: create and update", () => {
  const POLICY = { scopes: null, ip_allowlist: ["127.0.0.1/32", "2001:db8::/32"], rate_limit_per_minute: 600 };

  it("create sends --allow-ip (repeated) and --rate-limit as the policy", async () => {
    answer = { status: 201, body: { key: { ...KEY, policy: POLICY }, secret: SECRET, kv_synced: true } };
    const { code } = await run([
      "create",
      "--account",
      "acct_42",
      "--allow-ip",
      "127.0.0.1",
      "--allow-ip",
      "2001:db8::/32",
      "--rate-limit",
      "600",
    ]);
    assert.equal(code, 0);
    assert.deepEqual(received[0].body, { policy: { ip_allowlist: ["127.0.0.1", "2001:db8::/32"], rate_limit_per_minute: 600 } });
  });

  it("update PATCHes only what is given and prints the policy", async () => {
    answer = { status: 200, body: { key: { ...KEY, policy: POLICY }, changed: ["policy.ip_allowlist"], kv_synced: true } };
    const { code, stdout } = await run(["update", "--account", "acct_42", "key_abc123", "--allow-ip", "127.0.0.1"]);
    assert.equal(code, 0);
    assert.equal(received[0].method, "PATCH");
    assert.equal(received[0].url, "/__spot/admin/v1/accounts/acct_42/keys/key_abc123");
    assert.deepEqual(received[0].body, { policy: { ip_allowlist: ["127.0.0.1"] } });
    assert.match(stdout, /policy\.ip_allowlist/);
    assert.match(stdout, /127\.0\.0\.1\/32, 2001:db8::\/32/);
    assert.match(stdout, /600 requests\/minute/);
  });

  it("update --no-allow-ip --rate-limit default --no-label sends nulls", async () => {
    answer = { status: 200, body: { key: KEY, changed: [], kv_synced: true } };
    const { code, stdout } = await run([
      "update",
      "--account",
      "acct_42",
      "key_abc123",
      "--no-allow-ip",
      "--rate-limit",
      "default",
      "--no-label",
    ]);
    assert.equal(code, 0);
    assert.deepEqual(received[0].body, { label: null, policy: { ip_allowlist: null, rate_limit_per_minute: null } });
    assert.match(stdout, /Nothing changed/);
  });

  for (const args of [
    ["update", "--account", "acct_42", "key_abc123"],
    ["update", "--account", "acct_42", "key_abc123", "--rate-limit", "100"],
    ["update", "--account", "acct_42", "key_abc123", "--allow-ip", "10.0.0.0/8", "--no-allow-ip"],
    ["create", "--account", "acct_42", "--rate-limit", "default"],
  ]) {
    it(`usage error: ${args.join(" ")} → exit 2, nothing sent`, async () => {
      const { code } = await run(args);
      assert.equal(code, 2);
      assert.equal(received.length, 0);
    });
  }
});

describe("revoke asks first", () => {
  it("without --yes and without a terminal: refuses, sends nothing, exit 7", async () => {
    const { code, stderr } = await run(["revoke", "--account", "acct_42", "key_abc123"]);
    assert.equal(code, 7);
    assert.equal(received.length, 0);
    assert.match(stderr, /--yes/);
  });

  it("with --yes: revokes", async () => {
    answer = {
      status: 200,
      body: { key: { ...KEY, status: "revoked", revoked_at: "2026-06-01T00:00:00.000Z" }, already_revoked: false, kv_synced: true },
    };
    const { code, stdout } = await run(["revoke", "--account", "acct_42", "key_abc123", "--yes"]);
    assert.equal(code, 0);
    assert.equal(received[0].url, "/__spot/admin/v1/accounts/acct_42/keys/key_abc123/revoke");
    assert.match(stdout, /Revoked key_abc123/);
  });
});

describe("revocation feed (issue 13): revoke, update --expires-at, suspend, resume", () => {
  const REVOKED = { ...KEY, status: "revoked", revoked_at: "2026-06-01T00:00:00.000Z" };

  it("revoke: within 5 s once published; the 90 s bound and a note while the feed has not got it", async () => {
    answer = { status: 200, body: { key: REVOKED, already_revoked: false, kv_synced: true, revocation_published: true } };
    const published = await run(["revoke", "--account", "acct_42", "key_abc123", "--yes"]);
    assert.match(published.stdout, /within 5 s \(revocation feed\)/);
    assert.doesNotMatch(published.stderr, /revocation feed/);

    answer = { status: 200, body: { key: REVOKED, already_revoked: false, kv_synced: true, revocation_published: false } };
    const pending = await run(["revoke", "--account", "acct_42", "key_abc123", "--yes"]);
    assert.equal(pending.code, 0);
    assert.match(pending.stdout, /within about 90 s/);
    assert.match(pending.stderr, /not yet published to the revocation feed \(retried automatically\)/);
  });

  it("update --expires-at ISO sends it; --expires-at none sends null; the new end is printed", async () => {
    const end = "2027-01-31T00:00:00.000Z";
    answer = {
      status: 200,
      body: { key: { ...KEY, expires_at: end }, changed: ["expires_at"], kv_synced: true, revocation_published: true },
    };
    const set = await run(["update", "--account", "acct_42", "key_abc123", "--expires-at", "2027-01-31T00:00:00Z"]);
    assert.equal(set.code, 0);
    assert.deepEqual(received[0].body, { expires_at: "2027-01-31T00:00:00Z" });
    assert.match(set.stdout, /Updated key_abc123: expires_at\./);
    assert.match(set.stdout, /expires\s+2027-01-31T00:00:00\.000Z/);
    assert.match(set.stdout, /within 5 s/);

    answer = { status: 200, body: { key: KEY, changed: ["expires_at"], kv_synced: true, revocation_published: true } };
    const none = await run(["update", "--account", "acct_42", "key_abc123", "--expires-at", "none"]);
    assert.equal(none.code, 0);
    assert.deepEqual(received[1].body, { expires_at: null });
    assert.match(none.stdout, /expires\s+never/);
  });

  it("update --expires-at refused by the API (past, beyond the bound) → exit 2 naming the field", async () => {
    answer = apiError(400, "invalid_body", "body.expires_at must be in the future.", "body.expires_at");
    const { code, stderr } = await run(["update", "--account", "acct_42", "key_abc123", "--expires-at", "2020-01-01T00:00:00Z"]);
    assert.equal(code, 2);
    assert.match(stderr, /must be in the future.*field body\.expires_at/);
  });

  it("suspend without --yes and without a terminal: refuses, sends nothing, exit 7", async () => {
    const { code, stderr } = await run(["suspend", "--account", "acct_42"]);
    assert.equal(code, 7);
    assert.equal(received.length, 0);
    assert.match(stderr, /Not suspending acct_42: confirm with --yes/);
  });

  const SUSPENDED = {
    account_id: "acct_42",
    suspended: true,
    suspended_at: "2026-06-01T00:00:00.000Z",
    already: false,
    keys_rewritten: 3,
    kv_synced: true,
    revocation_published: true,
  };

  it("suspend --yes: POSTs …/suspend, prints when and how many records were rewritten", async () => {
    answer = { status: 200, body: SUSPENDED };
    const { code, stdout, stderr } = await run(["suspend", "--account", "acct_42", "--yes"]);
    assert.equal(code, 0);
    assert.equal(received[0].method, "POST");
    assert.equal(received[0].url, "/__spot/admin/v1/accounts/acct_42/suspend");
    assert.deepEqual(received[0].body, {});
    assert.match(stdout, /Suspended acct_42 at 2026-06-01T00:00:00\.000Z; 3 key record\(s\) rewritten\./);
    assert.match(stdout, /answers 401 everywhere within 5 s \(revocation feed\), until `spot-keys resume --account acct_42`/);
    assert.equal(stderr, "");
  });

  it("suspend: already suspended, and the notes while KV or the feed lag", async () => {
    answer = { status: 200, body: { ...SUSPENDED, already: true, keys_rewritten: 0, kv_synced: false, revocation_published: false } };
    const { code, stdout, stderr } = await run(["suspend", "--account", "acct_42", "-y"]);
    assert.equal(code, 0);
    assert.match(stdout, /acct_42 was already suspended \(since 2026-06-01T00:00:00\.000Z\)/);
    assert.match(stderr, /edge lookup records are still being written/);
    assert.match(stderr, /not yet published to the revocation feed/);
  });

  it("suspend --json prints the API's answer and nothing else", async () => {
    answer = { status: 200, body: SUSPENDED };
    const { code, stdout } = await run(["suspend", "--account", "acct_42", "--yes", "--json"]);
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(stdout), SUSPENDED);
  });

  it("resume: POSTs …/resume without asking; an account that is not suspended says so", async () => {
    answer = { status: 200, body: { ...SUSPENDED, suspended: false, suspended_at: null } };
    const resumed = await run(["resume", "--account", "acct_42"]);
    assert.equal(resumed.code, 0);
    assert.equal(received[0].url, "/__spot/admin/v1/accounts/acct_42/resume");
    assert.match(resumed.stdout, /Resumed acct_42; 3 key record\(s\) rewritten\./);

    answer = { status: 200, body: { ...SUSPENDED, suspended: false, suspended_at: null, already: true, keys_rewritten: 0 } };
    const already = await run(["resume", "--account", "acct_42"]);
    assert.match(already.stdout, /acct_42 was not suspended\./);
  });

  it("suspend/resume of an account without keys → exit 5; a read-only token → exit 4", async () => {
    answer = apiError(404, "account_not_found", "This account has no keys.");
    assert.equal((await run(["resume", "--account", "acct_none"])).code, 5);
    answer = apiError(403, "insufficient_permission", "no keys:write");
    const denied = await run(["suspend", "--account", "acct_42", "--yes"]);
    assert.equal(denied.code, 4);
    assert.match(denied.stderr, /keys:write/);
  });

  it("list says when the account is suspended", async () => {
    answer = {
      status: 200,
      body: { account_id: "acct_42", account: { suspended: true, suspended_at: "2026-06-01T00:00:00.000Z" }, keys: [KEY] },
    };
    const { stdout } = await run(["list", "--account", "acct_42"]);
    assert.match(stdout, /Account suspended since 2026-06-01T00:00:00\.000Z: every key answers 401/);
    answer = { status: 200, body: { account_id: "acct_42", account: { suspended: false, suspended_at: null }, keys: [KEY] } };
    assert.doesNotMatch((await run(["list", "--account", "acct_42"])).stdout, /suspended/);
  });

  for (const args of [
    ["suspend", "--yes"],
    ["suspend", "--account", "acct_42", "--yes", "key_abc123"],
    ["resume", "--account", "not-an-account"],
  ]) {
    it(`usage error: ${args.join(" ")} → exit 2, nothing sent`, async () => {
      const { code } = await run(args);
      assert.equal(code, 2);
      assert.equal(received.length, 0);
    });
  }
});

describe("errors and exit codes", () => {
  for (const [status, code, exit] of [
    [400, "invalid_body", 2],
    [401, "invalid_admin_token", 4],
    [403, "insufficient_permission", 4],
    [404, "key_not_found", 5],
    [409, "key_revoked", 6],
    [503, "admin_unavailable", 1],
  ]) {
    it(`${status} ${code} → exit ${exit}, the API's message and request id on stderr`, async () => {
      answer = apiError(status, code, `message for ${code}`, status === 400 ? "body.label" : undefined);
      const { code: exitCode, stderr, stdout } = await run(["show", "--account", "acct_42", "key_abc123"]);
      assert.equal(exitCode, exit);
      assert.match(stderr, new RegExp(`message for ${code} \\(${status}, ${code}`));
      assert.match(stderr, /request id: req-9/);
      if (status === 400) assert.match(stderr, /field body\.label/);
      assert.equal(stdout, "");
    });
  }

  it("--json prints the error envelope on stdout", async () => {
    answer = apiError(404, "account_not_found", "This account has no keys.");
    const { code, stdout } = await run(["list", "--account", "acct_9", "--json"]);
    assert.equal(code, 5);
    assert.equal(JSON.parse(stdout).error.code, "account_not_found");
  });

  it("nothing listening → exit 3 with a hint", async () => {
    const { code, stderr } = await run(["list", "--account", "acct_42"], { env: { SPOT_ADMIN_URL: "http://127.0.0.1:9" } });
    assert.equal(code, 3);
    assert.match(stderr, /cannot reach the admin API/);
  });

  for (const args of [
    ["create"],
    ["create", "--account", "account_1"],
    ["show", "--account", "acct_42"],
    ["show", "--account", "acct_42", "nokey"],
    ["rotate", "--account", "acct_42", "key_abc123", "--overlap", "soon"],
    ["list", "--account", "acct_42", "--bogus"],
    ["frobnicate"],
  ]) {
    it(`usage error: ${args.join(" ")} → exit 2, nothing sent`, async () => {
      const { code, stderr } = await run(args);
      assert.equal(code, 2);
      assert.match(stderr, /error:/);
      assert.equal(received.length, 0);
    });
  }

  it("SPOT_ADMIN_TOKEN goes as Authorization: Bearer and as cf-access-token (what Cloudflare Access reads)", async () => {
    answer = { status: 200, body: { account_id: "acct_42", keys: [] } };
    const { code } = await run(["list", "--account", "acct_42"], { env: { SPOT_ADMIN_TOKEN: "access-jwt" } });
    assert.equal(code, 0);
    assert.equal(received[0].headers.authorization, "Bearer access-jwt");
    assert.equal(received[0].headers["cf-access-token"], "access-jwt");
    assert.equal(received[0].headers["cf-access-client-id"], undefined);
  });

  it("an Access service token (SPOT_ACCESS_CLIENT_ID/SECRET): its two headers, no admin token needed", async () => {
    answer = { status: 200, body: { account_id: "acct_42", keys: [] } };
    const { code } = await run(["list", "--account", "acct_42"], {
      env: { SPOT_ADMIN_TOKEN: "", SPOT_ACCESS_CLIENT_ID: "ci.access", SPOT_ACCESS_CLIENT_SECRET: "s3cret" },
    });
    assert.equal(code, 0);
    assert.equal(received[0].headers["cf-access-client-id"], "ci.access");
    assert.equal(received[0].headers["cf-access-client-secret"], "s3cret");
    assert.equal(received[0].headers.authorization, undefined);
    assert.equal(received[0].headers["cf-access-token"], undefined);
  });

  it("only one of SPOT_ACCESS_CLIENT_ID and SPOT_ACCESS_CLIENT_SECRET → exit 2, nothing sent", async () => {
    const { code, stderr } = await run(["list", "--account", "acct_42"], { env: { SPOT_ACCESS_CLIENT_ID: "ci.access" } });
    assert.equal(code, 2);
    assert.match(stderr, /SPOT_ACCESS_CLIENT_SECRET/);
    assert.equal(received.length, 0);
  });

  it("a remote URL without SPOT_ADMIN_TOKEN → exit 2 (dev tokens are for this machine only)", async () => {
    const { code, stderr } = await run(["list", "--account", "acct_42"], {
      env: { SPOT_ADMIN_URL: "https://api.spot-thought.com", SPOT_ADMIN_TOKEN: "" },
    });
    assert.equal(code, 2);
    assert.match(stderr, /SPOT_ADMIN_TOKEN/);
  });
});

// ---------------------------------------------------------------------------------------------
// Audit trail

const EVENT = {
  v: 1,
  event_id: "9b2f0c4e-0000-4000-8000-000000000001",
  time: "2026-11-30T14:00:00.123Z",
  request_id: "5f0c1c9e-3f5e-4a54-9b1e-0b8a3f7d2c11",
  ray_id: null,
  outcome: "allowed",
  reason: "ok",
  account_id: "acct_42",
  account_verified: true,
  key_id: "key_abc123",
  mode: "live",
  requested_version: "2024-11-15",
  resolved_version: "2024-11-15",
  origin: "http://127.0.0.1:8701",
  method: "GET",
  host: "127.0.0.1:8787",
  path: "/v1/charges",
  path_length: 11,
  status: 200,
  duration_ms: 14,
  connecting_ip: "127.0.0.1",
  source_ip: "203.0.113.9",
  source_ip_from: "x-forwarded-for",
  source_ip_asserted: true,
  forwarded_for: "203.0.113.9",
  forwarded_for_length: 11,
  forwarded_chain: [{ raw: "203.0.113.9", ip: "203.0.113.9", port: null, valid: true }],
  forwarded_count: 1,
  user_agent: "curl/8.5.0",
  user_agent_length: 10,
  country: null,
  colo: null,
  forged_headers: [],
  forged_headers_count: 0,
  truncated: false,
};
const ADMIN_EVENT = {
  kind: "admin",
  v: 1,
  event_id: "a1",
  time: "2026-11-30T14:01:00.000Z",
  request_id: "req-a1",
  ray_id: null,
  action: "audit.search",
  outcome: "allowed",
  reason: "ok",
  status: 200,
  actor_sub: "ops@example.test",
  actor_email: null,
  account_id: "acct_42",
  key_id: null,
  new_key_id: null,
  method: "GET",
  path: "/__spot/admin/v1/audit/events",
  query: "account_id=acct_42&limit=50",
  connecting_ip: "127.0.0.1",
  user_agent: "spot-keys/1",
  duration_ms: 3,
  truncated: false,
};

const queryOf = (request) => Object.fromEntries(new URL(request.url, "http://x").searchParams);

describe("audit --request-id", () => {
  it("a lone request id asks for that request's event and shows it, asserted addresses labelled", async () => {
    answer = { status: 200, body: { event: EVENT } };
    const { code, stdout } = await run(["audit", "--request-id", EVENT.request_id]);
    assert.equal(code, 0);
    assert.equal(received.length, 1);
    assert.equal(received[0].method, "GET");
    assert.equal(received[0].url, `/__spot/admin/v1/audit/requests/${EVENT.request_id}`);
    assert.equal(received[0].headers.authorization, "Bearer test-token");
    assert.match(stdout, new RegExp(`request id\\s+${EVENT.request_id}`));
    assert.match(stdout, /account\s+acct_42 \(verified\)/);
    assert.match(stdout, /source ip\s+203\.0\.113\.9\s+\(asserted by X-Forwarded-For\)/);
    assert.match(stdout, /connecting ip\s+127\.0\.0\.1/);
    assert.doesNotMatch(stdout, /would refuse/);
  });

  it("an event of report-only mode says what enforcement would have answered", async () => {
    answer = { status: 200, body: { event: { ...EVENT, account_verified: false, key_id: null, would_refuse: "invalid_credentials" } } };
    const { code, stdout } = await run(["audit", "--request-id", EVENT.request_id]);
    assert.equal(code, 0);
    assert.match(stdout, /would refuse\s+invalid_credentials \(report-only: forwarded anyway/);
  });

  it("not stored (yet) → exit 5 with the API's message and a hint to wait", async () => {
    answer = apiError(404, "audit_event_not_found", "No audit event has this request id.");
    const { code, stderr } = await run(["audit", "--request-id", "req-404"]);
    assert.equal(code, 5);
    assert.match(stderr, /No audit event has this request id\. \(404, audit_event_not_found\)/);
    assert.match(stderr, /--wait/);
  });

  it("still not stored after a --wait → the hint asks for a longer one, or after 15 s or more to check the id", async () => {
    answer = apiError(404, "audit_event_not_found", "No audit event has this request id.");
    const { code, stderr } = await run(["audit", "--request-id", "req-404", "--wait", "1s"]);
    assert.equal(code, 5);
    assert.match(stderr, /retry with a longer --wait \(e\.g\. 15s\)/);
    assert.doesNotMatch(stderr, /add --wait/);
    // (a 15 s wait is not run here: the hint alone)
    assert.match(notFoundHint("req-404", 15), /^Not stored after waiting 15 s.*check the id/);
    assert.match(notFoundHint("req-404", 0), /add --wait 15s/);
  });

  it("--wait retries while the answer is 404, then shows the event", async () => {
    let calls = 0;
    answer = () => (++calls < 2 ? apiError(404, "audit_event_not_found", "not yet") : { status: 200, body: { event: EVENT } });
    const { code, stdout } = await run(["audit", "--request-id", EVENT.request_id, "--wait", "5s"]);
    assert.equal(code, 0);
    assert.equal(received.length, 2);
    assert.match(stdout, /acct_42/);
  });

  it("--json prints the API's answer and nothing else", async () => {
    answer = { status: 200, body: { event: EVENT } };
    const { code, stdout } = await run(["audit", "--request-id", EVENT.request_id, "--json"]);
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(stdout), { event: EVENT });
  });
});

describe("audit --request-id: an event trimmed from D1", () => {
  // A request of 2026-09-01T10:15:02.123Z: its UUIDv7 request id carries that time.
  const OLD = { ...EVENT, event_id: "e-old", time: "2026-09-01T10:15:02.123Z", request_id: "01a05c77-10eb-7c3a-9b1e-0b8a3f7d2c11" };

  it("is shown as the API found it in the archive, saying so", async () => {
    answer = { status: 200, body: { event: OLD, source: "archive" } };
    const { code, stdout } = await run(["audit", "--request-id", OLD.request_id]);
    assert.equal(code, 0);
    assert.equal(received[0].url, `/__spot/admin/v1/audit/requests/${OLD.request_id}`);
    assert.match(stdout, new RegExp(`request id\\s+${OLD.request_id}`));
    assert.match(stdout, /time\s+2026-09-01T10:15:02\.123Z/);
    assert.match(stdout, /read from\s+archive \(R2, Parquet: the event has left D1\)/);
  });

  it("an event still in D1 says D1; an answer without `source` (an older server) prints no such line", async () => {
    answer = { status: 200, body: { event: EVENT, source: "d1" } };
    assert.match(
      (await run(["audit", "--request-id", EVENT.request_id])).stdout,
      /read from\s+D1 \(the searchable trail of recent events\)/,
    );
    answer = { status: 200, body: { event: EVENT } };
    assert.doesNotMatch((await run(["audit", "--request-id", EVENT.request_id])).stdout, /read from/);
  });

  it("--wait still retries on 404 and then shows the archived event", async () => {
    let calls = 0;
    answer = () =>
      ++calls < 3 ? apiError(404, "audit_event_not_found", "not yet") : { status: 200, body: { event: OLD, source: "archive" } };
    const { code, stdout } = await run(["audit", "--request-id", OLD.request_id, "--wait", "5s"]);
    assert.equal(code, 0);
    assert.equal(received.length, 3);
    assert.match(stdout, /read from\s+archive/);
  });

  it("--json passes `source` through", async () => {
    answer = { status: 200, body: { event: OLD, source: "archive" } };
    const { stdout } = await run(["audit", "--request-id", OLD.request_id, "--json"]);
    assert.deepEqual(JSON.parse(stdout), { event: OLD, source: "archive" });
  });

  it("not found in either → exit 5; for an old UUIDv7 the hint gives its time instead of suggesting --wait", async () => {
    answer = apiError(
      404,
      "audit_event_not_found",
      "No audit event has this request id: not in D1, nor in the archive objects of its time.",
    );
    const { code, stderr } = await run(["audit", "--request-id", OLD.request_id]);
    assert.equal(code, 5);
    assert.match(stderr, /nor in the archive objects of its time/);
    assert.match(stderr, /arrived at 2026-09-01T10:15:02\.123Z: not a recent one/);
    assert.doesNotMatch(stderr, /add --wait/);
  });
});

describe("audit (search)", () => {
  it("sends every filter as a query parameter and prints one table row per event", async () => {
    answer = {
      status: 200,
      body: {
        events: [EVENT, { ...EVENT, event_id: "e2", request_id: "req-2", outcome: "denied", status: 401, folded_count: 3 }],
        next_cursor: null,
      },
    };
    const { code, stdout, stderr } = await run([
      "audit",
      "--account",
      "acct_42",
      "--key",
      "key_abc123",
      "--source-ip",
      "203.0.113.9",
      "--connecting-ip",
      "::1",
      "--outcome",
      "denied",
      "--since",
      "2026-11-30",
      "--until",
      "2026-11-30T15:00:00Z",
      "--limit",
      "10",
    ]);
    assert.equal(code, 0, stderr);
    assert.equal(received[0].url.split("?")[0], "/__spot/admin/v1/audit/events");
    assert.deepEqual(queryOf(received[0]), {
      account_id: "acct_42",
      key_id: "key_abc123",
      source_ip: "203.0.113.9",
      connecting_ip: "::1",
      outcome: "denied",
      since: "2026-11-30T00:00:00Z",
      until: "2026-11-30T15:00:00Z",
      limit: "10",
    });
    const lines = stdout.trim().split("\n");
    assert.match(lines[0], /^TIME \(UTC\)\s+OUTCOME\s+STATUS\s+REASON\s+ACCOUNT\s+KEY\s+CONNECTING IP\s+SOURCE IP\s+REQUEST\s+REQUEST ID$/);
    assert.match(
      lines[1],
      /^2026-11-30 14:00:00\.123\s+allowed\s+200\s+ok\s+acct_42\s+key_abc123\s+127\.0\.0\.1\s+203\.0\.113\.9\*\s+GET \/v1\/charges\s+5f0c1c9e/,
    );
    assert.match(lines[2], /denied×3\s+401/);
    assert.equal(stderr, "");
  });

  it("--would-refuse passes would_refuse; a page with marked events gets a WOULD REFUSE column", async () => {
    answer = {
      status: 200,
      body: {
        events: [
          { ...EVENT, would_refuse: "ip_not_allowed" },
          { ...EVENT, event_id: "e2", would_refuse: null },
        ],
        next_cursor: null,
      },
    };
    const { code, stdout, stderr } = await run(["audit", "--would-refuse", "any", "--since", "1h", "--all"]);
    assert.equal(code, 0, stderr);
    assert.equal(queryOf(received[0]).would_refuse, "any");
    assert.equal(queryOf(received[0]).limit, "200");
    const lines = stdout.trim().split("\n");
    assert.match(lines[0], /^TIME \(UTC\)\s+OUTCOME\s+STATUS\s+REASON\s+WOULD REFUSE\s+ACCOUNT\s/);
    assert.match(lines[1], /allowed\s+200\s+ok\s+ip_not_allowed\s+acct_42/);
    assert.match(lines[2], /allowed\s+200\s+ok\s+—\s+acct_42/);
    await run(["audit", "--would-refuse", "rate_limited", "--account", "acct_42"]);
    assert.deepEqual(queryOf(received[1]), { account_id: "acct_42", would_refuse: "rate_limited" });
  });

  it("a relative --since is turned into an instant that long ago", async () => {
    answer = { status: 200, body: { events: [], next_cursor: null } };
    const before = Date.now();
    const { code, stdout } = await run(["audit", "--account", "acct_42", "--since", "15m"]);
    assert.equal(code, 0);
    const since = Date.parse(queryOf(received[0]).since);
    assert.ok(Math.abs(before - 15 * 60_000 - since) < 5_000, queryOf(received[0]).since);
    assert.match(stdout, /No audit events match\./);
  });

  it("more pages: prints how to continue; --cursor passes the cursor back", async () => {
    answer = { status: 200, body: { events: [EVENT], next_cursor: "CUR1" } };
    const first = await run(["audit", "--account", "acct_42", "--limit", "1"]);
    assert.equal(first.code, 0);
    assert.match(first.stderr, /--cursor CUR1/);
    const next = await run(["audit", "--account", "acct_42", "--limit", "1", "--cursor", "CUR1"]);
    assert.equal(next.code, 0);
    assert.equal(queryOf(received[1]).cursor, "CUR1");
  });

  it("--all follows next_cursor to the end (pages of 200); --json gives one merged page", async () => {
    answer = (request) => {
      const cursor = queryOf(request).cursor;
      const n = cursor ? Number(cursor.slice(1)) : 0;
      return { status: 200, body: { events: [{ ...EVENT, event_id: `e${n}` }], next_cursor: n < 2 ? `c${n + 1}` : null } };
    };
    const { code, stdout } = await run(["audit", "--account", "acct_42", "--all", "--json"]);
    assert.equal(code, 0);
    assert.deepEqual(
      received.map((r) => [queryOf(r).cursor ?? null, queryOf(r).limit]),
      [
        [null, "200"],
        ["c1", "200"],
        ["c2", "200"],
      ],
    );
    const merged = JSON.parse(stdout);
    assert.deepEqual(
      merged.events.map((e) => e.event_id),
      ["e0", "e1", "e2"],
    );
    assert.equal(merged.next_cursor, null);
  });

  it("--all is bounded: --limit caps the total and says where to continue", async () => {
    answer = (request) => ({
      status: 200,
      body: {
        events: Array.from({ length: Number(queryOf(request).limit) }, (_, i) => ({ ...EVENT, event_id: `e${i}` })),
        next_cursor: "more",
      },
    });
    const { code, stderr } = await run(["audit", "--outcome", "denied", "--since", "1h", "--all", "--limit", "250"]);
    assert.equal(code, 0);
    assert.deepEqual(
      received.map((r) => queryOf(r).limit),
      ["200", "50"],
    );
    assert.match(stderr, /Stopped after 250 events; continue with --cursor more/);
  });

  it("a 400 from the API (e.g. a bad address) → exit 2 naming the parameter", async () => {
    answer = apiError(400, "invalid_parameter", "query.source_ip: must be one IPv4 or IPv6 address.", "query.source_ip");
    const { code, stderr } = await run(["audit", "--source-ip", "999.1.1.1"]);
    assert.equal(code, 2);
    assert.match(stderr, /field query\.source_ip/);
  });

  for (const args of [
    ["audit", "--outcome", "maybe"],
    ["audit", "--would-refuse", "Nope!"],
    ["audit", "--would-refuse"],
    ["audit", "--limit", "0"],
    ["audit", "--limit", "201"],
    ["audit", "--all", "--limit", "10001"],
    ["audit", "--since", "soon"],
    ["audit", "--until", "1767225600000"],
    ["audit", "--account", "alpha"],
    ["audit", "--key", "abc"],
    ["audit", "--request-id", "a b"],
    ["audit", "--account", "acct_42", "--wait", "5s"],
    ["audit", "--request-id", "r1", "--wait", "soon"],
    ["audit", "req-1"],
    ["audit", "--bogus"],
    ["admin-audit", "--account", "acct 42"],
  ]) {
    it(`usage error: ${args.join(" ")} → exit 2, nothing sent`, async () => {
      const { code, stderr } = await run(args);
      assert.equal(code, 2);
      assert.match(stderr, /error:/);
      assert.equal(received.length, 0);
    });
  }
});

describe("admin-audit", () => {
  it("searches admin events by account, actor, action and time, and prints them", async () => {
    answer = { status: 200, body: { events: [ADMIN_EVENT], next_cursor: null } };
    const { code, stdout } = await run([
      "admin-audit",
      "--account",
      "acct_42",
      "--actor",
      "ops@example.test",
      "--action",
      "audit.search",
      "--since",
      "2026-11-30T00:00:00Z",
    ]);
    assert.equal(code, 0);
    assert.equal(received[0].url.split("?")[0], "/__spot/admin/v1/audit/admin-events");
    assert.deepEqual(queryOf(received[0]), {
      account_id: "acct_42",
      actor: "ops@example.test",
      action: "audit.search",
      since: "2026-11-30T00:00:00Z",
    });
    assert.match(stdout, /audit\.search\s+allowed\s+200\s+ok\s+ops@example\.test\s+acct_42\s+—\s+account_id=acct_42&limit=50\s+req-a1/);
  });
});

// ---------------------------------------------------------------------------------------------
// Text from the server is escaped on a terminal (docs/cli.md "Output of server text")

/** A code point that must never reach the terminal raw (the set of scripts/lib/terminal-text.mjs). */
const RAW_UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u;

/** Fails when a line of `text` holds such a code point, or U+FFFD (what Node writes for an unpaired surrogate). */
function assertNothingRaw(text) {
  for (const line of text.split("\n")) {
    const found = RAW_UNSAFE.exec(line) ?? /\ufffd/.exec(line);
    assert.equal(found, null, `raw U+${found?.[0].codePointAt(0).toString(16).toUpperCase()} in ${JSON.stringify(line)}`);
  }
}

/** A label with one of each kind: ESC sequence, C1 NEL and CSI, TR9 bidi override and isolate, zero-width, BOM, tag, separator, unpaired surrogate. */
const SPOOF = "inv\u001b[2J\u0085\u009b31m\u202egpj.exe\u2066x\u2069\u200b\u200d\u2060\ufeff\u{e0041}\u2028\ud800";
const SPOOF_ESCAPED = "inv\\x1b[2J\\x85\\x9b31m\\u202egpj.exe\\u2066x\\u2069\\u200b\\u200d\\u2060\\ufeff\\u{e0041}\\u2028\\ud800";

describe("server text is escaped on the terminal", () => {
  it("list: a label with control, bidi, zero-width and surrogate code points is shown escaped", async () => {
    answer = {
      status: 200,
      body: {
        account_id: "acct_42",
        keys: [
          { ...KEY, label: SPOOF },
          { ...KEY, key_id: "key_def456", label: "Café 請求 🚀" },
        ],
      },
    };
    const { code, stdout } = await run(["list", "--account", "acct_42"]);
    assert.equal(code, 0);
    assertNothingRaw(stdout);
    assert.ok(stdout.includes(SPOOF_ESCAPED), stdout);
    // Ordinary non-ASCII text is left alone.
    assert.match(stdout, /key_def456 .*Café 請求 🚀$/m);
  });

  it("a backslash in server text is doubled, so an escape shown is never one the text spelt out", async () => {
    answer = { status: 200, body: { account_id: "acct_42", keys: [{ ...KEY, label: "a\\u202eb" }] } };
    const { stdout } = await run(["list", "--account", "acct_42"]);
    assert.ok(stdout.includes("a\\\\u202eb"), stdout);
  });

  it("show: label, created_by, policy and every other field", async () => {
    answer = {
      status: 200,
      body: {
        key: {
          ...KEY,
          label: SPOOF,
          created_by: "ops\u202e@evil",
          hash_key_id: "hk\u0085",
          policy: { scopes: null, ip_allowlist: ["10.0.0.0/8\u200b"], rate_limit_per_minute: null },
        },
      },
    };
    const { code, stdout } = await run(["show", "--account", "acct_42", "key_abc123"]);
    assert.equal(code, 0);
    assertNothingRaw(stdout);
    assert.ok(stdout.includes(SPOOF_ESCAPED), stdout);
    assert.match(stdout, /by ops\\u202e@evil/);
    assert.match(stdout, /hk\\x85/);
    assert.match(stdout, /10\.0\.0\.0\/8\\u200b/);
  });

  it("create, rotate, update, revoke and import messages", async () => {
    const key = { ...KEY, key_id: "key_\u202eabc", label: SPOOF, revoked_at: "2026\u0085", expires_at: "2026\u200b" };
    const cases = [
      [["create", "--account", "acct_42"], { key, secret: `${SECRET}\u001b[8m`, kv_synced: true }],
      [["rotate", "--account", "acct_42", "key_abc123"], { key, previous: key, secret: SECRET, kv_synced: true }],
      [["update", "--account", "acct_42", "key_abc123", "--label", "x"], { key, changed: ["label\u202e"], kv_synced: true }],
      [["revoke", "--account", "acct_42", "key_abc123", "--yes"], { key, already_revoked: true, kv_synced: true }],
      [["import", "--account", "acct_42"], { key: { ...key, secret_format: "legacy\u2066" }, kv_synced: true }],
    ];
    for (const [args, body] of cases) {
      answer = { status: 200, body };
      const { code, stdout, stderr } = await run(args, { stdin: "sk_live_abcd\n" });
      assert.equal(code, 0, `${args[0]}: ${stderr}`);
      assertNothingRaw(stdout);
      assertNothingRaw(stderr);
      assert.match(stdout, /key_\\u202eabc/, `${args[0]}: ${stdout}`);
    }
  });

  it("audit --request-id: user agent, path, host, forwarded chain, forged headers, origin", async () => {
    const event = {
      ...EVENT,
      user_agent: "curl/8\u001b]8;;http://evil.test\u0007\u202e",
      path: "/v1/charges\u0085\u2028x",
      path_length: 16,
      host: "api\u200b.test",
      origin: "http://o\u2066",
      forwarded_chain: [{ raw: "1.2.3.4\u202e", ip: null, port: null, valid: false }],
      forged_headers: ["x-spot-account-id: acct_1\u200d"],
      forged_headers_count: 1,
      reason: "ok\u009b",
    };
    answer = { status: 200, body: { event } };
    const { code, stdout } = await run(["audit", "--request-id", EVENT.request_id]);
    assert.equal(code, 0);
    assertNothingRaw(stdout);
    assert.match(stdout, /user agent\s+curl\/8\\x1b\]8;;http:\/\/evil\.test\\x07\\u202e/);
    assert.match(stdout, /\/v1\/charges\\x85\\u2028x/);
    assert.match(stdout, /1\.2\.3\.4\\u202e \(invalid\)/);
    assert.match(stdout, /acct_1\\u200d/);
  });

  it("audit and admin-audit tables: every cell", async () => {
    answer = { status: 200, body: { events: [{ ...EVENT, path: "/v1/\u202ex", reason: "r\u0085" }], next_cursor: "c\u001b" } };
    const search = await run(["audit", "--account", "acct_42"]);
    assert.equal(search.code, 0);
    assertNothingRaw(search.stdout);
    assertNothingRaw(search.stderr);
    assert.match(search.stdout, /GET \/v1\/\\u202ex/);
    assert.match(search.stderr, /--cursor c\\x1b/);

    answer = {
      status: 200,
      body: { events: [{ ...ADMIN_EVENT, actor_sub: "ops\u202e@x", query: "q\u2067", reason: "ok\ufeff" }], next_cursor: null },
    };
    const admin = await run(["admin-audit", "--account", "acct_42"]);
    assert.equal(admin.code, 0);
    assertNothingRaw(admin.stdout);
    assert.match(admin.stdout, /ops\\u202e@x/);
    assert.match(admin.stdout, /q\\u2067/);
  });

  it("an error answer's message, code and field, and its request id", async () => {
    answer = {
      status: 400,
      body: {
        error: {
          type: "x",
          code: "invalid_body\u202e",
          message: "bad \u001b[31mlabel\u0085",
          param: "body.\u200blabel",
          request_id: "req\u2066",
        },
      },
    };
    const { code, stdout, stderr } = await run(["show", "--account", "acct_42", "key_abc123"]);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assertNothingRaw(stderr);
    assert.match(stderr, /bad \\x1b\[31mlabel\\x85 \(400, invalid_body\\u202e, field body\.\\u200blabel\)/);
    assert.match(stderr, /request id: req\\u2066/);
  });

  it("--json stays valid JSON with the same values, and writes such characters as \\u escapes", async () => {
    const body = { account_id: "acct_42", keys: [{ ...KEY, label: SPOOF, created_by: "a\u007f\u2029" }] };
    answer = { status: 200, body };
    const { code, stdout } = await run(["list", "--account", "acct_42", "--json"]);
    assert.equal(code, 0);
    assertNothingRaw(stdout);
    assert.deepEqual(JSON.parse(stdout), body);
    assert.ok(stdout.includes("\\u202e") && stdout.includes("\\udb40\\udc41") && stdout.includes("\\ud800"), stdout);

    answer = apiError(404, "key_not_found", "no key \u202e here");
    const error = await run(["show", "--account", "acct_42", "key_abc123", "--json"]);
    assert.equal(error.code, 5);
    assertNothingRaw(error.stdout);
    assert.equal(JSON.parse(error.stdout).error.message, "no key \u202e here");
  });
});

describe("import --file (bulk import)", () => {
  let dir;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "spot-keys-import-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Writes an import file (mode 0600 unless told) and returns its path. */
  function keysFile(name, lines, mode = 0o600) {
    const path = join(dir, name);
    writeFileSync(path, lines.map((line) => (typeof line === "string" ? line : JSON.stringify(line))).join("\n"));
    chmodSync(path, mode);
    return path;
  }

  /** A well-formed legacy secret of 24 characters after the prefix, unique per n. */
  const secretOf = (n) => `sk_live_bulk${String(n).padStart(8, "0")}Qx7Zp9Rt`;

  /**
   * A stand-in import API with the claim rule of the real one: a secret belongs to the first account
   * that imported it; again for that account is 409 "…of this account", for another "…another account".
   * Counts the requests in flight.
   */
  function importApi({ delayMs = 0 } = {}) {
    const owners = new Map();
    const state = { owners, inFlight: 0, maxInFlight: 0 };
    state.answer = async (request) => {
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      try {
        if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
        const account = /^\/__spot\/admin\/v1\/accounts\/(acct_[A-Za-z0-9]+)\/keys\/import$/.exec(request.url)?.[1];
        if (request.method !== "POST" || !account) return apiError(404, "not_found", "No such route.");
        const { secret, label } = request.body;
        const owner = owners.get(secret);
        if (owner === account) return apiError(409, "secret_already_registered", "This secret already belongs to a key of this account.");
        if (owner) return apiError(409, "secret_already_registered", "This secret is already registered to another account.");
        owners.set(secret, account);
        return {
          status: 201,
          body: {
            key: {
              ...KEY,
              key_id: `key_${owners.size}`,
              account_id: account,
              label: label ?? null,
              secret_format: "legacy",
              secret_hint: secret.slice(-4),
              source: "imported",
            },
            kv_synced: true,
            revocation_published: true,
          },
        };
      } finally {
        state.inFlight--;
      }
    };
    return state;
  }

  const assertNoSecret = (text, secrets) => {
    for (const secret of secrets) assert.ok(!text.includes(secret), `a secret was printed: …${secret.slice(-4)}`);
  };

  it("imports 1,000 keys, 8 requests in flight at most, with a summary; a re-run changes nothing (all already present)", async () => {
    const secrets = Array.from({ length: 1000 }, (_, i) => secretOf(i));
    const path = keysFile(
      "thousand.jsonl",
      secrets.map((secret, i) => ({ account: `acct_${i % 7}`, secret, label: `bulk ${i}` })),
    );
    const api = importApi({ delayMs: 2 });
    answer = api.answer;
    const first = await run(["import", "--file", path]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(received.length, 1000);
    assert.equal(api.owners.size, 1000);
    assert.ok(api.maxInFlight <= 8 && api.maxInFlight > 1, `in flight: ${api.maxInFlight}`);
    assert.deepEqual(received[0].body, { secret: secrets[0], label: "bulk 0" });
    assert.equal(received[0].url, "/__spot/admin/v1/accounts/acct_0/keys/import");
    assert.match(first.stdout, /thousand\.jsonl: imported 1000, already present 0, failed 0 \(of 1000 lines\)\./);
    // Not a terminal: plain progress lines on stderr.
    assert.match(first.stderr, /^import: 1000\/1000 lines · imported 1000 · already present 0 · failed 0$/m);
    assert.ok(first.stderr.split("\n").filter((line) => line.startsWith("import: ")).length <= 12);
    assertNoSecret(first.stdout + first.stderr, secrets);

    received = [];
    const again = await run(["import", "--file", path]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(api.owners.size, 1000);
    assert.match(again.stdout, /imported 0, already present 1000, failed 0 \(of 1000 lines\)\./);
    assertNoSecret(again.stdout + again.stderr, secrets);
  });

  it("refuses a file others can read (0644), saying how to fix it; sends nothing", { skip: process.platform === "win32" }, async () => {
    const path = keysFile("open.jsonl", [{ account: "acct_1", secret: secretOf(1) }], 0o644);
    const { code, stdout, stderr } = await run(["import", "--file", path]);
    assert.equal(code, 2);
    assert.equal(received.length, 0);
    assert.match(stderr, /has mode 0644: others can read it, and it holds secrets/);
    assert.match(stderr, /chmod 600 .*open\.jsonl/);
    assertNoSecret(stdout + stderr, [secretOf(1)]);
    // 0640 too (group), also for a dry run.
    chmodSync(path, 0o640);
    const dry = await run(["import", "--file", path, "--dry-run"]);
    assert.equal(dry.code, 2);
    assert.match(dry.stderr, /mode 0640/);
  });

  it("--dry-run checks every line and prints what would be imported, sending nothing", async () => {
    const path = keysFile("dry.jsonl", [
      { account: "acct_1", secret: secretOf(1), label: "one" },
      { account: "acct_2", secret: secretOf(2), expires_at: "2030-01-01T00:00:00Z", policy: { rate_limit_per_minute: 600 } },
    ]);
    answer = () => assert.fail("a dry run sent a request");
    const { code, stdout, stderr } = await run(["import", "--file", path, "--dry-run"], { env: { SPOT_ADMIN_TOKEN: "" } });
    assert.equal(code, 0, stderr);
    assert.equal(received.length, 0);
    assert.match(stdout, /nothing is sent/);
    assert.match(stdout, /line 1\s+acct_1\s+live\s+…p9Rt/);
    assert.match(stdout, /line 1 .*"one"/);
    assert.match(stdout, /line 2\s+acct_2/);
    assert.match(stdout, /Would import 2 key\(s\) to 2 account\(s\).*0 line\(s\) invalid\./);
    assertNoSecret(stdout + stderr, [secretOf(1), secretOf(2)]);

    const json = await run(["import", "--file", path, "--dry-run", "--json"]);
    assert.equal(json.code, 0);
    const body = JSON.parse(json.stdout);
    assert.equal(body.dry_run, true);
    assert.deepEqual(
      body.would_import.map((x) => [x.line, x.account_id, x.secret_hint]),
      [
        [1, "acct_1", "p9Rt"],
        [2, "acct_2", secretOf(2).slice(-4)],
      ],
    );
    assertNoSecret(json.stdout, [secretOf(1), secretOf(2)]);
  });

  it("reports malformed, duplicate and other accounts' lines by number, imports the rest, exit 8, never a secret", async () => {
    const taken = secretOf(50);
    const broken = secretOf(51);
    const misplaced = secretOf(52);
    const short = "sk_live_abcd";
    const badChecksum = `sk_live_${"a".repeat(33)}000000`;
    const path = keysFile("mixed.jsonl", [
      { account: "acct_1", secret: secretOf(1), label: "ok" },
      `{"account": "acct_1", "secret": "${broken}"`,
      { account: "not-an-account", secret: secretOf(3) },
      "",
      { account: "acct_2", secret: secretOf(1) },
      { account: "acct_3", secret: taken },
      { account: "acct_1", [misplaced]: true },
      { account: "acct_1", secret: "sk_prod_xyz" },
      { account: "acct_1", secret: badChecksum },
      { account: "acct_1", secret: short },
      "[1, 2]",
      { account: "acct_1", secret: secretOf(11), label: "" },
      { account: "acct_1", secret: secretOf(13), label: "a\u202eb" },
      { account: "acct_1", secret: secretOf(14), policy: { rate_limit_per_minute: 7 } },
      { account: "acct_1", secret: secretOf(15), policy: null },
    ]);
    const api = importApi();
    api.owners.set(taken, "acct_other");
    answer = api.answer;
    const { code, stdout, stderr } = await run(["import", "--file", path]);
    assert.equal(code, 8, stderr);
    assert.deepEqual(received.map((r) => r.body.secret).sort(), [secretOf(1), taken, short].sort());
    assert.match(stdout, /mixed\.jsonl: imported 2, already present 0, failed 12 \(of 14 lines\)\./);
    assert.match(stdout, /^ {2}line 2: not valid JSON$/m);
    assert.match(stdout, /^ {2}line 3 \(…\w{4}\): account is not an account id/m);
    assert.match(stdout, /^ {2}line 5 \(…\w{4}\): the same secret as line 1$/m);
    assert.match(stdout, /^ {2}line 6 \(…\w{4}\): the secret is registered to another account \(409 secret_already_registered\)$/m);
    assert.match(stdout, /^ {2}line 7: unknown fields/m);
    assert.match(stdout, /^ {2}line 8: secret is not well-formed/m);
    assert.match(stdout, /^ {2}line 9 \(…0000\): secret has 39 characters after its prefix but not a valid checksum/m);
    assert.match(stdout, /^ {2}line 11: not a JSON object$/m);
    assert.match(stdout, /^ {2}line 12 \(…\w{4}\): label is not text of 1\.\.200 characters$/m);
    assert.match(stdout, /^ {2}line 13 \(…\w{4}\): label has a control, format or invisible character/m);
    assert.match(stdout, /^ {2}line 14 \(…\w{4}\): policy\.rate_limit_per_minute is not one of 60, /m);
    assert.match(stdout, /^ {2}line 15 \(…\w{4}\): policy is not an object/m);
    // A short legacy secret has no hint: its last 4 characters would be all of it.
    assert.doesNotMatch(stdout, /line 10/);
    assertNoSecret(stdout + stderr, [secretOf(1), taken, broken, misplaced, short, badChecksum, secretOf(3), secretOf(11)]);

    const json = await run(["import", "--file", path, "--json"]);
    assert.equal(json.code, 8);
    const body = JSON.parse(json.stdout);
    assert.deepEqual(
      body.failed.map((x) => x.line),
      [2, 3, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15],
    );
    assert.deepEqual(
      body.already_present.map((x) => x.line),
      [1, 10],
    );
    assertNoSecret(json.stdout + json.stderr, [secretOf(1), taken, broken, misplaced, short, badChecksum]);
  });

  it("a server message that quoted the secret is shown without it", async () => {
    const secret = secretOf(7);
    const path = keysFile("quoted.jsonl", [{ account: "acct_1", secret }]);
    answer = apiError(400, "invalid_body", `body.secret: ${secret} is refused.`, "body.secret");
    const { code, stdout, stderr } = await run(["import", "--file", path]);
    assert.equal(code, 8);
    assert.match(stdout, /line 1 \(…\w{4}\): body\.secret: sk_… is refused\. \(400, invalid_body, field body\.secret\)/);
    assertNoSecret(stdout + stderr, [secret]);
  });

  it("retries a 503 and a 429 (Retry-After) and then imports", async () => {
    const path = keysFile("retry.jsonl", [{ account: "acct_1", secret: secretOf(1) }]);
    const api = importApi();
    const refusals = [
      { ...apiError(503, "admin_unavailable", "Try again."), headers: { "Retry-After": "0" } },
      { ...apiError(429, "rate_limited", "Slow down."), headers: { "Retry-After": "1" } },
    ];
    answer = (request) => refusals.shift() ?? api.answer(request);
    const started = Date.now();
    const { code, stdout, stderr } = await run(["import", "--file", path]);
    assert.equal(code, 0, stderr);
    assert.equal(received.length, 3);
    assert.ok(Date.now() - started >= 1000, "Retry-After: 1 was not waited for");
    assert.match(stdout, /imported 1, already present 0, failed 0/);
  });

  it("stops at a 401, says what was not done, exit 4", async () => {
    const path = keysFile("denied.jsonl", [
      { account: "acct_1", secret: secretOf(1) },
      { account: "acct_1", secret: secretOf(2) },
    ]);
    answer = apiError(401, "unauthorized", "Bad token.");
    const { code, stdout, stderr } = await run(["import", "--file", path]);
    assert.equal(code, 4);
    assert.match(stdout, /imported 0, already present 0, failed 0, not done 2 \(of 2 lines\)/);
    assert.match(stderr, /Stopped: 2 line\(s\) not done/);
    assert.match(stderr, /Bad token\./);
  });

  it("usage: --account with --file, --dry-run without it, an empty file", async () => {
    const path = keysFile("empty.jsonl", ["", "  "]);
    for (const args of [
      ["import", "--file", path, "--account", "acct_1"],
      ["import", "--account", "acct_1", "--dry-run"],
      ["import", "--file", path],
      ["import", "--file", join(dir, "missing.jsonl")],
    ]) {
      const { code } = await run(args);
      assert.equal(code, 2, args.join(" "));
    }
    assert.equal(received.length, 0);
  });
});

describe("help and mistyped commands or options", () => {
  it("create --help (and -h, and help create): create's usage, its flags with a line each, an example; exit 0", async () => {
    for (const args of [
      ["create", "--help"],
      ["create", "-h"],
      ["help", "create"],
    ]) {
      const { code, stdout, stderr } = await run(args);
      assert.equal(code, 0, args.join(" "));
      assert.match(stdout, /^spot-keys create: /);
      assert.match(stdout, /Usage:\n {2}spot-keys create --account ACCT/);
      for (const flag of [
        "--account ACCT",
        "--mode live|test",
        "--label TEXT",
        "--expires-at ISO",
        "--allow-ip CIDR",
        "--rate-limit N",
        "--json",
      ])
        assert.match(stdout, new RegExp(`^ {2}${flag.replace("|", "\\|")} +\\S`, "m"), flag);
      assert.match(stdout, /Example:\n {2}spot-keys create --account acct_42/);
      assert.doesNotMatch(stdout, /admin-audit|--request-id/);
      assert.equal(stderr, "");
    }
    assert.equal(received.length, 0);
  });

  it("spot-keys --help and spot-keys help list every command; exit 0", async () => {
    for (const args of [["--help"], ["help"]]) {
      const { code, stdout } = await run(args);
      assert.equal(code, 0);
      for (const name of [
        "create",
        "list",
        "show",
        "rotate",
        "revoke",
        "update",
        "suspend",
        "resume",
        "import",
        "token",
        "audit",
        "admin-audit",
      ])
        assert.match(stdout, new RegExp(`^ {2}${name} +\\S`, "m"), name);
      assert.match(stdout, /spot-keys <command> --help/);
    }
  });

  it("every command has its own help", async () => {
    for (const name of ["list", "show", "rotate", "revoke", "update", "suspend", "resume", "import", "token", "audit", "admin-audit"]) {
      const { code, stdout } = await run([name, "--help"]);
      assert.equal(code, 0, name);
      assert.match(stdout, new RegExp(`^spot-keys ${name}: [^]*Usage:\\n {2}spot-keys ${name} [^]*Options:[^]*Example:\\n {2}\\S`), name);
    }
  });

  it("create --labl x: unknown option, did you mean --label?, the usage line; exit 2, no stack trace, nothing sent", async () => {
    const { code, stdout, stderr } = await run(["create", "--account", "acct_42", "--labl", "x"]);
    assert.equal(code, 2);
    assert.match(stderr, /spot-keys create: unknown option --labl\n/);
    assert.match(stderr, /did you mean --label\?/);
    assert.match(stderr, /Usage:\n {2}spot-keys create --account ACCT/);
    assert.doesNotMatch(stderr, / {4}at /);
    assert.equal(stdout, "");
    assert.equal(received.length, 0);
  });

  it("a prefix is matched too; an option like none is named without a guess; --json gives the usage error envelope", async () => {
    const prefix = await run(["update", "--account", "acct_42", "key_abc123", "--rate", "600"]);
    assert.equal(prefix.code, 2);
    assert.match(prefix.stderr, /spot-keys update: unknown option --rate\ndid you mean --rate-limit\?/);
    const none = await run(["list", "--account", "acct_42", "--xyzzy"]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /spot-keys list: unknown option --xyzzy\n/);
    assert.doesNotMatch(none.stderr, /did you mean/);
    assert.match(none.stderr, /spot-keys list --account ACCT/);
    const json = await run(["create", "--labl", "x", "--json"]);
    assert.equal(json.code, 2);
    assert.deepEqual(JSON.parse(json.stdout), {
      error: { code: "usage", message: "spot-keys create: unknown option --labl; did you mean --label?" },
    });
    for (const r of [prefix, none, json]) assert.doesNotMatch(r.stderr, / {4}at /);
    assert.equal(received.length, 0);
  });

  it("craete: unknown command, did you mean create?; exit 2, no stack trace (help craete too)", async () => {
    for (const args of [
      ["craete", "--account", "acct_42"],
      ["help", "craete"],
    ]) {
      const { code, stderr } = await run(args);
      assert.equal(code, 2, args.join(" "));
      assert.match(stderr, /unknown command "craete"/);
      assert.match(stderr, /did you mean create\?/);
      assert.doesNotMatch(stderr, / {4}at /);
    }
    const far = await run(["frobnicate"]);
    assert.equal(far.code, 2);
    assert.doesNotMatch(far.stderr, /did you mean/);
    assert.equal(received.length, 0);
  });
});
