// `npm start`'s command line (scripts/start/args.mjs): the ports that follow --port, the usage error of
// an unknown or mistyped option (with the closest known one), --help, refused port values; and, through
// scripts/start.mjs itself, that a bad command line prints the usage and exits 2, never a stack trace; and
// that wrangler's bindings table, which wrangler dev prints more than once, is shown once.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../../scripts/lib/wrangler.mjs";
import { closestOption, DEFAULT_PORT, localPorts, parseStartArgs, USAGE, UsageError } from "../../scripts/start/args.mjs";
import { banner, enforcementLines } from "../../scripts/start/banner.mjs";
import { READINESS_PATH } from "../../scripts/start/processes.mjs";
import { repeatedBindingsFilter } from "../../scripts/start/wrangler-dev.mjs";

const usageError = (pattern) => (err) => err instanceof UsageError && err.exitCode === 2 && pattern.test(err.message);

describe("npm start: ports", () => {
  it("default: the Worker on 8787, demo origins on 8700-8704, the inspector on 9229", () => {
    const options = parseStartArgs([]);
    assert.equal(DEFAULT_PORT, 8787);
    assert.equal(options.port, 8787);
    assert.deepEqual(options.ports, {
      worker: 8787,
      origins: [
        { version: "2023-08-01", port: 8700 },
        { version: "2024-06-01", port: 8701 },
        { version: "2024-11-15", port: 8702 },
        { version: "2025-03-01", port: 8703 },
        { version: "sandbox", port: 8704 },
      ],
      sandbox: 8704,
      inspector: 9229,
    });
    assert.deepEqual(parseStartArgs([]), {
      help: false,
      resetDb: false,
      resetKeys: false,
      kvLagMs: null,
      port: 8787,
      ports: options.ports,
    });
  });

  it("the default port comes from the caller (wrangler.toml [dev])", () => {
    assert.equal(parseStartArgs([], { defaultPort: 8800 }).ports.sandbox, 8717);
  });

  it("--port N: the origins on N-87…N-83, the inspector on N+442, in both spellings", () => {
    for (const argv of [["--port", "9787"], ["--port=9787"]]) {
      const { port, ports } = parseStartArgs(argv);
      assert.equal(port, 9787);
      assert.deepEqual(
        ports.origins.map((o) => o.port),
        [9700, 9701, 9702, 9703, 9704],
      );
      assert.equal(ports.sandbox, 9704);
      assert.equal(ports.inspector, 10229);
    }
  });

  it("two checkouts on 8787 and 9787 share no port", () => {
    const all = (p) => [p.worker, p.inspector, ...p.origins.map((o) => o.port)];
    const a = all(localPorts(8787));
    const b = all(localPorts(9787));
    assert.deepEqual(
      a.filter((port) => b.includes(port)),
      [],
    );
    assert.equal(new Set(a).size, 7);
  });

  it("refuses a port that is not a number or whose derived ports fall outside 1024-65535", () => {
    for (const bad of ["0", "70000", "abc", "-1", "8787.5", "", "1110", "65094"]) {
      assert.throws(() => parseStartArgs(["--port", bad]), usageError(/--port takes a port number from 1111 to 65093/), bad);
    }
    assert.throws(() => parseStartArgs(["--port"]), usageError(/--port needs a value/));
    assert.throws(() => parseStartArgs(["--port", "--reset-db"]), usageError(/--port needs a value/));
    assert.equal(parseStartArgs(["--port", "1111"]).ports.origins[0].port, 1024);
    assert.equal(parseStartArgs(["--port", "65093"]).ports.inspector, 65535);
  });
});

describe("npm start: options", () => {
  it("the known options", () => {
    const options = parseStartArgs(["--reset-db", "--reset-keys", "--simulate-kv-lag", "60", "--port", "9000"]);
    assert.equal(options.resetDb, true);
    assert.equal(options.resetKeys, true);
    assert.equal(options.kvLagMs, 60_000);
    assert.equal(options.port, 9000);
    assert.throws(() => parseStartArgs(["--simulate-kv-lag", "0"]), usageError(/whole seconds from 1 to 600/));
    assert.throws(() => parseStartArgs(["--reset-db=yes"]), usageError(/--reset-db takes no value/));
  });

  it("--help and -h", () => {
    assert.equal(parseStartArgs(["--help"]).help, true);
    assert.equal(parseStartArgs(["-h"]).help, true);
    for (const flag of ["--port", "--reset-db", "--reset-keys", "--simulate-kv-lag", "--help"]) assert.match(USAGE, new RegExp(flag));
  });

  it("an unknown option is a usage error that names the closest known one", () => {
    assert.throws(() => parseStartArgs(["--rest-db"]), usageError(/unknown option '--rest-db': did you mean --reset-db\?/));
    assert.throws(() => parseStartArgs(["--reset-key"]), usageError(/did you mean --reset-keys\?/));
    assert.throws(() => parseStartArgs(["--prot", "9787"]), usageError(/did you mean --port\?/));
    assert.throws(() => parseStartArgs(["--simulate-lag", "5"]), usageError(/did you mean --simulate-kv-lag\?/));
    assert.throws(() => parseStartArgs(["--verbose"]), usageError(/^unknown option '--verbose'$/));
    assert.throws(() => parseStartArgs(["-x"]), usageError(/^unknown option '-x'$/));
    assert.throws(() => parseStartArgs(["reset-db"]), usageError(/unexpected argument 'reset-db'/));
    assert.equal(closestOption("hlep"), "help");
    assert.equal(closestOption("xyz"), null);
  });

  it("scripts/start.mjs: an unknown option prints the usage and exits 2; --help prints it and exits 0", () => {
    const run = (args) =>
      spawnSync(process.execPath, [join(ROOT, "scripts", "start.mjs"), ...args], {
        encoding: "utf8",
        env: { ...process.env, NO_COLOR: "1" },
      });
    const bad = run(["--rest-db"]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /✘ unknown option '--rest-db': did you mean --reset-db\?/);
    assert.ok(bad.stderr.includes(USAGE));
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
    const badPort = run(["--port", "70000"]);
    assert.equal(badPort.status, 2);
    assert.match(badPort.stderr, /--port takes a port number/);
    const help = run(["--help"]);
    assert.equal(help.status, 0);
    assert.equal(help.stdout.trim(), USAGE);
  });
});

describe("npm start: wrangler's bindings table", () => {
  it("is shown once: a repetition of the same table is left out, other lines pass", () => {
    const table = [
      "Your Worker has access to the following bindings:",
      "Binding   Resource   Mode",
      "env.KEYS (x)   KV Namespace   local",
      "",
    ];
    const filter = repeatedBindingsFilter();
    const shown = [...table, "⎔ Starting local server...", ...table, "Ready on http://127.0.0.1:8787"].flatMap(filter);
    assert.deepEqual(shown, [...table, "⎔ Starting local server...", "Ready on http://127.0.0.1:8787"]);
  });

  it("a changed table is shown again", () => {
    const filter = repeatedBindingsFilter();
    const a = ["Your Worker has access to the following bindings:", "env.A", ""];
    const b = ["Your Worker has access to the following bindings:", "env.B", ""];
    assert.deepEqual([...a, ...b, ...a].flatMap(filter), [...a, ...b]);
  });
});

describe("npm start: readiness and the banner's enforcement line", () => {
  it("the readiness probe asks for the JWKS (answered by the Worker, never forwarded or audited), not GET /", () => {
    assert.equal(READINESS_PATH, "/.well-known/spot-authorizer/jwks.json");
  });

  it("says so when ENFORCEMENT is report-only, naming where it was read; nothing for enforce", () => {
    for (const value of [undefined, "", "enforce"]) assert.deepEqual(enforcementLines({ value, from: ".dev.vars" }), []);
    const reportOnly = enforcementLines({ value: "report-only", from: ".dev.vars" }).join("\n");
    assert.match(reportOnly, /! ENFORCEMENT=report-only.*\(\.dev\.vars\): a request that would be refused is forwarded anyway/);
    const bad = enforcementLines({ value: "report_only", from: "wrangler.toml [vars]" }).join("\n");
    assert.match(bad, /! ENFORCEMENT="report_only".*\(wrangler\.toml \[vars\]\).*every request\n.*503/);
  });

  it("the banner prints that line", () => {
    const printed = [];
    const original = console.log;
    console.log = (text) => printed.push(String(text));
    try {
      banner({
        url: "http://127.0.0.1:8787",
        ports: localPorts(8787),
        defaultPort: true,
        demo: { account_id: "acct_demo", key_id: "key_1", secret: "s" },
        hashKeyChanged: false,
        consoleToken: "t",
        enforcement: { value: "report-only", from: ".dev.vars" },
      });
    } finally {
      console.log = original;
    }
    assert.match(printed.join("\n"), /! ENFORCEMENT=report-only/);
  });
});
