// Local demo upstreams for `npm start`: one tiny HTTP server per API version. Each verifies the
// signed identity assertion (X-Spot-Assertion) with the origin-side example
// (examples/verify-assertion.mjs, against the authorizer's JWKS) and echoes the request it received
// as JSON with the verified claims, so you can see exactly what the edge authorizer forwards
// (headers added and removed, path, query, body) and what an origin can prove about it. A request
// without a valid assertion (e.g. a curl straight to a demo origin) gets 401.
//
// Standalone: `node scripts/demo-origin.mjs` (listens on 127.0.0.1:8700-8704 and reads the JWKS of
// the authorizer at http://127.0.0.1:8787; Ctrl-C stops). From scripts/start.mjs (scripts/start/demo-origins.mjs):
// `startDemoOrigins()` in-process, on the ports that follow `npm start -- --port N` (N-87…N-83).
//
// Dependencies: node: builtins and jose (through the example verifier).

import http from "node:http";
import { pathToFileURL } from "node:url";
import { createAssertionVerifier, JWKS_PATH } from "../examples/verify-assertion.mjs";
import { DEFAULT_PORT, localPorts } from "./start/args.mjs";

/**
 * The demo origins of a Worker on the default port 8787: port → the API version it serves
 * (scripts/start/args.mjs localPorts; `npm start -- --port N` moves them to N-87…N-83). Mirrors
 * API_VERSIONS in .dev.vars; the last one is the sandbox (SANDBOX_ORIGIN) that test-mode keys reach
 * for every version.
 */
export const DEMO_ORIGINS = localPorts(DEFAULT_PORT).origins;
/** The demo sandbox origin (test-mode keys), as SANDBOX_ORIGIN names it. */
export const DEMO_SANDBOX = DEMO_ORIGINS.find((o) => o.version === "sandbox");

export const DEMO_HOST = "127.0.0.1";
/** Where the authorizer runs locally (wrangler.toml [dev]) and its issuer (wrangler.toml ASSERTION_ISSUER), for standalone runs. */
export const DEFAULT_AUTHORIZER_URL = `http://127.0.0.1:${DEFAULT_PORT}`;
export const DEFAULT_ISSUER = "https://api.spot-thought.com";

/** Bytes of the request body echoed back as text; the rest is only counted. */
const BODY_ECHO_BYTES = 2048;

/**
 * Verifies the request's signed identity assertion (docs/assertion.md) as a real origin would:
 * jose `jwtVerify` against the authorizer's JWKS, alg EdDSA pinned, `iss`, `aud` (this origin),
 * expiry and the method/path binding checked.
 *
 * @param {ReturnType<typeof createAssertionVerifier>} verifier
 * @param {http.IncomingMessage} req
 * @returns {Promise<{ ok: true, verified: { header: object, claims: object } } | { ok: false, status: number, reason: string, message: string }>}
 *          a refusal is 401, or 503 when the JWKS cannot be fetched
 */
async function verifyAssertion(verifier, req) {
  try {
    const verified = await verifier.verify({ method: req.method, target: req.url, assertion: req.headers["x-spot-assertion"] });
    return { ok: true, verified };
  } catch (err) {
    const reason = typeof err?.reason === "string" ? err.reason : "invalid";
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, status: reason === "jwks_unavailable" ? 503 : 401, reason, message };
  }
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

function handler(origin, verifier, log) {
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
    const result = await verifyAssertion(verifier, req);
    // A report-only cut-over (docs/operations.md "Cut-over runbook"): the authorizer forwards a request it
    // would refuse without an assertion, marked; the origin serves it as before, as anonymous, as real
    // origins must until enforcement is on. (The authorizer strips both headers from clients.)
    // A verified caller can be marked too: its key's policy would refuse it (e.g. ip_not_allowed), and
    // it is forwarded with its identity and assertion.
    const wouldRefuse = req.headers["x-spot-enforcement"] === "report-only" ? req.headers["x-spot-would-refuse"] : undefined;
    if (!result.ok && result.reason === "missing" && wouldRefuse) {
      const { path, query } = splitTarget(req.url ?? "");
      send(res, 200, {
        origin: `${origin.version} demo origin`,
        method: req.method,
        path,
        query,
        report_only: { would_refuse: wouldRefuse, caller: "not authenticated (no assertion)" },
        headers: headersObject(req),
        body_bytes: bodyBytes,
      });
      log(`${req.method} ${req.url} → 200 (report-only: would refuse ${wouldRefuse})`);
      return;
    }
    if (!result.ok) {
      send(res, result.status, { error: { code: "assertion_rejected", reason: result.reason, message: result.message } });
      log(`${req.method} ${req.url} → ${result.status} (assertion refused: ${result.reason})`);
      return;
    }
    // Both exactly as received: not decoded, not normalised.
    const { path, query } = splitTarget(req.url ?? "");
    send(res, 200, {
      origin: `${origin.version} demo origin`,
      version_served: origin.version === "sandbox" ? req.headers["x-spot-api-version"] : origin.version,
      method: req.method,
      path,
      query,
      ...(wouldRefuse
        ? { report_only: { would_refuse: wouldRefuse, caller: "verified (assertion below), refused by its key's policy" } }
        : {}),
      // What the origin can prove: checked signature (EdDSA, kid from the JWKS), iss, aud, exp, htm/htu.
      verified_assertion: { header: result.verified.header, claims: result.verified.claims },
      headers: headersObject(req),
      body_bytes: bodyBytes,
      body: Buffer.concat(chunks).toString("utf8"),
    });
    log(`${req.method} ${req.url} → 200${wouldRefuse ? ` (report-only: would refuse ${wouldRefuse})` : ""}`);
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
 * @param {{ host?: string, origins?: { version: string, port: number }[], log?: (line: string) => void,
 *           authorizerUrl?: string, issuer?: string }} [options]
 *        `log` receives one line per request, already naming the origin; `authorizerUrl` is where the
 *        JWKS is fetched from (its /.well-known/spot-authorizer/jwks.json), `issuer` the expected `iss`
 * @returns {Promise<{ servers: http.Server[], close: () => Promise<void> }>} rejects (after closing
 *          whatever did start) when a port cannot be bound; the message names the port
 */
export async function startDemoOrigins({
  host = DEMO_HOST,
  origins = DEMO_ORIGINS,
  log = () => {},
  authorizerUrl = DEFAULT_AUTHORIZER_URL,
  issuer = DEFAULT_ISSUER,
} = {}) {
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
      // The audience is this origin exactly as the version table names it (scripts/start.mjs).
      const verifier = createAssertionVerifier({
        jwksUrl: new URL(JWKS_PATH, authorizerUrl),
        issuer,
        audience: `http://${host}:${origin.port}`,
      });
      const server = http.createServer(handler(origin, verifier, (line) => log(`[origin ${origin.version}] ${line}`)));
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
    console.log(`verifying X-Spot-Assertion with the JWKS of ${DEFAULT_AUTHORIZER_URL} (issuer ${DEFAULT_ISSUER})`);
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
