// The admin API client shared by the CLI (bin/spot-keys.mjs) and `npm start` (scripts/start.mjs),
// so the demo key is made through exactly the path an operator uses. Plain ESM on Node ≥ 20
// (`npx spot-keys` runs with whatever Node is on PATH); jose for the local dev admin key.
//
// Local dev admin key: `npm start` generates an ES256 key pair on first start. The public JWK goes
// into .dev.vars (ADMIN_JWKS, which the Worker trusts locally); the private one is kept only in
// .wrangler/admin-dev-key.json (git-ignored), from which the CLI mints short-lived dev tokens.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT } from "jose";

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
export const DEV_ADMIN_KEY_FILE = join(ROOT, ".wrangler", "admin-dev-key.json");
/** Issuer and audience of local dev admin tokens (written into .dev.vars by npm start). */
export const DEV_ISSUER = "spot-keys-dev";
export const DEV_AUDIENCE = "spot-admin-local";
export const DEV_ALGORITHM = "ES256";
export const ADMIN_PATH = "/__spot/admin/v1";
export const WRITE_PERMISSION = "keys:write";
export const READ_PERMISSION = "keys:read";

/**
 * Where `npm start` last ran the Worker in this checkout (written at every start, kept after it stops):
 * `npm start -- --port N` moves it off wrangler.toml's [dev] port, and the CLI follows it there.
 */
export const LOCAL_SERVER_FILE = join(ROOT, ".wrangler", "dev-server.json");

/** Records the Worker's local address for {@link localBaseUrl} (called by npm start once it answers). */
export function writeLocalServer(url) {
  mkdirSync(dirname(LOCAL_SERVER_FILE), { recursive: true });
  const note = "The address of the last `npm start` of this checkout; npx spot-keys uses it unless SPOT_ADMIN_URL is set.";
  writeFileSync(LOCAL_SERVER_FILE, `${JSON.stringify({ note, url, started_at: new Date().toISOString() }, null, 2)}\n`);
}

/**
 * The local dev server's address: the one the last `npm start` of this checkout recorded
 * (.wrangler/dev-server.json, so `--port N` is followed), else wrangler.toml [dev] (ip, port); default
 * 127.0.0.1:8787.
 */
export function localBaseUrl() {
  try {
    const { url } = JSON.parse(readFileSync(LOCAL_SERVER_FILE, "utf8"));
    if (typeof url === "string" && isLocalUrl(url)) return url;
  } catch {
    // no start recorded: wrangler.toml
  }
  let ip = "127.0.0.1";
  let port = "8787";
  try {
    const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
    const dev = /^\[dev\]\s*$([\s\S]*?)(?=^\[)/m.exec(toml)?.[1] ?? "";
    ip = /^\s*ip\s*=\s*"([^"]+)"/m.exec(dev)?.[1] ?? ip;
    port = /^\s*port\s*=\s*(\d+)/m.exec(dev)?.[1] ?? port;
  } catch {
    // defaults
  }
  return `http://${ip}:${port}`;
}

/** True for a base URL on this machine (the only place a dev token is ever minted for). */
export function isLocalUrl(url) {
  try {
    const host = new URL(url).hostname;
    return host === "localhost" || host === "[::1]" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
  } catch {
    return false;
  }
}

/**
 * A new dev admin key pair. @returns {{ privateFile: object, publicJwk: object }} the content of
 * DEV_ADMIN_KEY_FILE and the public JWK for ADMIN_JWKS
 */
export async function generateDevAdminKey() {
  const { publicKey, privateKey } = await generateKeyPair(DEV_ALGORITHM, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = `dev-${(await calculateJwkThumbprint(publicJwk)).slice(0, 16)}`;
  return {
    privateFile: {
      note: "Local dev admin signing key made by `npm start`. Only for the local dev server; never commit or deploy it.",
      kid,
      alg: DEV_ALGORITHM,
      issuer: DEV_ISSUER,
      audience: DEV_AUDIENCE,
      private_jwk: { ...(await exportJWK(privateKey)), kid, alg: DEV_ALGORITHM },
    },
    publicJwk: { ...publicJwk, kid, alg: DEV_ALGORITHM, use: "sig" },
  };
}

/** @returns the dev admin key file's content, or null when it is missing or unreadable */
export function readDevAdminKey() {
  if (!existsSync(DEV_ADMIN_KEY_FILE)) return null;
  try {
    const file = JSON.parse(readFileSync(DEV_ADMIN_KEY_FILE, "utf8"));
    if (typeof file.kid === "string" && file.private_jwk?.d && file.issuer && file.audience) return file;
  } catch {
    // unreadable
  }
  return null;
}

/**
 * Mints a dev admin token from the local dev key.
 * @param {{ readOnly?: boolean, ttlSeconds?: number, sub?: string }} options
 * @throws Error when there is no dev key (npm start makes it)
 */
export async function mintDevToken(options = {}) {
  const file = readDevAdminKey();
  if (file === null)
    throw new Error("no local dev admin key (.wrangler/admin-dev-key.json): run `npm start` once, or set SPOT_ADMIN_TOKEN");
  const key = await importJWK(file.private_jwk, file.alg);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ permissions: options.readOnly ? [READ_PERMISSION] : [READ_PERMISSION, WRITE_PERMISSION] })
    .setProtectedHeader({ alg: file.alg, kid: file.kid, typ: "JWT" })
    .setIssuer(file.issuer)
    .setAudience(file.audience)
    .setSubject(options.sub ?? `${process.env.USER || "developer"}@localhost`)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.ttlSeconds ?? 600))
    .sign(key);
}

/**
 * A failure talking to the admin API: `kind` is "network" (no answer) or "http" (an error answer).
 * `retryAfter`: the seconds of the answer's `Retry-After` (delta-seconds form), or null.
 */
export class AdminApiError extends Error {
  constructor(message, { kind, status = null, code = null, requestId = null, param = null, body = null, retryAfter = null }) {
    super(message);
    this.name = "AdminApiError";
    this.kind = kind;
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.param = param;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

/**
 * Headers for Cloudflare Access in front of the admin API, from the environment:
 * - SPOT_ACCESS_CLIENT_ID and SPOT_ACCESS_CLIENT_SECRET (both or neither): an Access service token,
 *   sent as CF-Access-Client-Id / CF-Access-Client-Secret; Access then adds its own JWT
 *   (Cf-Access-Jwt-Assertion) to the request, so no admin token is needed;
 * - else an admin token from the environment (`cloudflared access token`) is also sent as
 *   `cf-access-token`, the header Access reads; the authorizer reads Authorization.
 * @param {NodeJS.ProcessEnv} env
 * @param {string | null} envToken SPOT_ADMIN_TOKEN when set, else null
 * @returns {Record<string, string>}
 * @throws Error when only one of the two service-token variables is set
 */
export function accessHeaders(env, envToken) {
  const id = env.SPOT_ACCESS_CLIENT_ID?.trim() ?? "";
  const secret = env.SPOT_ACCESS_CLIENT_SECRET?.trim() ?? "";
  if ((id === "") !== (secret === "")) throw new Error("set both SPOT_ACCESS_CLIENT_ID and SPOT_ACCESS_CLIENT_SECRET, or neither");
  if (id !== "") return { "CF-Access-Client-Id": id, "CF-Access-Client-Secret": secret };
  return envToken ? { "cf-access-token": envToken } : {};
}

/**
 * Calls the admin API.
 * @param {{ baseUrl: string, token: string | null, method: string, path: string, body?: unknown, timeoutMs?: number, headers?: Record<string, string> }} request
 *        `path` relative to /__spot/admin/v1 (e.g. `/accounts/acct_42/keys`); `token` null: no
 *        Authorization (behind Access with a service token); `headers`: more headers (accessHeaders)
 * @returns {Promise<{ status: number, body: any, requestId: string | null }>} on 2xx
 * @throws AdminApiError on a network failure or a non-2xx answer
 */
export async function adminRequest({ baseUrl, token, method, path, body, timeoutMs = 15_000, headers = {} }) {
  const url = `${baseUrl.replace(/\/+$/, "")}${ADMIN_PATH}${path}`;
  let res;
  try {
    res = await fetch(url, {
      method,
      headers: {
        ...headers,
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        "User-Agent": "spot-keys/1",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "manual",
    });
  } catch (err) {
    const cause = err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(err);
    throw new AdminApiError(`cannot reach the admin API at ${baseUrl} (${cause})`, { kind: "network" });
  }
  const requestId = res.headers.get("x-request-id");
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text === "" ? null : JSON.parse(text);
  } catch {
    parsed = null;
  }
  if (res.ok) return { status: res.status, body: parsed, requestId };
  const error = parsed?.error;
  throw new AdminApiError(error?.message ?? `HTTP ${res.status} from ${url}`, {
    kind: "http",
    status: res.status,
    code: error?.code ?? null,
    requestId: error?.request_id ?? requestId,
    param: error?.param ?? null,
    body: parsed,
    retryAfter: /^\d+$/.test(res.headers.get("retry-after") ?? "") ? Number(res.headers.get("retry-after")) : null,
  });
}
