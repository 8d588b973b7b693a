// `npm run preflight` (scripts/preflight.mjs) against the stand-in wrangler (fake-wrangler.mjs): a
// ready environment passes; each check, broken on its own, fails with one line saying how to fix it.
// And `npm run deploy` deploys only after a passing preflight.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { unstable_readConfig } from "wrangler";
import { deployAgainCommand, queueConsumerScripts } from "../../scripts/deploy.mjs";
import { DEFAULT_CONFIG } from "../../scripts/lib/environments.mjs";
import { setEnvBindingValue } from "../../scripts/provision.mjs";
import { ROOT, sandbox } from "./env-harness.mjs";

const ENVS = [
  ["staging", "1"],
  ["production", "2"],
];
const d1Id = (n) => `${n.repeat(8)}-${n.repeat(4)}-4${n.repeat(3)}-8${n.repeat(3)}-${n.repeat(12)}`;

/** wrangler.toml with both environments provisioned and their admin audience set. */
function readyToml() {
  let text = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  for (const [env, n] of ENVS) {
    text = setEnvBindingValue(text, { env, table: "kv_namespaces", binding: "KEYS", key: "id", value: n.repeat(32) });
    text = setEnvBindingValue(text, { env, table: "d1_databases", binding: "AUDIT_DB", key: "database_id", value: d1Id(n) });
  }
  return text.replaceAll('ADMIN_JWT_AUDIENCE = ""', 'ADMIN_JWT_AUDIENCE = "aud-tag-of-the-access-app"');
}

/** wrangler.audit.toml provisioned as readyToml(): the same D1 ids. */
function readyAuditToml() {
  let text = readFileSync(join(ROOT, "wrangler.audit.toml"), "utf8");
  for (const [env, n] of ENVS) {
    text = setEnvBindingValue(text, { env, table: "d1_databases", binding: "AUDIT_DB", key: "database_id", value: d1Id(n) });
  }
  return text;
}

const SECRETS = { SECRET_HASH_KEY: true, ASSERTION_SIGNING_KEY: true };
const account = (secrets = SECRETS) => ({ kv: [], d1: [], queues: [], buckets: [], secrets: { production: secrets, staging: SECRETS } });

/**
 * Runs preflight on production with `edit` applied to the ready wrangler.toml (and `editAudit` to the
 * ready wrangler.audit.toml); returns the ✘ lines.
 */
async function problems(edit = (t) => t, acct = account(), options = undefined, editAudit = (t) => t) {
  const box = sandbox(edit(readyToml()), { audit: editAudit(readyAuditToml()), ...options });
  try {
    box.setAccount(acct);
    const run = await box.run("preflight", ["--env", "production"]);
    const lines = run.stderr.split("\n").filter((l) => l.startsWith("✘ "));
    assert.equal(run.code, lines.length === 0 ? 0 : 1, run.stderr);
    assert.doesNotMatch(run.stderr, /^\s+at /m, "no stack trace");
    return lines;
  } finally {
    box.cleanup();
  }
}

/** Deletes the `[[env.production.<table>]]` block whose first line under the header is `first`. */
const withoutBlock = (table, first) => (text) => {
  const block = new RegExp(
    `\\[\\[env\\.production\\.${table}\\]\\]\\n${first.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\n(?:[^\\[\\n][^\\n]*\\n)*\\n?`,
  );
  assert.match(text, block);
  return text.replace(block, "");
};

/** Replaces `from` with `to` inside [env.production] only. */
const inProduction = (from, to) => (text) => {
  const start = text.indexOf("\n[env.production]\n");
  return text.slice(0, start) + text.slice(start).replace(from, to);
};

describe("preflight --env production", () => {
  it("passes when everything is in place", async () => {
    assert.deepEqual(await problems(), []);
  });

  it("placeholder ids: all zeros or <…>", async () => {
    const found = await problems((t) =>
      setEnvBindingValue(
        setEnvBindingValue(t, { env: "production", table: "kv_namespaces", binding: "KEYS", key: "id", value: "0".repeat(32) }),
        { env: "production", table: "d1_databases", binding: "AUDIT_DB", key: "database_id", value: "<AUDIT_DB id>" },
      ),
    );
    assert.deepEqual(found, [
      "✘ KV KEYS: id is a placeholder; run `npm run provision -- --env production`",
      "✘ D1 AUDIT_DB: database_id is a placeholder; run `npm run provision -- --env production`",
    ]);
  });

  it("empty ADMIN_JWT_AUDIENCE", async () => {
    const found = await problems(inProduction('ADMIN_JWT_AUDIENCE = "aud-tag-of-the-access-app"', 'ADMIN_JWT_AUDIENCE = ""'));
    assert.equal(found.length, 1);
    assert.match(found[0], /^✘ ADMIN_JWT_AUDIENCE is empty .*set it in \[env\.production\.vars\] of wrangler\.toml to/);
  });

  it("missing secrets", async () => {
    const found = await problems(undefined, account({ SECRET_HASH_KEY: true }));
    assert.deepEqual(found, [
      "✘ secret ASSERTION_SIGNING_KEY is not set; run `npm run provision -- --env production` (generates and stores it)",
    ]);
  });

  it("secrets that cannot be listed", async () => {
    const found = await problems(undefined, { ...account(), failSecretList: true });
    assert.equal(found.length, 1);
    assert.match(found[0], /^✘ cannot list the secrets .*wrangler whoami/);
  });

  it("a route without its zone", async () => {
    const found = await problems(
      inProduction('{ pattern = "admin.spot-thought.com/__spot/*", zone_name = "spot-thought.com" }', '"admin.spot-thought.com/__spot/*"'),
    );
    assert.equal(found.length, 1);
    assert.match(found[0], /^✘ route admin\.spot-thought\.com\/__spot\/\* names no zone; add zone_name/);
  });

  it("a route object without its zone: one line, not wrangler's error", async () => {
    const found = await problems(
      inProduction(
        '{ pattern = "admin.spot-thought.com/__spot/*", zone_name = "spot-thought.com" }',
        '{ pattern = "admin.spot-thought.com/__spot/*" }',
      ),
    );
    assert.deepEqual(found, [
      '✘ route admin.spot-thought.com/__spot/* names no zone; add zone_name = "<zone>" (or zone_id, or custom_domain = true) to it in [env.production] of wrangler.toml',
    ]);
  });

  it("a configuration wrangler cannot read: one line with its first words", async () => {
    const found = await problems(inProduction("workers_dev = false", 'workers_dev = "no"'));
    assert.equal(found.length, 1);
    assert.match(
      found[0],
      /^✘ wrangler cannot read \[env\.production\] of wrangler\.toml: Expected "workers_dev" to be of type boolean but got "no"; fix it \(`npx wrangler deploy --dry-run --env production --config wrangler\.toml` shows/,
    );
  });

  it("an ENFORCEMENT that is not a mode", async () => {
    const found = await problems(inProduction('ENFORCEMENT = "enforce"', 'ENFORCEMENT = "report_only"'));
    assert.equal(found.length, 1);
    assert.match(
      found[0],
      /^✘ ENFORCEMENT "report_only" is not a mode .*set it in \[env\.production\.vars\] of wrangler\.toml to "enforce"/,
    );
    assert.deepEqual(await problems(inProduction('ENFORCEMENT = "enforce"', 'ENFORCEMENT = "report-only"')), []);
    assert.deepEqual(await problems(inProduction('ENFORCEMENT = "enforce"', 'ENFORCEMENT = ""')), []);
  });

  it("an ADMIN_JWKS_URL that is not https", async () => {
    const found = await problems(inProduction('ADMIN_JWKS_URL = "https://', 'ADMIN_JWKS_URL = "http://'));
    assert.equal(found.length, 1);
    assert.match(found[0], /^✘ ADMIN_JWKS_URL "http:\/\/spot-thought\.cloudflareaccess\.com\/cdn-cgi\/access\/certs" is not an https URL/);
  });

  it("AUTH_FAILURE_LIMIT that differs from AUTH_FAILURE_LIMITER's simple.limit", async () => {
    const found = await problems(inProduction('AUTH_FAILURE_LIMIT = "30"', 'AUTH_FAILURE_LIMIT = "50"'));
    assert.deepEqual(found, [
      "✘ AUTH_FAILURE_LIMIT is 50 but the AUTH_FAILURE_LIMITER rate limit's simple.limit is 30: they must be equal; change one of them in [env.production] of wrangler.toml",
    ]);
  });

  it("no KEYS namespace", async () => {
    const found = await problems(withoutBlock("kv_namespaces", 'binding = "KEYS"'));
    assert.equal(found.length, 1);
    assert.match(found[0], /^✘ no KV namespace KEYS .*add \[\[env\.production\.kv_namespaces\]\] binding = "KEYS"/);
  });

  it("a rate-limit tier without its binding", async () => {
    const found = await problems(withoutBlock("ratelimits", 'name = "KEY_RATE_LIMIT_600"'));
    assert.equal(found.length, 1);
    assert.match(found[0], /^✘ no rate limit KEY_RATE_LIMIT_600 .*simple = \{ limit = 600, period = 60 \}/);
  });

  it("names the file of --config, not wrangler.toml", async () => {
    const found = await problems(inProduction('ENFORCEMENT = "enforce"', 'ENFORCEMENT = "x"'), account(), { name: "prod.toml" });
    assert.match(found[0], /set it in \[env\.production\.vars\] of prod\.toml/);
  });

  it("a rate-limit namespace id used by another environment", async () => {
    const found = await problems(inProduction('namespace_id = "7104"', 'namespace_id = "8104"'));
    assert.equal(found.length, 1);
    assert.match(found[0], /^✘ ratelimits KEY_RATE_LIMIT_1200: namespace_id 8104 is also used by \[env\.staging\] \(KEY_RATE_LIMIT_1200\)/);
  });

  it("the audit config: missing, its D1 id a placeholder, or not fitting wrangler.toml", async () => {
    const missing = await problems(undefined, account(), { audit: null });
    assert.equal(missing.length, 1);
    assert.match(missing[0], /^✘ no wrangler\.audit\.toml next to wrangler\.toml: the audit Worker \(queue consumer, retention cron\)/);
    const placeholder = await problems(undefined, account(), undefined, (t) =>
      setEnvBindingValue(t, { env: "production", table: "d1_databases", binding: "AUDIT_DB", key: "database_id", value: "0".repeat(32) }),
    );
    assert.deepEqual(placeholder, [
      "✘ D1 AUDIT_DB in wrangler.audit.toml: database_id is a placeholder; run `npm run provision -- --env production`",
    ]);
    const otherDb = await problems(undefined, account(), undefined, (t) =>
      setEnvBindingValue(t, { env: "production", table: "d1_databases", binding: "AUDIT_DB", key: "database_id", value: d1Id("1") }),
    );
    assert.equal(otherDb.length, 1);
    assert.match(
      otherDb[0],
      /^✘ D1 AUDIT_DB differs: wrangler\.toml names spot-audit-production \(2{8}-.*wrangler\.audit\.toml spot-audit-production \(1{8}-/,
    );
    const noConsumer = await problems(undefined, account(), undefined, (t) =>
      t.replace('queue = "spot-audit-events-production"\n', 'queue = "spot-audit-events-prod"\n'),
    );
    assert.equal(noConsumer.length, 2, noConsumer.join("\n"));
    assert.match(
      noConsumer[0],
      /^✘ \[env\.production\] of wrangler\.audit\.toml does not consume spot-audit-events-production, the queue wrangler\.toml produces to/,
    );
    assert.match(noConsumer[1], /consumes spot-audit-events-prod, which wrangler\.toml does not produce to/);
  });

  it("audit queues named so that the audit consumer would not know them (they agree with each other)", async () => {
    const rename = (t) => t.replaceAll("spot-audit-events-production", "audit-trail-production");
    const found = await problems(rename, account(), undefined, rename);
    assert.equal(found.length, 2, found.join("\n"));
    assert.match(
      found[0],
      /^✘ \[env\.production\] of wrangler\.audit\.toml consumes audit-trail-production, a name the audit consumer does not read as an events queue/,
    );
    assert.match(found[1], /consumes audit-trail-production-dlq, a name the audit consumer does not read as a dead-letter queue/);
  });

  it("wrangler.toml that consumes the audit queue itself (the one-Worker layout)", async () => {
    const consumer = [
      "[[env.production.queues.consumers]]",
      'queue = "spot-audit-events-production"',
      "max_batch_size = 100",
      'dead_letter_queue = "spot-audit-events-production-dlq"',
      "",
      "",
    ].join("\n");
    const found = await problems((t) => t.replace("[[env.production.d1_databases]]", `${consumer}[[env.production.d1_databases]]`));
    assert.equal(found.length, 1);
    assert.match(
      found[0],
      /^✘ \[env\.production\] of wrangler\.toml consumes spot-audit-events-production: the audit Worker is the consumer/,
    );
  });

  it("an unusable API_VERSIONS table", async () => {
    const found = await problems(inProduction('"status": "preview"', '"status": "beta"'));
    assert.equal(found.length, 1);
    assert.match(found[0], /^✘ API_VERSIONS is unusable \(every request would answer 503\): .*status/);
  });
});

describe("command line of provision, preflight and deploy", () => {
  for (const script of ["provision", "preflight", "deploy"]) {
    it(`${script} --help / -h: the usage, exit 0`, async () => {
      const box = sandbox();
      try {
        for (const flag of ["--help", "-h"]) {
          const run = await box.run(script, [flag]);
          assert.equal(run.code, 0, run.stderr);
          assert.match(run.stdout, new RegExp(`^usage: npm run ${script} -- --env <environment>`));
          assert.equal(run.stderr, "");
        }
        assert.deepEqual(box.commands(), [], "wrangler not run");
      } finally {
        box.cleanup();
      }
    });
  }

  for (const script of ["provision", "preflight"]) {
    it(`${script}: an unknown option is named, with the close one, then the usage; exit 2, no stack trace`, async () => {
      const box = sandbox();
      try {
        const typo = await box.run(script, ["--evn", "staging"]);
        assert.equal(typo.code, 2);
        assert.match(typo.stderr, /^✘ unknown option --evn; did you mean --env\?\nusage: /);
        assert.doesNotMatch(typo.stderr, /ERR_PARSE_ARGS|^\s+at /m);
        const far = await box.run(script, ["--env", "staging", "--frobnicate"]);
        assert.equal(far.code, 2);
        assert.match(far.stderr, /^✘ unknown option --frobnicate\nusage: /);
        assert.deepEqual(box.commands(), [], "wrangler not run");
      } finally {
        box.cleanup();
      }
    });
  }

  it("deploy passes unknown options on to wrangler, but names a mistyped --env", async () => {
    const box = sandbox();
    try {
      const typo = await box.run("deploy", ["--evn", "staging"]);
      assert.equal(typo.code, 2);
      assert.match(typo.stderr, /^✘ --env is required: .*; --evn: did you mean --env\?\nusage: npm run deploy/);
      assert.deepEqual(box.commands(), [], "wrangler not run");
    } finally {
      box.cleanup();
    }
  });

  it("a missing or unknown --env: exit 2 with the environments and the file's name", async () => {
    const box = sandbox(undefined, { name: "other.toml" });
    try {
      const missing = await box.run("preflight", []);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /^✘ --env is required: one of staging, production \(the top level of other\.toml/);
      const unknown = await box.run("provision", ["--env", "prod"]);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /^✘ no \[env\.prod\] in other\.toml; environments: staging, production\n/);
    } finally {
      box.cleanup();
    }
  });
});

describe("fake-wrangler.mjs", () => {
  it("without SPOT_FAKE_STATE or SPOT_FAKE_LOG: one line naming the variable, exit 2", () => {
    for (const missing of ["SPOT_FAKE_STATE", "SPOT_FAKE_LOG"]) {
      const env = { ...process.env, SPOT_FAKE_STATE: "state.json", SPOT_FAKE_LOG: "log.jsonl" };
      delete env[missing];
      const run = spawnSync(process.execPath, [join(ROOT, "test", "scripts", "fake-wrangler.mjs"), "kv", "namespace", "list"], {
        env,
        encoding: "utf8",
      });
      assert.equal(run.status, 2);
      assert.equal(run.stdout, "");
      assert.match(run.stderr, new RegExp(`^fake wrangler: set ${missing} to a file path[^\\n]*\\n$`));
    }
  });
});

describe("deploy", () => {
  it("runs wrangler deploy --env only after a passing preflight, passing other options on", async () => {
    const box = sandbox(readyToml(), { audit: readyAuditToml() });
    try {
      box.setAccount(account());
      const ok = await box.run("deploy", ["--env", "production", "--routes", "admin.spot-thought.com/__spot/*"]);
      assert.equal(ok.code, 0, ok.stderr);
      const deploys = box.commands({ clear: true }).filter((c) => c.args[0] === "deploy");
      const deploy = deploys[0];
      assert.deepEqual(deploy.args, ["deploy", "--env", "production", "--routes", "admin.spot-thought.com/__spot/*"]);
      // Then the audit Worker (its own config; the authorizer's options are not its own), after the authorizer.
      assert.deepEqual(
        deploys.map((c) => c.config),
        ["wrangler.toml", "wrangler.audit.toml"],
      );
      assert.deepEqual(deploys[1].args, ["deploy", "--env", "production"]);
      assert.match(ok.stdout, /authorizer first.*then the audit Worker/s);
      box.setAccount(account({}));
      const refused = await box.run("deploy", ["--env", "production", "--routes", "admin.spot-thought.com/__spot/*"]);
      assert.equal(refused.code, 1);
      // The command to run again keeps the config and the admin-only routes (without them wrangler would
      // attach the configuration's routes, the API hostname's included).
      assert.ok(
        refused.stderr.includes(
          `not deployed: fix the problems above, then run \`npm run deploy -- --env production --config ${box.config} --routes 'admin.spot-thought.com/__spot/*'\` again`,
        ),
        refused.stderr,
      );
      assert.ok(!box.commands().some((c) => c.args[0] === "deploy"));
    } finally {
      box.cleanup();
    }
  });
});

describe("deploy: the command to run again", () => {
  it("names --config only when it is not the project's, and quotes what a shell would expand", () => {
    assert.equal(deployAgainCommand("staging", DEFAULT_CONFIG, []), "npm run deploy -- --env staging");
    assert.equal(
      deployAgainCommand("production", "../dry/wrangler.toml", ["--routes", "admin.spot-thought.com/__spot/*", "--var", "A:it's"]),
      "npm run deploy -- --env production --config ../dry/wrangler.toml --routes 'admin.spot-thought.com/__spot/*' --var 'A:it'\\''s'",
    );
  });
});

describe("deploy: the move from one Worker to two", () => {
  it("reads the Worker names of wrangler queues info's Consumers line", () => {
    const text = "Queue Name: q\nNumber of Consumers: 2\nConsumers: worker:spot-a,worker:spot-b\n";
    assert.deepEqual(queueConsumerScripts(text), ["spot-a", "spot-b"]);
    assert.deepEqual(queueConsumerScripts("Queue Name: q\nNumber of Consumers: 0\n"), []);
  });

  it("removes the authorizer's own consumers of the audit queues before deploying it, then deploys the audit Worker", async () => {
    const box = sandbox(readyToml(), { audit: readyAuditToml() });
    try {
      const authorizer = "spot-thought-edge-authorizer-production";
      box.setAccount({
        ...account(),
        consumers: { "spot-audit-events-production": [authorizer], "spot-audit-events-production-dlq": [authorizer] },
      });
      const run = await box.run("deploy", ["--env", "production"]);
      assert.equal(run.code, 0, run.stderr);
      const steps = box
        .commands()
        .filter((c) => c.args[0] === "deploy" || (c.args[0] === "queues" && c.args[1] === "consumer"))
        .map((c) => (c.args[0] === "deploy" ? `deploy ${c.config}` : c.args.join(" ")));
      assert.deepEqual(steps, [
        `queues consumer remove spot-audit-events-production ${authorizer}`,
        `queues consumer remove spot-audit-events-production-dlq ${authorizer}`,
        "deploy wrangler.toml",
        "deploy wrangler.audit.toml",
      ]);
      assert.deepEqual(box.account().consumers, { "spot-audit-events-production": [], "spot-audit-events-production-dlq": [] });
      // Once moved, a deploy removes nothing.
      box.commands({ clear: true });
      assert.equal((await box.run("deploy", ["--env", "production"])).code, 0);
      assert.ok(!box.commands().some((c) => c.args[1] === "consumer"));
    } finally {
      box.cleanup();
    }
  });
});

describe("wrangler.toml: the environments mirror the local configuration", () => {
  // Bindings, vars and rate limits are not inherited: each environment repeats them, and the tests of
  // the Worker (test/worker/abuse.test.ts) only see the top level. These keep the copies in step.
  const config = join(ROOT, "wrangler.toml");
  const local = unstable_readConfig({ config }, { hideWarnings: true });
  for (const env of ["staging", "production"]) {
    it(`${env}: the same vars, binding names and rate limits`, () => {
      const cfg = unstable_readConfig({ config, env }, { hideWarnings: true });
      assert.deepEqual(Object.keys(cfg.vars).sort(), Object.keys(local.vars).sort());
      const names = (c) => ({
        kv: c.kv_namespaces.map((b) => b.binding),
        d1: c.d1_databases.map((b) => [b.binding, b.migrations_dir]),
        r2: c.r2_buckets.map((b) => b.binding),
        queues: c.queues.producers.map((p) => p.binding),
        // None here: the consumers are in wrangler.audit.toml (test/scripts/audit-config.node-test.mjs mirrors them).
        consumers: (c.queues.consumers ?? []).map((q) => [
          q.max_batch_size,
          q.max_batch_timeout,
          q.max_retries,
          Boolean(q.dead_letter_queue),
        ]),
        durableObjects: c.durable_objects.bindings.map((b) => [b.name, b.class_name]),
        ratelimits: c.ratelimits.map((r) => [r.name, r.simple]),
      });
      assert.deepEqual(names(cfg), names(local));
      assert.equal(cfg.vars.AUTH_FAILURE_LIMIT, local.vars.AUTH_FAILURE_LIMIT);
      assert.equal(cfg.vars.KEY_RATE_LIMIT_PER_MINUTE, local.vars.KEY_RATE_LIMIT_PER_MINUTE);
    });
  }
});
