// The bench's upstream origin: a node:http server on 127.0.0.1 answering every request with the
// same small JSON body (keep-alive on). Run as its own process so it never shares an event loop
// with the load generator:
//
//   node bench/lib/origin.mjs            prints {"port": <n>} on stdout once listening; SIGTERM stops it
//
// The body names no request data, so every arm moves the same bytes.

import http from "node:http";
import { pathToFileURL } from "node:url";

/** The fixed response body (bytes). */
export const ORIGIN_BODY = Buffer.from(`${JSON.stringify({ ok: true, object: "list", data: [{ id: "ch_bench", amount: 1200 }] })}\n`);

/** Starts the origin on 127.0.0.1:`port` (0: any free port). @returns {Promise<http.Server>} */
export function startOrigin(port = 0) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": ORIGIN_BODY.length,
        "cache-control": "no-store",
      });
      res.end(ORIGIN_BODY);
    });
  });
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await startOrigin(0);
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  const stop = () => server.close(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // The parent going away (its stdin closes) ends the origin too.
  process.stdin.resume();
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("error", () => process.exit(0));
}
