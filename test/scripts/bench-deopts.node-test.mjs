// bench/lib/deopts.mjs: reading V8's --trace-deopt lines (npm run bench -- --lean --deopts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseBailout, traceDeopts } from "../../bench/lib/deopts.mjs";

// Lines as workerd 2026-11-17 (V8 with Maglev) printed them in a bench run.
const EAGER =
  "[bailout (kind: deopt-eager, reason: wrong map): begin. deoptimizing 0x2efc00c77915 <JSFunction dispatch (sfi = 0x2efc0096a025)>, 0x2efc00a530a9 <Code MAGLEV>, opt id 19, bytecode offset 56, deopt exit 1, FP to SP delta 24, caller SP 0x7fff9b51ef60, pc 0x5559e0019e74]";
const ANONYMOUS =
  "[bailout (kind: deopt-lazy, reason: (unknown)): begin. deoptimizing 0x1 <JSFunction (sfi = 0x2)>, 0x3 <Code MAGLEV>, opt id 64, bytecode offset 18, deopt exit 101]";

describe("parseBailout", () => {
  it("reads kind, reason and function of a bailout line", () => {
    assert.deepEqual(parseBailout(EAGER), { kind: "deopt-eager", reason: "wrong map", fn: "dispatch" });
  });
  it("names an anonymous function and keeps a reason in parentheses", () => {
    assert.deepEqual(parseBailout(ANONYMOUS), { kind: "deopt-lazy", reason: "(unknown)", fn: "(anonymous)" });
  });
  it("ignores every other line", () => {
    for (const line of ["", "[marking 0x1 <JSFunction f> for optimization]", '{"level":"warn","msg":"x"}'])
      assert.equal(parseBailout(line), null);
  });
});

describe("traceDeopts", () => {
  it("counts the warm-up apart from each measured window and groups what came after it", async () => {
    let emit = () => {};
    let loads = 0;
    const start = async (_arm, onLine) => {
      emit = onLine;
      return { url: new URL("http://127.0.0.1/"), close: async () => {} };
    };
    // Load 0 is the warm-up (two bailouts), then windows 1..3 with one, none and one.
    const perLoad = [[EAGER, EAGER], [EAGER], [], [ANONYMOUS]];
    const load = async () => {
      for (const line of perLoad[loads] ?? []) emit(line);
      loads++;
      return { requests: 100 };
    };
    const out = await traceDeopts([{ id: "hot" }], start, load, { warmupS: 1, windowS: 1, windows: 3 });
    assert.deepEqual(out.hot, {
      warmup: 2,
      windows: [1, 0, 1],
      requests: 300,
      after_warmup: [
        { fn: "dispatch", reason: "wrong map", count: 1 },
        { fn: "(anonymous)", reason: "(unknown)", count: 1 },
      ],
    });
  });
});
