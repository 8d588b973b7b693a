// The spot-keys CLI (bin/spot-keys.mjs) in Node, against a stand-in admin API on 127.0.0.1: what it
// sends, what it prints, and its exit codes (docs/cli.md). Run by `npm test` with `node --test`
// (the CLI is a Node program; the admin API itself is tested inside workerd under test/admin/).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

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
    req.on("end", () => {
      const request = { method: req.method, url: req.url, headers: req.headers, body: text ? JSON.parse(text) : undefined };
      received.push(request);
      const { status, body } = typeof answer === "function" ? answer(request) : answer;
      res.writeHead(status, { "Content-Type": "application/json", "X-Request-Id": "req-1" });
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

  it("a remote URL without SPOT_ADMIN_TOKEN → exit 2 (dev tokens are for this machine only)", async () => {
    const { code, stderr } = await run(["list", "--account", "acct_42"], {
      env: { SPOT_ADMIN_URL: "https://api.spot-thought.com", SPOT_ADMIN_TOKEN: "" },
    });
    assert.equal(code, 2);
    assert.match(stderr, /SPOT_ADMIN_TOKEN/);
  });
});
