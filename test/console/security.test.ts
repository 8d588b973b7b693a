/**
 * The console's safety rules (docs/console.md "Security") through the Worker's fetch handler:
 * the headers of every answer, no inline script or style, the API-key refusal of the admin API,
 * the sign-in (Access header, local sign-in only when enabled and from this machine), and escaping.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CONTENT_SECURITY_POLICY } from "../../src/console/security";
import { adminCall, adminToken, createKey, errorOf } from "../helpers/admin";
import { CONSOLE, consoleGet } from "../helpers/console";
import { authHeaders } from "../helpers/fixtures";

const EXPECTED_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
  "referrer-policy": "same-origin",
  "x-content-type-options": "nosniff",
};

function expectSecurityHeaders(res: Response, where: string): void {
  for (const [name, value] of Object.entries(EXPECTED_HEADERS)) expect(res.headers.get(name), `${name} on ${where}`).toBe(value);
}

/** No inline script, no inline event handler, no inline style: what the CSP would block anyway. */
function expectNoInlineCode(html: string, where: string): void {
  for (const tag of html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)) {
    expect(tag[0], `script on ${where}`).toMatch(/\ssrc="\/__spot\/console\/assets\/console\.js"/);
    expect(tag[1], `inline script on ${where}`).toBe("");
  }
  expect(html, `event handler on ${where}`).not.toMatch(/<[^>]+\son[a-z]+\s*=/i);
  expect(html, `style attribute on ${where}`).not.toMatch(/<[^>]+\sstyle\s*=/i);
  expect(html, `<style> on ${where}`).not.toMatch(/<style\b/i);
}

describe("every console answer", () => {
  it("carries the security headers and no inline code, on every screen, refusal and asset", async () => {
    expect(CONTENT_SECURITY_POLICY).toBe(EXPECTED_HEADERS["content-security-policy"]);
    const { keyId } = await createKey("acct_sechdr", { label: "headers" });
    const pages = [
      "",
      "/",
      "/accounts/acct_sechdr/keys",
      "/accounts/acct_nokeys/keys",
      `/accounts/acct_sechdr/keys/${keyId}/edit`,
      `/accounts/acct_sechdr/keys/${keyId}/revoke`,
      "/audit",
      "/audit?account_id=acct_sechdr",
      "/no-such-page",
      "/sign-in?token=x",
    ];
    for (const page of pages) {
      const { res, html } = await consoleGet(page);
      expectSecurityHeaders(res, page);
      expect(res.headers.get("content-type"), page).toMatch(/^text\/html/);
      expectNoInlineCode(html, page);
    }
    const unsigned = await consoleGet("/", { token: null });
    expect(unsigned.res.status).toBe(401);
    expectSecurityHeaders(unsigned.res, "401");
    for (const [asset, type] of [
      ["/assets/console.css", "text/css"],
      ["/assets/console.js", "text/javascript"],
    ] as const) {
      const { res, html } = await consoleGet(asset, { token: null });
      expect(res.status, asset).toBe(200);
      expect(res.headers.get("content-type")).toContain(type);
      expect(html.length).toBeGreaterThan(100);
      expectSecurityHeaders(res, asset);
    }
  });

  it("refuses API-key headers exactly as the admin API does, whatever else the request carries", async () => {
    const admin = await adminCall("GET", "/accounts/acct_x/keys", { headers: authHeaders() });
    for (const headers of [authHeaders(), { "X-Spot-Api-Key": "acct_x" }, { "X-Spot-Api-Secret": "sk_live_abcd" }]) {
      for (const path of ["/", "/accounts/acct_x/keys", "/audit", "/assets/console.css", "/sign-in?token=x"]) {
        const { res, body } = await consoleGet(path, { headers });
        expect(res.status, path).toBe(401);
        expect(errorOf(body).code).toBe("api_key_not_accepted");
        expect(errorOf(body).message).toBe(errorOf(admin.body).message);
        expect(res.headers.get("www-authenticate")).toBe(admin.res.headers.get("www-authenticate"));
        expectSecurityHeaders(res, path);
      }
    }
  });
});

describe("sign-in", () => {
  it("accepts a valid Access token and names who is signed in", async () => {
    const { res, html } = await consoleGet("/", { token: await adminToken({ claims: { email: "ana@spot-thought.test" } }) });
    expect(res.status).toBe(200);
    expect(html).toContain('data-testid="open-account-form"');
    expect(html).toContain("ana@spot-thought.test");
  });

  it("refuses no token, a bad token and an expired one, with a page saying so", async () => {
    const other = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const cases: Array<[string | null, number, RegExp]> = [
      [null, 401, /needs a sign-in/],
      ["not-a-jwt", 401, /refused/],
      [await adminToken({ expiresIn: -120 }), 401, /expired/],
      [await adminToken({ audience: "someone-else" }), 401, /&quot;aud&quot; claim/],
      [await adminToken({ key: { key: other.privateKey, alg: "ES256", kid: "test-admin" } }), 401, /signature/],
    ];
    for (const [token, status, message] of cases) {
      const { res, html } = await consoleGet("/accounts/acct_1/keys", { token });
      expect(res.status).toBe(status);
      expect(html).toMatch(message);
      expect(html).not.toContain("keys-table");
    }
  });

  it("local sign-in is never switched on by wrangler.toml (production vars)", () => {
    const { vars } = JSON.parse(env.TEST_WRANGLER_LIMITS) as { vars: Record<string, unknown> };
    expect(vars).toHaveProperty("ADMIN_JWT_ISSUER");
    expect(vars).not.toHaveProperty("CONSOLE_LOCAL_SIGN_IN");
  });

  it("local sign-in: off unless CONSOLE_LOCAL_SIGN_IN is true, loopback only, the token verified", async () => {
    const token = await adminToken();
    const on = { bindings: { CONSOLE_LOCAL_SIGN_IN: "true" } };
    // Off (the default, as in production).
    const off = await consoleGet(`/sign-in?token=${token}`, { token: null });
    expect(off.res.status).toBe(403);
    expect(off.html).toContain("local sign-in is off");
    expect(off.res.headers.get("set-cookie")).toBeNull();
    // On, but from another machine.
    const remote = await consoleGet(`/sign-in?token=${token}`, { token: null, call: on, headers: { "CF-Connecting-IP": "203.0.113.9" } });
    expect(remote.res.status).toBe(403);
    expect(remote.res.headers.get("set-cookie")).toBeNull();
    // On, loopback, a bad token.
    const bad = await consoleGet(`/sign-in?token=${await adminToken({ issuer: "https://evil.test" })}`, {
      token: null,
      call: on,
      headers: { "CF-Connecting-IP": "127.0.0.1" },
    });
    expect(bad.res.status).toBe(401);
    expect(bad.res.headers.get("set-cookie")).toBeNull();
    // On, loopback (127.0.0.1, ::1 or no CF-Connecting-IP), a good token: cookie + redirect.
    for (const headers of [{ "CF-Connecting-IP": "127.0.0.1" }, { "CF-Connecting-IP": "::1" }, {}] as Array<Record<string, string>>) {
      const ok = await consoleGet(`/sign-in?token=${token}`, { token: null, call: on, headers });
      expect(ok.res.status).toBe(303);
      expect(ok.res.headers.get("location")).toBe(`${CONSOLE}/`);
      const cookie = ok.res.headers.get("set-cookie") ?? "";
      expect(cookie).toMatch(/^spot_console_session=[^;]+;/);
      expect(cookie).toContain("HttpOnly");
      expect(cookie).toContain("SameSite=Strict");
      expect(cookie).toContain("Path=/__spot/console");
      expect(cookie).toMatch(/Max-Age=\d+/);
      expectSecurityHeaders(ok.res, "sign-in redirect");
    }
    // The cookie signs in while local sign-in is on, and is ignored when it is off.
    const cookie = { Cookie: `spot_console_session=${token}` };
    expect((await consoleGet("/", { token: null, call: on, headers: cookie })).res.status).toBe(200);
    expect((await consoleGet("/", { token: null, headers: cookie })).res.status).toBe(401);
  });
});

describe("escaping", () => {
  it("renders a hostile label as text on every page that shows it", async () => {
    const hostile = `<img src=x onerror=alert(1)>"'&`;
    const { keyId } = await createKey("acct_hostile", { label: hostile });
    for (const path of [
      "/accounts/acct_hostile/keys",
      `/accounts/acct_hostile/keys/${keyId}/revoke`,
      `/accounts/acct_hostile/keys/${keyId}/edit`,
    ]) {
      const { res, html } = await consoleGet(path);
      expect(res.status, path).toBe(200);
      expect(html, path).not.toContain("<img");
      expect(html, path).toContain("&lt;img src=x onerror=alert(1)&gt;");
    }
    // An account id from the URL is escaped too.
    const { html } = await consoleGet(`/accounts/${encodeURIComponent("<b>x</b>")}/keys`);
    expect(html).not.toContain("<b>x</b>");
  });
});
