/**
 * The key screens through the Worker's fetch handler: CSRF and same-origin on every POST; create shows
 * the secret in that one answer only (no later page, no log line, no admin event holds it); roll and
 * revoke; edit; each action recorded by the admin API's own admin event.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { csrfToken } from "../../src/console/security";
import { adminCall, adminToken, createKey } from "../helpers/admin";
import { consoleGet, consolePost, csrfOf, textOf } from "../helpers/console";

afterEach(() => vi.restoreAllMocks());

const token = await adminToken({ sub: "ops@spot-thought.test" });

describe("CSRF and same origin", () => {
  it("refuses a POST without the token, with a wrong token, from another origin or site; accepts one with both", async () => {
    const page = await consoleGet("/accounts/acct_csrf/keys", { token });
    const csrf = csrfOf(page.html);
    const path = "/accounts/acct_csrf/keys";
    const refusals: Array<[string, Parameters<typeof consolePost>[2], Record<string, string>]> = [
      ["no token", { token }, { mode: "live" }],
      ["wrong token", { token }, { mode: "live", csrf: `${csrf.slice(0, -2)}AA` }],
      [
        "token of another sign-in",
        { token },
        { mode: "live", csrf: csrfOf((await consoleGet(path, { token: await adminToken({ sub: "eve@x.test" }) })).html) },
      ],
      ["wrong Origin", { token, origin: "https://evil.example" }, { mode: "live", csrf }],
      ["no Origin, cross-site fetch", { token, origin: null, headers: { "Sec-Fetch-Site": "cross-site" } }, { mode: "live", csrf }],
      ["neither Origin nor Sec-Fetch-Site", { token, origin: null }, { mode: "live", csrf }],
    ];
    for (const [what, options, fields] of refusals) {
      const { res, html, adminEvents } = await consolePost(path, fields, options);
      expect(res.status, what).toBe(403);
      expect(html, what).toContain('data-testid="console-error"');
      expect(html, what).toMatch(/refused/);
      expect(adminEvents, `${what}: no admin API call`).toEqual([]);
    }
    const ok = await consolePost(path, { mode: "live", csrf }, { token });
    expect(ok.res.status).toBe(201);
    const viaFetchSite = await consolePost(
      path,
      { mode: "live", csrf },
      { token, origin: null, headers: { "Sec-Fetch-Site": "same-origin" } },
    );
    expect(viaFetchSite.res.status).toBe(201);
  });
});

describe("create", () => {
  it("shows the secret in that one answer only: not in later pages, logs or admin events", async () => {
    const logs = [
      vi.spyOn(console, "log"),
      vi.spyOn(console, "info"),
      vi.spyOn(console, "warn"),
      vi.spyOn(console, "error"),
      vi.spyOn(console, "debug"),
    ];
    // A datetime-local value (read as UTC), a year ahead.
    const expiresLocal = new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 16);
    const list = await consoleGet("/accounts/acct_once/keys", { token });
    expect(list.res.status).toBe(404);
    expect(list.html).toContain('data-testid="create-key-form"');
    const created = await consolePost(
      "/accounts/acct_once/keys",
      {
        mode: "test",
        label: "billing",
        expires_at: expiresLocal,
        ip_allowlist: "203.0.113.0/24\n2001:db8::/32",
        rate_limit_per_minute: "600",
        csrf: csrfOf(list.html),
      },
      { token },
    );
    expect(created.res.status).toBe(201);
    expect(created.res.headers.get("cache-control")).toBe("no-store");
    const secret = textOf(created.html, "new-secret");
    expect(secret).toMatch(/^sk_test_[A-Za-z0-9]+$/);
    expect(created.html).toContain('id="copy-secret"');
    expect(created.html).toContain("Store this secret now: it is shown only this once");
    const keyId = textOf(created.html, "new-key-id") as string;

    // The admin API did it: its own event, with the console's actor; the key as asked.
    expect(created.adminEvents).toHaveLength(1);
    expect(created.adminEvents[0]).toMatchObject({
      action: "key.create",
      outcome: "allowed",
      actor_sub: "ops@spot-thought.test",
      key_id: keyId,
    });
    const shown = await adminCall("GET", `/accounts/acct_once/keys/${keyId}`);
    expect(shown.body).toMatchObject({
      key: {
        mode: "test",
        label: "billing",
        expires_at: `${expiresLocal}:00.000Z`,
        policy: { ip_allowlist: ["203.0.113.0/24", "2001:db8::/32"], rate_limit_per_minute: 600 },
      },
    });

    // Nowhere else.
    const secretText = secret as string;
    expect(JSON.stringify(created.adminEvents)).not.toContain(secretText);
    for (const spy of logs) for (const args of spy.mock.calls) expect(JSON.stringify(args)).not.toContain(secretText);
    for (const path of [
      "/accounts/acct_once/keys",
      `/accounts/acct_once/keys/${keyId}/edit`,
      `/accounts/acct_once/keys/${keyId}/revoke`,
      "/",
    ]) {
      const later = await consoleGet(path, { token });
      expect(later.res.status, path).toBe(200);
      expect(later.html, path).not.toContain(secretText);
      expect(later.html, path).not.toContain('id="new-secret"');
      expect(JSON.stringify(later.adminEvents)).not.toContain(secretText);
    }
    const after = await consoleGet("/accounts/acct_once/keys", { token });
    expect(after.html).toContain(`data-testid="key-row-${keyId}"`);
    expect(after.html).toContain(`…${secretText.slice(-4)}`);
  });

  it("maps an admin API refusal to the page, status and message kept", async () => {
    const list = await consoleGet("/accounts/acct_refused/keys", { token });
    const bad = await consolePost(
      "/accounts/acct_refused/keys",
      { mode: "live", ip_allowlist: "10.0.0.1/8", csrf: csrfOf(list.html) },
      { token },
    );
    expect(bad.res.status).toBe(400);
    expect(bad.html).toContain('data-testid="console-error"');
    expect(bad.html).toContain("invalid_body");
    expect(bad.html).toContain("body.policy.ip_allowlist");
    expect(bad.adminEvents[0]).toMatchObject({ action: "key.create", outcome: "denied" });
  });

  it("a read-only token sees no create form, and a POST is refused by the admin API (403, recorded)", async () => {
    const readOnly = await adminToken({ claims: { permissions: ["keys:read"] } });
    const list = await consoleGet("/accounts/acct_ro/keys", { token: readOnly });
    expect(list.html).not.toContain("create-key-form");
    expect(list.html).toContain('data-testid="read-only"');
    // A hand-made form with this session's valid CSRF token: the admin API itself refuses the write.
    const csrf = await csrfToken(env, "ops@spot-thought.test", readOnly);
    const refused = await consolePost("/accounts/acct_ro/keys", { mode: "live", csrf }, { token: readOnly });
    expect(refused.res.status).toBe(403);
    expect(refused.html).toContain("insufficient_permission");
    expect(refused.adminEvents[0]).toMatchObject({ action: "key.create", outcome: "denied", reason: "insufficient_permission" });
  });

  it("honours the admin writer lists: a token without keys:write whose email is listed sees the form and creates", async () => {
    const bindings = { ADMIN_WRITERS_EMAILS: "writer@spot-thought.test" } as Partial<Env>;
    const listed = await adminToken({ sub: "writer-sub", claims: { permissions: ["keys:read"], email: "Writer@spot-thought.test" } });
    const page = await consoleGet("/accounts/acct_wl/keys", { token: listed, call: { bindings } });
    expect(page.html).toContain("create-key-form");
    expect(page.html).not.toContain('data-testid="read-only"');
    const created = await consolePost(
      "/accounts/acct_wl/keys",
      { mode: "live", csrf: csrfOf(page.html) },
      { token: listed, call: { bindings } },
    );
    expect(created.res.status).toBe(201);
    expect(created.adminEvents[0]).toMatchObject({ action: "key.create", outcome: "allowed", actor_sub: "writer-sub" });
    // The same token without the list: read-only.
    const unlisted = await consoleGet("/accounts/acct_wl/keys", { token: listed });
    expect(unlisted.html).toContain('data-testid="read-only"');
  });
});

describe("roll, revoke and edit", () => {
  it("rolls a key with a 1 h overlap: the new secret once, the old key ending in an hour", async () => {
    const { keyId, secret: oldSecret } = await createKey("acct_roll", { label: "worker" });
    const list = await consoleGet("/accounts/acct_roll/keys", { token });
    expect(list.html).toContain(`data-testid="roll-form-${keyId}"`);
    const before = Date.now();
    const rolled = await consolePost(
      `/accounts/acct_roll/keys/${keyId}/roll`,
      { overlap_seconds: "3600", csrf: csrfOf(list.html) },
      { token },
    );
    expect(rolled.res.status).toBe(200);
    const secret = textOf(rolled.html, "new-secret") as string;
    expect(secret).toMatch(/^sk_live_/);
    expect(secret).not.toBe(oldSecret);
    expect(rolled.adminEvents).toHaveLength(1);
    expect(rolled.adminEvents[0]).toMatchObject({ action: "key.rotate", outcome: "allowed", key_id: keyId });
    const newKeyId = textOf(rolled.html, "new-key-id") as string;
    const old = (await adminCall("GET", `/accounts/acct_roll/keys/${keyId}`)).body as {
      key: { expires_at: string; replaced_by_key_id: string };
    };
    expect(old.key.replaced_by_key_id).toBe(newKeyId);
    const endsIn = Date.parse(old.key.expires_at) - before;
    expect(endsIn).toBeGreaterThan(3_590_000);
    expect(endsIn).toBeLessThan(3_610_000);
    const after = await consoleGet("/accounts/acct_roll/keys", { token });
    expect(after.html).not.toContain(secret);
    expect(after.html).toContain(`data-testid="key-row-${newKeyId}"`);
  });

  it("revokes after a confirmation page naming the key", async () => {
    const { keyId } = await createKey("acct_revoke", { label: "old batch job" });
    const confirm = await consoleGet(`/accounts/acct_revoke/keys/${keyId}/revoke`, { token });
    expect(confirm.res.status).toBe(200);
    expect(textOf(confirm.html, "revoke-confirm")).toContain(keyId);
    expect(confirm.html).toContain("old batch job");
    expect(confirm.adminEvents[0]).toMatchObject({ action: "key.get" });
    const revoked = await consolePost(`/accounts/acct_revoke/keys/${keyId}/revoke`, { csrf: csrfOf(confirm.html) }, { token });
    expect(revoked.res.status).toBe(200);
    expect(revoked.html).toContain('data-testid="revoked"');
    expect(revoked.adminEvents[0]).toMatchObject({ action: "key.revoke", outcome: "allowed", key_id: keyId });
    const list = await consoleGet("/accounts/acct_revoke/keys", { token });
    expect(list.html).toMatch(new RegExp(`data-testid="key-row-${keyId}"[\\s\\S]*?data-testid="key-status">revoked`));
    expect(list.html).not.toContain(`data-testid="roll-form-${keyId}"`);
  });

  it("edits the label and policy", async () => {
    const { keyId } = await createKey("acct_edit", { label: "before" });
    const page = await consoleGet(`/accounts/acct_edit/keys/${keyId}/edit`, { token });
    expect(page.html).toContain('data-testid="edit-key-form"');
    const saved = await consolePost(
      `/accounts/acct_edit/keys/${keyId}/edit`,
      { label: "after", ip_allowlist: "198.51.100.7", rate_limit_per_minute: "60", csrf: csrfOf(page.html) },
      { token },
    );
    expect(saved.res.status).toBe(200);
    expect(saved.html).toContain("Changed: label, policy.ip_allowlist, policy.rate_limit_per_minute.");
    expect(saved.adminEvents[0]).toMatchObject({ action: "key.update", outcome: "allowed" });
    const list = await consoleGet("/accounts/acct_edit/keys", { token });
    expect(list.html).toContain("IPs: 198.51.100.7/32");
    expect(list.html).toContain("60/min");
    expect(list.html).toContain(">after<");
  });

  it("shows last use when the API gives it: never used, time and IP, idle after 90 days", async () => {
    const { LastUsed } = await import("../../src/console/views/keys");
    const now = Date.parse("2026-12-01T00:00:00Z");
    const render = async (at: string | null, ip: string | null) => String(await LastUsed({ at, ip, nowMs: now }).toString());
    expect(await render(null, null)).toContain("never used");
    const recent = await render("2026-11-30T10:00:00.000Z", "203.0.113.9");
    expect(recent).toContain("2026-11-30 10:00:00 UTC");
    expect(recent).toContain("203.0.113.9");
    expect(recent).not.toContain("idle");
    expect(await render("2026-08-01T00:00:00.000Z", "203.0.113.9")).toContain("idle 90+ days");
    // Absent from today's admin API: every key reads "never used".
    await createKey("acct_lastused");
    expect((await consoleGet("/accounts/acct_lastused/keys", { token })).html).toContain("never used");
  });
});

describe("account state", () => {
  it("says when the account is suspended", async () => {
    await createKey("acct_suspended");
    expect((await consoleGet("/accounts/acct_suspended/keys", { token })).html).not.toContain("account-suspended");
    await adminCall("POST", "/accounts/acct_suspended/suspend", { body: {} });
    const { html } = await consoleGet("/accounts/acct_suspended/keys", { token });
    expect(html).toContain('data-testid="account-suspended"');
    expect(textOf(html, "account-suspended")).toContain("This account is suspended since");
  });
});
