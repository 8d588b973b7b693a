/**
 * The key screens: thin handlers, each one admin API call (in process, src/console/admin-call.ts),
 * its answer rendered as a page or its refusal as the error page (status kept).
 */
import type { Context, Hono } from "hono";
import { type AdminAnswer, callAdmin, renderAdminError } from "../admin-call";
import type { AdminFetch, ConsoleEnv } from "../env";
import { type FormFields, formFields, instantOf, type KeyList, type KeyView, rangesOf, rateLimitOf } from "../model";
import { CONSOLE_MOUNT, keysPath } from "../paths";
import { EditedPage, EditPage, RevokeConfirmPage, RevokedPage } from "../views/key-actions";
import { KeysPage } from "../views/keys";
import { renderPage } from "../views/render";
import { NewSecretPage } from "../views/secret";

const enc = encodeURIComponent;

/** The form of a POST (CSRF already checked by the app's middleware). */
async function form(c: Context<ConsoleEnv>): Promise<FormFields> {
  return formFields(await c.req.parseBody());
}

export function registerKeyScreens(app: Hono<ConsoleEnv>, adminFetch: AdminFetch): void {
  const admin = <T,>(c: Context<ConsoleEnv>, method: string, path: string, body?: unknown): Promise<AdminAnswer<T>> =>
    callAdmin<T>(c, adminFetch, method, path, body);

  // The home page's "open an account" form.
  app.get("/accounts", (c) => {
    const accountId = c.req.query("account_id")?.trim() ?? "";
    if (accountId === "") return c.redirect(`${CONSOLE_MOUNT}/`, 303);
    return c.redirect(keysPath(accountId), 303);
  });

  app.get("/accounts/:account_id/keys", async (c) => {
    const accountId = c.req.param("account_id");
    const session = c.get("consoleSession");
    const answer = await admin<KeyList>(c, "GET", `/accounts/${enc(accountId)}/keys`);
    if (!answer.ok && answer.error.code !== "account_not_found") return renderAdminError(c, answer);
    const list = answer.ok ? answer.body : null;
    return renderPage(
      c,
      answer.status,
      <KeysPage
        session={session}
        accountId={accountId}
        keys={list?.keys ?? []}
        suspendedAt={list?.account.suspended_at ?? null}
        empty={list === null}
        nowMs={Date.now()}
      />,
    );
  });

  app.post("/accounts/:account_id/keys", async (c) => {
    const accountId = c.req.param("account_id");
    const f = await form(c);
    const label = f.label?.trim() ?? "";
    const expiresAt = instantOf(f.expires_at);
    const ranges = rangesOf(f.ip_allowlist);
    const rate = rateLimitOf(f.rate_limit_per_minute);
    const policy = {
      ...(ranges.length > 0 ? { ip_allowlist: ranges } : {}),
      ...(rate !== null ? { rate_limit_per_minute: rate } : {}),
    };
    const body = {
      mode: f.mode === "test" ? "test" : "live",
      ...(label !== "" ? { label } : {}),
      ...(expiresAt !== undefined ? { expires_at: expiresAt } : {}),
      ...(Object.keys(policy).length > 0 ? { policy } : {}),
    };
    const answer = await admin<{ key: KeyView; secret: string }>(c, "POST", `/accounts/${enc(accountId)}/keys`, body);
    if (!answer.ok) return renderAdminError(c, answer, { href: keysPath(accountId), text: "Back to the keys" });
    return renderPage(
      c,
      201,
      <NewSecretPage session={c.get("consoleSession")} title="Key created" keyView={answer.body.key} secret={answer.body.secret} />,
    );
  });

  app.post("/accounts/:account_id/keys/:key_id/roll", async (c) => {
    const { account_id: accountId, key_id: keyId } = c.req.param();
    const f = await form(c);
    const overlap = Number(f.overlap_seconds ?? "");
    const answer = await admin<{ key: KeyView; previous: KeyView; secret: string }>(
      c,
      "POST",
      `/accounts/${enc(accountId)}/keys/${enc(keyId)}/rotate`,
      { overlap_seconds: Number.isFinite(overlap) ? overlap : -1 },
    );
    if (!answer.ok) return renderAdminError(c, answer, { href: keysPath(accountId), text: "Back to the keys" });
    return renderPage(
      c,
      200,
      <NewSecretPage
        session={c.get("consoleSession")}
        title={`Key ${keyId} rolled`}
        keyView={answer.body.key}
        secret={answer.body.secret}
        previous={answer.body.previous}
      />,
    );
  });

  app.get("/accounts/:account_id/keys/:key_id/revoke", async (c) => {
    const { account_id: accountId, key_id: keyId } = c.req.param();
    const answer = await admin<{ key: KeyView }>(c, "GET", `/accounts/${enc(accountId)}/keys/${enc(keyId)}`);
    if (!answer.ok) return renderAdminError(c, answer, { href: keysPath(accountId), text: "Back to the keys" });
    return renderPage(c, 200, <RevokeConfirmPage session={c.get("consoleSession")} keyView={answer.body.key} />);
  });

  app.post("/accounts/:account_id/keys/:key_id/revoke", async (c) => {
    const { account_id: accountId, key_id: keyId } = c.req.param();
    const answer = await admin<{ key: KeyView; already_revoked: boolean }>(
      c,
      "POST",
      `/accounts/${enc(accountId)}/keys/${enc(keyId)}/revoke`,
      {},
    );
    if (!answer.ok) return renderAdminError(c, answer, { href: keysPath(accountId), text: "Back to the keys" });
    return renderPage(
      c,
      200,
      <RevokedPage session={c.get("consoleSession")} keyView={answer.body.key} already={answer.body.already_revoked} />,
    );
  });

  app.get("/accounts/:account_id/keys/:key_id/edit", async (c) => {
    const { account_id: accountId, key_id: keyId } = c.req.param();
    const answer = await admin<{ key: KeyView }>(c, "GET", `/accounts/${enc(accountId)}/keys/${enc(keyId)}`);
    if (!answer.ok) return renderAdminError(c, answer, { href: keysPath(accountId), text: "Back to the keys" });
    return renderPage(c, 200, <EditPage session={c.get("consoleSession")} keyView={answer.body.key} />);
  });

  app.post("/accounts/:account_id/keys/:key_id/edit", async (c) => {
    const { account_id: accountId, key_id: keyId } = c.req.param();
    const f = await form(c);
    const label = f.label?.trim() ?? "";
    const ranges = rangesOf(f.ip_allowlist);
    const body = {
      label: label === "" ? null : label,
      policy: { ip_allowlist: ranges.length > 0 ? ranges : null, rate_limit_per_minute: rateLimitOf(f.rate_limit_per_minute) },
    };
    const answer = await admin<{ key: KeyView; changed: string[] }>(c, "PATCH", `/accounts/${enc(accountId)}/keys/${enc(keyId)}`, body);
    if (!answer.ok) return renderAdminError(c, answer, { href: keysPath(accountId), text: "Back to the keys" });
    return renderPage(c, 200, <EditedPage session={c.get("consoleSession")} keyView={answer.body.key} changed={answer.body.changed} />);
  });
}
