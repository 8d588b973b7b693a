// Local demo upstreams for `npm start`: one tiny HTTP server per API version, each echoing the
// request it received as JSON, so you can see exactly what the edge authorizer forwards
// (headers added and removed, path, query, body).
//
// Standalone: `node scripts/demo-origin.mjs` (listens on 127.0.0.1:8700-8703, Ctrl-C stops).
// From scripts/start.mjs: `startDemoOrigins()` in-process.
//
// No dependencies beyond node: builtins.

import http from "node:http";
import { pathToFileURL } from "node:url";

/** The demo origins: port → the API version it serves. Mirrors API_VERSIONS in .dev.vars (scripts/start.mjs). */
export const DEMO_ORIGINS = [
  { version: "2023-08-01", port: 8700 },
  { version: "2024-06-01", port: 8701 },
  { version: "2024-11-15", port: 8702 },
  { version: "2025-03-01", port: 8703 },
];

export const DEMO_HOST = "127.0.0.1";

/** Bytes of the request body echoed back as text; the rest is only counted. */
const BODY_ECHO_BYTES = 2048;

/**
 * Seam for the signed identity assertion (DESIGN §6). Called for every request before it is
 * answered; returning a response object refuses the request with it, returning null lets it through.
 *
 * Today it accepts everything. The issue that makes origins verify the assertion replaces this with
 * a jose `jwtVerify` against `createRemoteJWKSet(<authorizer JWKS URL>)`, checking `aud` (this
 * origin), the method/path binding and the expiry, and answering 401 when any of that fails.
 *
 * @param {http.IncomingMessage} _req
 * @param {{ version: string, port: number }} _origin
 * @returns {Promise<{ status: number, body: unknown } | null>}
 */
async function verifyAssertion(_req, _origin) {
  return null;
}

/** Received headers as a plain object, names lower-cased; a header sent on several lines keeps every value (array). */
function headersObject(req) {
  const out = {};
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    if (name in out) out[name] = Array.isArray(out[name]) ? [...out[name], value] : [out[name], value];
    else out[name] = value;
  }
  return out;
}

/** Splits the request target as received into the raw path and the raw query (text after the first `?`). */
function splitTarget(target) {
  const q = target.indexOf("?");
  return q < 0 ? { path: target, query: "" } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

function send(res, status, body) {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}

function handler(origin, log) {
  return async (req, res) => {
    const chunks = [];
    let kept = 0;
    let bodyBytes = 0;
    try {
      for await (const chunk of req) {
        bodyBytes += chunk.length;
        if (kept < BODY_ECHO_BYTES) {
          const part = chunk.subarray(0, BODY_ECHO_BYTES - kept);
          chunks.push(part);
          kept += part.length;
        }
      }
    } catch {
      // client went away mid-body: nothing to answer
      return;
    }
    const refusal = await verifyAssertion(req, origin);
    if (refusal) {
      send(res, refusal.status, refusal.body);
      log(`${req.method} ${req.url} → ${refusal.status} (assertion refused)`);
      return;
    }
    // Both exactly as received: not decoded, not normalised.
    const { path, query } = splitTarget(req.url ?? "");
    send(res, 200, {
      origin: `${origin.version} demo origin`,
      version_served: origin.version,
      method: req.method,
      path,
      query,
      headers: headersObject(req),
      body_bytes: bodyBytes,
      body: Buffer.concat(chunks).toString("utf8"),
    });
    log(`${req.method} ${req.url} → 200`);
  };
}

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    const onError = (err) => {
      server.off("listening", onListening);
      if (err.code === "EADDRINUSE") reject(new Error(`port ${port} is already in use (demo origin on ${host}:${port})`));
      else if (err.code === "EACCES") reject(new Error(`not allowed to listen on ${host}:${port} (${err.message})`));
      else reject(new Error(`demo origin on ${host}:${port} failed to start: ${err.message}`));
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}

/**
 * Starts every demo origin.
 * @param {{ host?: string, origins?: { version: string, port: number }[], log?: (line: string) => void }} [options]
 *        `log` receives one line per request, already naming the origin
 * @returns {Promise<{ servers: http.Server[], close: () => Promise<void> }>} rejects (after closing
 *          whatever did start) when a port cannot be bound; the message names the port
 */
export async function startDemoOrigins({ host = DEMO_HOST, origins = DEMO_ORIGINS, log = () => {} } = {}) {
  const servers = [];
  const close = () =>
    Promise.all(
      servers.map(
        (server) =>
          new Promise((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    ).then(() => undefined);
  try {
    for (const origin of origins) {
      const server = http.createServer(handler(origin, (line) => log(`[origin ${origin.version}] ${line}`)));
      // HTTP keep-alive is on by default; keep idle connections longer than typical client pools do.
      server.keepAliveTimeout = 65_000;
      await listen(server, origin.port, host);
      servers.push(server);
      server.on("error", (err) => log(`[origin ${origin.version}] error: ${err.message}`));
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { servers, close };
}

// Standalone: node scripts/demo-origin.mjs
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const { close } = await startDemoOrigins({ log: (line) => console.log(line) });
    for (const { version, port } of DEMO_ORIGINS) console.log(`demo origin ${version} on http://${DEMO_HOST}:${port}`);
    const stop = () => {
      close().then(() => process.exit(0));
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  } catch (err) {
    console.error(`demo-origin: ${err.message}`);
    process.exit(1);
  }
}
