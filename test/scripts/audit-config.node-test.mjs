// The authorizer (wrangler.toml) and the audit Worker (wrangler.audit.toml) share the audit queue, the
// D1 database and the R2 bucket: for the top level and each environment, the audit Worker consumes
// exactly the queue the authorizer produces to, and its dead-letter queue; both name the same D1
// database (name and id) and R2 bucket; the authorizer consumes nothing and runs no cron.

import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { unstable_readConfig } from "wrangler";
import { auditConfigPath, auditConfigProblems } from "../../scripts/lib/environments.mjs";
import { importTypeScript } from "../../scripts/lib/ts-module.mjs";
import { ROOT } from "./env-harness.mjs";

const { auditQueueRole } = await importTypeScript(join(ROOT, "src", "audit", "queues.ts"));

const MAIN = join(ROOT, "wrangler.toml");
const AUDIT = join(ROOT, "wrangler.audit.toml");
const read = (config, env) => unstable_readConfig({ config, env }, { hideWarnings: true });

describe("wrangler.audit.toml against wrangler.toml", () => {
  it("is the audit config next to wrangler.toml", () => {
    assert.equal(auditConfigPath(MAIN), AUDIT);
  });

  for (const env of [undefined, "staging", "production"]) {
    const section = env ? `[env.${env}]` : "the top level";
    it(`${section}: one queue produced, consumed by the audit Worker with its dead-letter queue; same D1 and R2`, () => {
      const main = read(MAIN, env);
      const audit = read(AUDIT, env);
      assert.deepEqual(auditConfigProblems(main, audit, { section, queueRole: auditQueueRole }), []);
      // The same facts, spelled out.
      const produced = main.queues.producers.map((p) => p.queue);
      assert.equal(produced.length, 1);
      const [queue] = produced;
      assert.deepEqual(main.queues.consumers ?? [], []);
      assert.deepEqual(main.triggers.crons ?? [], []);
      assert.deepEqual(audit.triggers.crons, ["17 * * * *"]);
      assert.deepEqual(
        audit.queues.consumers.map((c) => [c.queue, c.dead_letter_queue ?? null]),
        [
          [queue, `${queue}-dlq`],
          [`${queue}-dlq`, null],
        ],
      );
      assert.deepEqual(audit.queues.producers ?? [], []);
      // The consumer reads each batch by its queue's name (src/audit/queues.ts).
      assert.deepEqual(
        audit.queues.consumers.map((c) => auditQueueRole(c.queue)),
        ["events", "dead_letters"],
      );
      const d1 = (c) => c.d1_databases.map((d) => [d.binding, d.database_name, d.database_id, d.migrations_dir]);
      assert.deepEqual(d1(audit), d1(main));
      const r2 = (c) => c.r2_buckets.map((b) => [b.binding, b.bucket_name]);
      assert.deepEqual(r2(audit), r2(main));
      assert.equal(audit.main, join(ROOT, "src", "audit-worker.ts"));
      assert.equal(audit.compatibility_date, main.compatibility_date);
      assert.deepEqual(audit.compatibility_flags, main.compatibility_flags);
      assert.deepEqual(audit.alias, main.alias);
      assert.equal(audit.workers_dev, false);
      assert.deepEqual(audit.routes ?? [], []);
    });
  }

  it("the environments repeat the top level's consumer settings and vars", () => {
    const local = read(AUDIT);
    const settings = (c) =>
      c.queues.consumers.map((q) => [q.max_batch_size, q.max_batch_timeout, q.max_retries, Boolean(q.dead_letter_queue)]);
    for (const env of ["staging", "production"]) {
      const cfg = read(AUDIT, env);
      assert.deepEqual(settings(cfg), settings(local), env);
      assert.deepEqual(cfg.vars, local.vars, env);
    }
  });

  it("names what does not fit", () => {
    const main = read(MAIN, "staging");
    const audit = read(AUDIT, "staging");
    const moved = {
      ...audit,
      queues: { consumers: audit.queues.consumers.slice(1) },
      d1_databases: [{ ...audit.d1_databases[0], database_id: "x" }],
    };
    const problems = auditConfigProblems({ ...main, triggers: { crons: ["17 * * * *"] } }, moved, { section: "[env.staging]" });
    assert.equal(problems.length, 4, problems.join("\n"));
    assert.match(problems[0], /^\[env\.staging\] of wrangler\.toml has crons/);
    assert.match(problems[1], /does not consume spot-audit-events-staging, the queue wrangler\.toml produces to/);
    assert.match(problems[2], /consumes spot-audit-events-staging-dlq, which wrangler\.toml does not produce to/);
    assert.match(problems[3], /^D1 AUDIT_DB differs/);
  });
});
