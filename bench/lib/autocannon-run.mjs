// Child process of bench/lib/load.mjs: one autocannon run (the fallback when wrk is not installed).
//   node bench/lib/autocannon-run.mjs '{"url": "...", "headers": {...}, "connections": 32, "seconds": 5}'
// Prints { requests, rps, p50_us, p99_us, non2xx, socket_errors } as JSON.

import autocannon from "autocannon";

const { url, headers, connections, seconds } = JSON.parse(process.argv[2]);
const result = await autocannon({ url, headers, connections, duration: seconds, timeout: 5 });
// autocannon reports latency in milliseconds.
process.stdout.write(
  `${JSON.stringify({
    requests: result.requests.total,
    rps: result.requests.total / (result.duration || seconds),
    p50_us: Math.round(result.latency.p50 * 1000),
    p99_us: Math.round(result.latency.p99 * 1000),
    non2xx: result.non2xx,
    socket_errors: result.errors + result.timeouts,
  })}\n`,
);
