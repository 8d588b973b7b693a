/**
 * The console's safety rules (docs/console.md "Security"): the response headers of every console
 * answer, and the two checks every state-changing request (POST) must pass: same origin, and a CSRF
 * token bound to the signed-in token.
 */
import { createMiddleware } from "hono/factory";

/** No inline script or style anywhere; only the Worker's own CSS and JS; forms post only to the console. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** The headers every console response carries (pages, assets, refusals, the sign-in redirect). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "X-Frame-Options": "DENY",
  "Cache-Control": "no-store",
  // Not "no-referrer": with it a browser sends `Origin: null` on the console's own form posts (Fetch
  // standard, "serializing a request origin"), and the same-origin check below could not pass. The
  // URL never leaves the console: other origins get no referrer at all.
  "Referrer-Policy": "same-origin",
  "X-Content-Type-Options": "nosniff",
};

/** Stamps {@link SECURITY_HEADERS} on the way out, whatever answered (handler, refusal or error). */
export const securityHeaders = createMiddleware(async (c, next) => {
  await next();
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
});

/**
 * Same-origin check of a state-changing request: `Origin` must equal the request's own origin; without
 * `Origin`, `Sec-Fetch-Site` must say `same-origin`. Neither header: refused (every current browser
 * sends at least one on a form POST).
 * @returns null when it passes, else the reason (for the 403 page)
 */
export function crossOriginProblem(request: Request): string | null {
  const origin = request.headers.get("origin");
  const own = new URL(request.url).origin;
  if (origin !== null) return origin === own ? null : `the request came from another origin (${origin.slice(0, 200)})`;
  const site = request.headers.get("sec-fetch-site");
  if (site === null) return "the request carries neither Origin nor Sec-Fetch-Site, so it cannot be shown to come from this console";
  return site === "same-origin" ? null : `the request came from another site (Sec-Fetch-Site: ${site.slice(0, 40)})`;
}

// ---------------------------------------------------------------------------------------------
// CSRF token: HMAC-SHA-256 over the signed-in token's `sub` and the SHA-256 of the token itself,
// keyed by a key derived (HKDF-SHA-256) from SECRET_HASH_KEY with a label of its own, so it is
// independent of the secret hashes made with that key and needs no new secret. A token is valid for
// as long as the sign-in token it was made for; a page of another session (or another user) cannot
// be replayed, and an attacker without the signed-in token cannot compute one.

const CSRF_KEY_INFO = "spot-thought console csrf v1";
const utf8 = new TextEncoder();
let cachedKey: { source: string; key: Promise<CryptoKey> } | null = null;

/** The CSRF HMAC key, derived once per isolate (again only when SECRET_HASH_KEY changes). */
function csrfKey(hashKeyBase64: string | undefined): Promise<CryptoKey> {
  if (cachedKey && cachedKey.source === hashKeyBase64) return cachedKey.key;
  if (!hashKeyBase64) throw new Error("SECRET_HASH_KEY is not set");
  const raw = Uint8Array.from(atob(hashKeyBase64.trim()), (ch) => ch.charCodeAt(0));
  const key = crypto.subtle
    .importKey("raw", raw, "HKDF", false, ["deriveKey"])
    .then((ikm) =>
      crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: utf8.encode("spot-thought console"), info: utf8.encode(CSRF_KEY_INFO) },
        ikm,
        { name: "HMAC", hash: "SHA-256", length: 256 },
        false,
        ["sign", "verify"],
      ),
    );
  cachedKey = { source: hashKeyBase64, key };
  return key;
}

async function csrfMessage(sub: string, sessionToken: string): Promise<Uint8Array> {
  const tokenHash = new Uint8Array(await crypto.subtle.digest("SHA-256", utf8.encode(sessionToken)));
  return utf8.encode(`${sub}\n${toBase64Url(tokenHash)}`);
}

function toBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]{43}$/.test(text)) return null;
  const b64 = `${text.replaceAll("-", "+").replaceAll("_", "/")}=`;
  return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
}

/** The CSRF token of the forms of a page shown to this session. @throws when SECRET_HASH_KEY is unusable */
export async function csrfToken(env: Env, sub: string, sessionToken: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await csrfKey(env.SECRET_HASH_KEY), await csrfMessage(sub, sessionToken));
  return toBase64Url(new Uint8Array(mac));
}

/** True when `sent` is the CSRF token of this session (compared by crypto.subtle.verify, in constant time). */
export async function csrfTokenValid(env: Env, sub: string, sessionToken: string, sent: string | undefined): Promise<boolean> {
  const mac = sent === undefined ? null : fromBase64Url(sent);
  if (mac === null) return false;
  return crypto.subtle.verify("HMAC", await csrfKey(env.SECRET_HASH_KEY), mac, await csrfMessage(sub, sessionToken));
}
