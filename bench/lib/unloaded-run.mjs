// Child process of bench/lib/load.mjs: requests one at a time on one keep-alive connection, for the
// added latency of an unloaded request.
//   node bench/lib/unloaded-run.mjs '{"url", "headers", "seconds", "expectStatus", "maxRequests"}'
// Prints { requests, p50_us, p99_us, bad_status } as JSON (microseconds, client-side wall time).

import http from "node:http";

const { url, headers, seconds, expectStatus, maxRequests } = JSON.parse(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function once() {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.get(url, { agent, headers, timeout: 5000 }, (res) => {
      res.resume();
      res.on("end", () => resolve({ us: Number(process.hrtime.bigint() - started) / 1000, status: res.statusCode }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

const samples = [];
let badStatus = 0;
// Warm the connection (and the isolate) first; not counted.
for (let i = 0; i < 200; i++) await once();
const end = Date.now() + seconds * 1000;
while (Date.now() < end && samples.length < maxRequests) {
  const { us, status } = await once();
  samples.push(us);
  if (status !== expectStatus) badStatus++;
}
agent.destroy();
samples.sort((a, b) => a - b);
const at = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0;
process.stdout.write(
  `${JSON.stringify({ requests: samples.length, p50_us: Math.round(at(0.5)), p99_us: Math.round(at(0.99)), bad_status: badStatus })}\n`,
);
