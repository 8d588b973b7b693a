// `npm run bench -- --lean --deopts`: how often V8 throws away optimized code of a Worker under load
// (issue 16: processes that settled in a slow mode showed repeated deoptimizations of the same
// functions, and V8's optimizing compiler running at steady state). Each arm gets a fresh workerd
// process with `--trace-deopt`; its warm-up and then each measured window are counted separately, so
// the deoptimizations a process needs while it learns the code's types are not mixed with the ones
// that keep coming once it should have settled.

/** One `[bailout (kind: …, reason: …): begin. deoptimizing <JSFunction name (sfi = …)>` line of V8's trace. */
const BAILOUT = /^\[bailout \(kind: ([^,]+), reason: (.*?)\): begin\. deoptimizing 0x[0-9a-f]+ <JSFunction (.*?) ?\(sfi = /;

/**
 * Parses one line of `--trace-deopt` output.
 * @param {string} line
 * @returns {{ kind: string, reason: string, fn: string } | null} null for any other line
 */
export function parseBailout(line) {
  const m = BAILOUT.exec(line);
  return m === null ? null : { kind: m[1], reason: m[2], fn: m[3] === "" ? "(anonymous)" : m[3] };
}

/**
 * Runs each arm on a fresh traced process: `warmupS` seconds of load, then `windows` windows of
 * `windowS` seconds, counting bailouts in each.
 * @param {{ id: string }[]} arms the arms to trace, in order
 * @param {(arm: { id: string }, onLine: (line: string) => void) => Promise<{ url: URL, close: () => Promise<void> }>} start
 *        starts a fresh process for the arm with `--trace-deopt`, passing each output line to `onLine`
 * @param {(arm: { id: string }, url: URL, seconds: number) => Promise<{ requests: number }>} load
 * @returns {Promise<Record<string, { warmup: number, windows: number[], requests: number,
 *           after_warmup: { fn: string, reason: string, count: number }[] }>>} bailouts during the
 *          warm-up, per measured window, the requests of the measured windows, and the bailouts after
 *          the warm-up by function and reason (most frequent first)
 */
export async function traceDeopts(arms, start, load, { warmupS, windowS, windows }) {
  const out = {};
  for (const arm of arms) {
    let phase = "warmup";
    const seen = { warmup: [], measured: [] };
    const target = await start(arm, (line) => {
      const bailout = parseBailout(line);
      if (bailout !== null) seen[phase].push(bailout);
    });
    try {
      await load(arm, target.url, warmupS);
      phase = "measured";
      const counts = [];
      let requests = 0;
      for (let w = 0; w < windows; w++) {
        const before = seen.measured.length;
        requests += (await load(arm, target.url, windowS)).requests;
        counts.push(seen.measured.length - before);
      }
      const byFn = new Map();
      for (const { fn, reason } of seen.measured) {
        const key = `${fn}\u0000${reason}`;
        byFn.set(key, (byFn.get(key) ?? 0) + 1);
      }
      out[arm.id] = {
        warmup: seen.warmup.length,
        windows: counts,
        requests,
        after_warmup: [...byFn]
          .map(([key, count]) => {
            const [fn, reason] = key.split("\u0000");
            return { fn, reason, count };
          })
          .sort((a, b) => b.count - a.count),
      };
    } finally {
      await target.close();
    }
  }
  return out;
}
