// `npm run provision` (scripts/provision.mjs) against the stand-in wrangler (fake-wrangler.mjs): the
// first run creates every resource of the environment and writes the ids into its section of
// wrangler.toml; a second run creates nothing; secrets are stored only when missing and never shown.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { unstable_readConfig } from "wrangler";
import { parseBucketList, parseQueueTable, setEnvBindingValue } from "../../scripts/provision.mjs";
import { sandbox } from "./env-harness.mjs";

const verbs = (commands) =>
  commands.map((c) =>
    c.args
      .filter((a) => !a.startsWith("--"))
      .slice(0, 3)
      .join(" "),
  );

describe("provision --env staging", () => {
  const box = sandbox();
  let first;
  let firstCommands;
  const before1 = box.toml();
  const auditBefore = box.auditToml();
  before(async () => {
    first = await box.run("provision", ["--env", "staging"]);
    firstCommands = box.commands({ clear: true });
  });
  after(() => box.cleanup());

  it("first run: creates the KV namespace, D1 database, queues and bucket of staging", () => {
    assert.equal(first.code, 0, first.stderr);
    const account = box.account();
    assert.deepEqual(
      account.kv.map((n) => n.title),
      ["spot-thought-edge-authorizer-staging-KEYS"],
    );
    assert.deepEqual(
      account.d1.map((d) => d.name),
      ["spot-audit-staging"],
    );
    assert.deepEqual(account.queues.sort(), ["spot-audit-events-staging", "spot-audit-events-staging-dlq"]);
    assert.deepEqual(account.buckets, ["spot-audit-archive-staging"]);
    assert.ok(verbs(firstCommands).includes("d1 migrations apply"));
    const apply = firstCommands.find((c) => c.args.includes("migrations"));
    assert.deepEqual(apply.args.slice(0, 4), ["d1", "migrations", "apply", "AUDIT_DB"]);
    assert.ok(apply.args.includes("--remote") && apply.args.includes("staging"));
  });

  it("first run: writes the ids into [env.staging] only, as wrangler reads them", () => {
    const account = box.account();
    const staging = unstable_readConfig({ config: box.config, env: "staging" }, { hideWarnings: true });
    assert.equal(staging.kv_namespaces[0].id, account.kv[0].id);
    assert.equal(staging.d1_databases[0].database_id, account.d1[0].uuid);
    const production = unstable_readConfig({ config: box.config, env: "production" }, { hideWarnings: true });
    assert.equal(production.kv_namespaces[0].id, "00000000000000000000000000000000");
    const local = unstable_readConfig({ config: box.config }, { hideWarnings: true });
    assert.equal(local.kv_namespaces[0].id, "00000000000000000000000000000000");
    // Only the two id lines changed.
    const changed = box
      .toml()
      .split("\n")
      .filter((line, i) => line !== before1.split("\n")[i]);
    assert.equal(changed.length, 2);
  });

  it("first run: writes the same D1 id into [env.staging] of wrangler.audit.toml, its only change", () => {
    const account = box.account();
    const audit = unstable_readConfig({ config: box.auditConfig, env: "staging" }, { hideWarnings: true });
    assert.equal(audit.d1_databases[0].database_id, account.d1[0].uuid);
    assert.equal(account.d1.length, 1, "one database for both Workers");
    const changed = box
      .auditToml()
      .split("\n")
      .filter((line, i) => line !== auditBefore.split("\n")[i]);
    assert.deepEqual(changed, [`database_id = "${account.d1[0].uuid}"`]);
    assert.match(first.stdout, /^wrote AUDIT_DB database_id into \[env\.staging\] of wrangler\.audit\.toml: commit it$/m);
  });

  it("first run: generates and stores both secrets, never showing them", () => {
    const puts = firstCommands.filter((c) => c.args[0] === "secret" && c.args[1] === "put");
    assert.deepEqual(puts.map((c) => c.args[2]).sort(), ["ASSERTION_SIGNING_KEY", "SECRET_HASH_KEY"]);
    const hashKey = puts.find((c) => c.args[2] === "SECRET_HASH_KEY").stdin;
    assert.equal(Buffer.from(hashKey, "base64").length, 32);
    const jwk = JSON.parse(puts.find((c) => c.args[2] === "ASSERTION_SIGNING_KEY").stdin);
    assert.equal(jwk.crv, "Ed25519");
    assert.ok(jwk.d && jwk.kid);
    for (const secret of [hashKey, jwk.d]) {
      assert.ok(!first.stdout.includes(secret) && !first.stderr.includes(secret), "a secret was printed");
      assert.ok(!firstCommands.some((c) => c.args.some((a) => a.includes(secret))), "a secret was passed as an argument");
    }
  });

  it("second run: finds everything, creates nothing, stores no secret, leaves wrangler.toml alone", async () => {
    const text = box.toml();
    const accountBefore = box.account();
    const second = await box.run("provision", ["--env", "staging"]);
    assert.equal(second.code, 0, second.stderr);
    const commands = verbs(box.commands({ clear: true }));
    assert.ok(!commands.some((c) => c.endsWith("create") || c.includes(" create")), commands.join(", "));
    assert.ok(!commands.includes("secret put"));
    assert.equal(box.toml(), text);
    assert.deepEqual(box.account(), accountBefore);
    assert.match(second.stdout, /secrets already set/);
  });

  it("stores only a missing secret", async () => {
    const account = box.account();
    delete account.secrets.staging.ASSERTION_SIGNING_KEY;
    box.setAccount(account);
    const third = await box.run("provision", ["--env", "staging"]);
    assert.equal(third.code, 0, third.stderr);
    const puts = box.commands({ clear: true }).filter((c) => c.args[0] === "secret" && c.args[1] === "put");
    assert.deepEqual(
      puts.map((c) => c.args[2]),
      ["ASSERTION_SIGNING_KEY"],
    );
  });

  it("finds resources that exist before the first run instead of creating them", async () => {
    const other = sandbox();
    try {
      other.setAccount({
        kv: [{ id: "0123456789abcdef0123456789abcdef", title: "spot-thought-edge-authorizer-production-KEYS" }],
        d1: [{ uuid: "11111111-2222-4333-8444-555555555555", name: "spot-audit-production" }],
        queues: ["spot-audit-events-production"],
        buckets: ["spot-audit-archive-production"],
        secrets: { production: { SECRET_HASH_KEY: true } },
      });
      const run = await other.run("provision", ["--env", "production"]);
      assert.equal(run.code, 0, run.stderr);
      const created = verbs(other.commands()).filter((c) => c.includes("create"));
      assert.deepEqual(created, ["queues create spot-audit-events-production-dlq"]);
      const production = unstable_readConfig({ config: other.config, env: "production" }, { hideWarnings: true });
      assert.equal(production.kv_namespaces[0].id, "0123456789abcdef0123456789abcdef");
      assert.equal(production.d1_databases[0].database_id, "11111111-2222-4333-8444-555555555555");
      const audit = unstable_readConfig({ config: other.auditConfig, env: "production" }, { hideWarnings: true });
      assert.equal(audit.d1_databases[0].database_id, "11111111-2222-4333-8444-555555555555");
    } finally {
      other.cleanup();
    }
  });

  it("refuses without --env, or with an environment wrangler.toml does not have (exit 2, with the usage)", async () => {
    const none = await box.run("provision", []);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--env is required: one of staging, production/);
    const bad = await box.run("provision", ["--env", "qa"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no \[env\.qa\]/);
    assert.match(bad.stderr, /^usage: npm run provision/m);
  });
});

describe("provision --config <file>", () => {
  it("refuses without the audit config next to it, before touching the account", async () => {
    const box = sandbox(undefined, { audit: null });
    try {
      const run = await box.run("provision", ["--env", "staging"]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^✘ no wrangler\.audit\.toml next to wrangler\.toml: the audit Worker's configuration/);
      assert.deepEqual(box.commands(), [], "wrangler not run");
    } finally {
      box.cleanup();
    }
  });

  it("names that file, not wrangler.toml, in what it prints", async () => {
    const box = sandbox(undefined, { name: "copy.toml" });
    try {
      const run = await box.run("provision", ["--env", "staging"]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^wrote KEYS id, AUDIT_DB database_id into \[env\.staging\] of copy\.toml: commit it$/m);
      assert.match(run.stdout, /^wrote AUDIT_DB database_id into \[env\.staging\] of copy\.audit\.toml: commit it$/m);
      assert.doesNotMatch(run.stdout + run.stderr, /wrangler\.toml/);
    } finally {
      box.cleanup();
    }
  });
});

describe("provision helpers", () => {
  it("parseQueueTable reads the name column of wrangler's table", () => {
    const table = ["┌──┬──┐", "│ id │ name │", "├──┼──┤", "│ abc │ q-one │", "│ def │ q-two │", "└──┴──┘"].join("\n");
    assert.deepEqual(parseQueueTable(table), ["q-one", "q-two"]);
  });

  it("parseBucketList reads the name: lines", () => {
    assert.deepEqual(parseBucketList("Listing buckets...\nname:  a\ncreation_date:  x\n\nname:  b\ncreation_date:  y\n"), ["a", "b"]);
  });

  it("setEnvBindingValue changes the line of that environment's binding only, and refuses a missing block", () => {
    const text = [
      "[[kv_namespaces]]",
      'binding = "KEYS"',
      'id = "0"',
      "[[env.a.kv_namespaces]]",
      'binding = "KEYS"',
      'id = "0"',
      "[[env.b.kv_namespaces]]",
      'binding = "KEYS"',
      'id = "0"',
    ].join("\n");
    const out = setEnvBindingValue(text, { env: "b", table: "kv_namespaces", binding: "KEYS", key: "id", value: "f".repeat(32) });
    assert.deepEqual(
      out.split("\n").map((l) => l.includes("f".repeat(32))),
      [false, false, false, false, false, false, false, false, true],
    );
    assert.throws(
      () => setEnvBindingValue(text, { env: "c", table: "kv_namespaces", binding: "KEYS", key: "id", value: "x" }),
      /no \[\[env\.c/,
    );
    assert.throws(
      () => setEnvBindingValue(text, { env: "c", table: "kv_namespaces", binding: "KEYS", key: "id", value: "x", file: "copy.toml" }),
      /in copy\.toml$/,
    );
  });
});
