/**
 * The admin API's key lifecycle end to end through the Worker's fetch handler in workerd: create,
 * list, show, rotate, revoke, import, what each answer may contain, and the request path that the
 * keys then authorize.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { hashSecret, importHashKey, secretKvKey } from "../../src/keys/hash";
import { KeyRecordSchema } from "../../src/keys/record";
import { generateSecret, hasValidChecksum } from "../../src/keys/secret";
import { clearKeyCache } from "../../src/keys/store";
import { adminCall, createKey, errorOf } from "../helpers/admin";
import { type OriginStub, stubOrigins } from "../helpers/origin";
import { call } from "../helpers/worker";

let origin: OriginStub;
beforeEach(() => {
  clearKeyCache();
  origin = stubOrigins();
});
afterEach(() => {
  origin.restore();
  vi.restoreAllMocks();
});

type KeyJson = Record<string, unknown> & { key_id: string; status: string; expires_at: string | null };

/** Status of an API request with these credentials, read fresh from KV (isolate cache emptied). */
async function apiStatus(account: string, secret: string): Promise<number> {
  clearKeyCache();
  const { res } = await call("/v1/charges", { headers: { "X-Spot-Api-Key": account, "X-Spot-Api-Secret": secret } });
  return res.status;
}

async function hashOf(secret: string): Promise<string> {
  return hashSecret(await importHashKey(env.SECRET_HASH_KEY), secret);
}

describe("create", () => {
  it("returns a checksummed secret once; KV holds only its hash; the key authorizes requests", async () => {
    const { res, body, adminEvents } = await adminCall("POST", "/accounts/acct_c1/keys", { body: { label: "billing" } });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const out = body as { key: KeyJson; secret: string; kv_synced: boolean };
    expect(out.secret).toMatch(/^sk_live_[0-9A-Za-z]{39}$/);
    expect(hasValidChecksum(out.secret)).toBe(true);
    expect(out.kv_synced).toBe(true);
    expect(out.key).toMatchObject({
      account_id: "acct_c1",
      mode: "live",
      label: "billing",
      status: "active",
      expires_at: null,
      secret_format: "checksum",
      source: "generated",
      secret_hint: out.secret.slice(-4),
      hash_key_id: "hk-test",
      created_by: "ops@spot-thought.test",
      policy: null,
    });
    expect(out.key.key_id).toMatch(/^key_[0-9A-Za-z]{16}$/);

    const hash = await hashOf(out.secret);
    const stored = await env.KEYS.get(secretKvKey(hash), "json");
    expect(KeyRecordSchema.parse(stored)).toMatchObject({ key_id: out.key.key_id, account_id: "acct_c1", status: "active" });
    expect(JSON.stringify(stored)).not.toContain(out.secret);

    expect(await apiStatus("acct_c1", out.secret)).toBe(200);
    expect(origin.received[0]?.headers.get("x-spot-key-id")).toBe(out.key.key_id);
    expect(await apiStatus("acct_other", out.secret)).toBe(401);

    // The audit event names actor, action, account and key; never the secret or its hash.
    expect(adminEvents).toHaveLength(1);
    expect(adminEvents[0]).toMatchObject({
      kind: "admin",
      action: "key.create",
      outcome: "allowed",
      reason: "ok",
      status: 201,
      actor_sub: "ops@spot-thought.test",
      account_id: "acct_c1",
      key_id: out.key.key_id,
    });
    expect(JSON.stringify(adminEvents)).not.toContain(out.secret);
    expect(JSON.stringify(adminEvents)).not.toContain(hash);
  });

  it("list and show return metadata only: never the secret, never its hash", async () => {
    const { keyId, secret } = await createKey("acct_c2", { label: "one" });
    await createKey("acct_c2", { mode: "test", label: "two" });
    const list = await adminCall("GET", "/accounts/acct_c2/keys");
    expect(list.res.status).toBe(200);
    const keys = (list.body as { keys: KeyJson[] }).keys;
    expect(keys.map((k) => [k.label, k.mode])).toEqual([
      ["one", "live"],
      ["two", "test"],
    ]);
    const shown = await adminCall("GET", `/accounts/acct_c2/keys/${keyId}`);
    expect(shown.res.status).toBe(200);
    expect((shown.body as { key: KeyJson }).key.key_id).toBe(keyId);
    const hash = await hashOf(secret);
    for (const text of [JSON.stringify(list.body), JSON.stringify(shown.body)]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(secret.slice(8, 30));
      expect(text).not.toContain(hash);
      expect(text).not.toContain("secret_hash");
    }
    expect(list.adminEvents[0]).toMatchObject({ action: "key.list", account_id: "acct_c2", key_id: null });
    expect(shown.adminEvents[0]).toMatchObject({ action: "key.get", account_id: "acct_c2", key_id: keyId });
  });

  it("a test-mode key gets an sk_test_ secret that works only as test", async () => {
    const { secret } = await createKey("acct_c3", { mode: "test" });
    expect(secret).toMatch(/^sk_test_/);
    expect(await apiStatus("acct_c3", secret)).toBe(200);
    expect(await apiStatus("acct_c3", secret.replace("sk_test_", "sk_live_"))).toBe(401);
  });

  it("an expires_at in the future is kept and enforced by the request path", async () => {
    const expires = new Date(Date.now() + 3_600_000).toISOString();
    const { res, body } = await adminCall("POST", "/accounts/acct_c4/keys", { body: { expires_at: expires } });
    expect(res.status).toBe(201);
    expect((body as { key: KeyJson }).key.expires_at).toBe(expires);
  });

  it("no body at all creates a live key with defaults", async () => {
    const { res, body } = await adminCall("POST", "/accounts/acct_c5/keys");
    expect(res.status).toBe(201);
    expect((body as { key: KeyJson }).key).toMatchObject({ mode: "live", label: null });
  });
});

describe("bad input", () => {
  it.each([
    ["an unknown field", { scopes: ["charges:read"] }, "body.scopes"],
    ["an unknown policy field", { policy: { scopes: ["charges:read"] } }, "body.policy.scopes"],
    [
      "an allowlist entry that is not an address",
      { policy: { ip_allowlist: ["10.0.0.0/8", "example.com"] } },
      "body.policy.ip_allowlist.1",
    ],
    ["an allowlist range with host bits", { policy: { ip_allowlist: ["10.1.2.3/8"] } }, "body.policy.ip_allowlist.0"],
    ["an empty allowlist", { policy: { ip_allowlist: [] } }, "body.policy.ip_allowlist"],
    ["a rate limit of 0", { policy: { rate_limit_per_minute: 0 } }, "body.policy.rate_limit_per_minute"],
    ["a fractional rate limit", { policy: { rate_limit_per_minute: 1.5 } }, "body.policy.rate_limit_per_minute"],
    ["a rate limit over the maximum", { policy: { rate_limit_per_minute: 100_001 } }, "body.policy.rate_limit_per_minute"],
    ["a bad mode", { mode: "prod" }, "body.mode"],
    ["an empty label", { label: "" }, "body.label"],
    ["a label too long", { label: "x".repeat(201) }, "body.label"],
    ["a label with a newline", { label: "a\nb" }, "body.label"],
    ["an expiry that is not a date", { expires_at: "tomorrow" }, "body.expires_at"],
    ["an expiry in the past", { expires_at: "2020-01-01T00:00:00Z" }, "body.expires_at"],
    ["an expiry past the 3650-day bound", { expires_at: "9999-12-31T23:59:59Z" }, "body.expires_at"],
  ])("create with %s → 400 invalid_body naming the field", async (_name, body, param) => {
    const { res, body: out, adminEvents } = await adminCall("POST", "/accounts/acct_b1/keys", { body });
    expect(res.status).toBe(400);
    expect(errorOf(out)).toMatchObject({ type: "invalid_request_error", code: "invalid_body", param });
    expect(errorOf(out).message).toContain(param);
    expect(errorOf(out).request_id).toBe(res.headers.get("x-request-id"));
    expect(adminEvents[0]).toMatchObject({ action: "key.create", outcome: "denied", reason: "invalid_body", status: 400 });
  });

  it.each([
    ["not JSON", "{not json", "application/json"],
    ["a JSON array", "[1,2]", "application/json"],
    ["form data", "mode=live", "application/x-www-form-urlencoded"],
  ])("a body that is %s → 400 invalid_body", async (_name, body, type) => {
    const { res, body: out } = await adminCall("POST", "/accounts/acct_b2/keys", { body, headers: { "Content-Type": type } });
    expect(res.status).toBe(400);
    expect(errorOf(out).code).toBe("invalid_body");
  });

  it.each([
    ["GET", "/accounts/account_1/keys", "path.account_id"],
    ["GET", "/accounts/acct_1/keys/notakey", "path.key_id"],
    ["POST", "/accounts/acct_1/keys/key_%24%24/rotate", "path.key_id"],
  ])("%s %s → 400 invalid_parameter naming it", async (method, path, param) => {
    const { res, body } = await adminCall(method, path);
    expect(res.status).toBe(400);
    expect(errorOf(body)).toMatchObject({ code: "invalid_parameter", param });
  });

  it.each([
    ["GET", "/accounts/acct_nobody/keys"],
    ["GET", "/accounts/acct_nobody/keys/key_missing"],
    ["POST", "/accounts/acct_nobody/keys/key_missing/rotate"],
    ["POST", "/accounts/acct_nobody/keys/key_missing/revoke"],
  ])("%s %s on an account without keys → 404 account_not_found", async (method, path) => {
    const { res, body } = await adminCall(method, path);
    expect(res.status).toBe(404);
    expect(errorOf(body)).toMatchObject({ type: "invalid_request_error", code: "account_not_found" });
  });

  it.each([
    ["GET", ""],
    ["POST", "/rotate"],
    ["POST", "/revoke"],
  ])("%s on an unknown key of a known account → 404 key_not_found", async (method, suffix) => {
    await createKey("acct_b3");
    const { res, body } = await adminCall(method, `/accounts/acct_b3/keys/key_missing${suffix}`);
    expect(res.status).toBe(404);
    expect(errorOf(body).code).toBe("key_not_found");
  });

  it("an unknown admin path is the admin 404, never proxied and never an API-key error", async () => {
    for (const path of ["/__spot/admin/v1/nope", "/__spot/admin/v2/accounts/acct_1/keys", "/__spot/admin", "/__spot/admin/"]) {
      const { res, body, events } = await call(path, { headers: { "CF-Connecting-IP": "198.51.100.7" } });
      expect(res.status).toBe(404);
      expect(errorOf(body).code).toBe("not_found");
      expect(events.every((e) => (e as unknown as { kind?: string }).kind === "admin")).toBe(true);
    }
    expect(origin.received).toHaveLength(0);
  });
});

describe("rotate", () => {
  it("gives a new key and secret; both work during the overlap (default 24 h)", async () => {
    const old = await createKey("acct_r1", { label: "svc" });
    const { res, body, adminEvents } = await adminCall("POST", `/accounts/acct_r1/keys/${old.keyId}/rotate`);
    expect(res.status).toBe(200);
    const out = body as { key: KeyJson; previous: KeyJson & { rotated_at: string }; secret: string; kv_synced: boolean };
    expect(out.secret).not.toBe(old.secret);
    expect(hasValidChecksum(out.secret)).toBe(true);
    expect(out.key).toMatchObject({ label: "svc", mode: "live", status: "active", replaces_key_id: old.keyId, expires_at: null });
    expect(out.previous).toMatchObject({ key_id: old.keyId, status: "active", replaced_by_key_id: out.key.key_id });
    expect(Date.parse(out.previous.expires_at as string) - Date.parse(out.previous.rotated_at)).toBe(86_400_000);

    expect(await apiStatus("acct_r1", old.secret)).toBe(200);
    expect(await apiStatus("acct_r1", out.secret)).toBe(200);
    expect(adminEvents[0]).toMatchObject({ action: "key.rotate", key_id: old.keyId, new_key_id: out.key.key_id, status: 200 });
    expect(JSON.stringify(adminEvents)).not.toContain(out.secret);
  });

  it("overlap 0 ends the old secret now; the new one works", async () => {
    const old = await createKey("acct_r2");
    const { res, body } = await adminCall("POST", `/accounts/acct_r2/keys/${old.keyId}/rotate`, { body: { overlap_seconds: 0 } });
    expect(res.status).toBe(200);
    const out = body as { secret: string; previous: KeyJson };
    expect(out.previous.status).toBe("expired");
    expect(await apiStatus("acct_r2", old.secret)).toBe(401);
    expect(await apiStatus("acct_r2", out.secret)).toBe(200);
  });

  it("the overlap never runs beyond the old key's own expiry", async () => {
    const ownExpiry = new Date(Date.now() + 600_000).toISOString();
    const old = await createKey("acct_r3", { expires_at: ownExpiry });
    const { body } = await adminCall("POST", `/accounts/acct_r3/keys/${old.keyId}/rotate`, { body: { overlap_seconds: 86_400 } });
    expect((body as { previous: KeyJson }).previous.expires_at).toBe(ownExpiry);
  });

  it("takes a label and an expiry for the new key", async () => {
    const old = await createKey("acct_r4", { label: "old" });
    const expires = new Date(Date.now() + 7_200_000).toISOString();
    const { body } = await adminCall("POST", `/accounts/acct_r4/keys/${old.keyId}/rotate`, { body: { label: "new", expires_at: expires } });
    expect((body as { key: KeyJson }).key).toMatchObject({ label: "new", expires_at: expires });
  });

  it.each([
    [{ overlap_seconds: -1 }, "body.overlap_seconds"],
    [{ overlap_seconds: 30 * 86_400 + 1 }, "body.overlap_seconds"],
    [{ overlap_seconds: 1.5 }, "body.overlap_seconds"],
    [{ overlap_seconds: "3600" }, "body.overlap_seconds"],
    [{ mode: "test" }, "body.mode"],
  ])("a bad body %j → 400 naming %s", async (body, param) => {
    const old = await createKey("acct_r5");
    const { res, body: out } = await adminCall("POST", `/accounts/acct_r5/keys/${old.keyId}/rotate`, { body });
    expect(res.status).toBe(400);
    expect(errorOf(out)).toMatchObject({ code: "invalid_body", param });
  });

  it("a revoked key → 409 key_revoked", async () => {
    const old = await createKey("acct_r6");
    await adminCall("POST", `/accounts/acct_r6/keys/${old.keyId}/revoke`);
    const { res, body } = await adminCall("POST", `/accounts/acct_r6/keys/${old.keyId}/rotate`);
    expect(res.status).toBe(409);
    expect(errorOf(body)).toMatchObject({ type: "invalid_request_error", code: "key_revoked" });
  });

  it("an expired key → 409 key_expired", async () => {
    const old = await createKey("acct_r7");
    await adminCall("POST", `/accounts/acct_r7/keys/${old.keyId}/rotate`, { body: { overlap_seconds: 0 } });
    const { res, body } = await adminCall("POST", `/accounts/acct_r7/keys/${old.keyId}/rotate`);
    expect(res.status).toBe(409);
    expect(errorOf(body).code).toBe("key_expired");
  });

  it("a key already rotated (overlap running) → 409 key_already_rotated", async () => {
    const old = await createKey("acct_r8");
    await adminCall("POST", `/accounts/acct_r8/keys/${old.keyId}/rotate`);
    const { res, body } = await adminCall("POST", `/accounts/acct_r8/keys/${old.keyId}/rotate`);
    expect(res.status).toBe(409);
    expect(errorOf(body).code).toBe("key_already_rotated");
  });
});

describe("revoke", () => {
  it("stops the key; a second revoke is idempotent", async () => {
    const key = await createKey("acct_v1");
    expect(await apiStatus("acct_v1", key.secret)).toBe(200);
    const first = await adminCall("POST", `/accounts/acct_v1/keys/${key.keyId}/revoke`);
    expect(first.res.status).toBe(200);
    expect(first.body).toMatchObject({ key: { status: "revoked" }, already_revoked: false, kv_synced: true });
    expect((first.body as { key: { revoked_at: string } }).key.revoked_at).toBeTruthy();
    expect(await apiStatus("acct_v1", key.secret)).toBe(401);
    const second = await adminCall("POST", `/accounts/acct_v1/keys/${key.keyId}/revoke`);
    expect(second.res.status).toBe(200);
    expect(second.body).toMatchObject({ already_revoked: true });
    expect(first.adminEvents[0]).toMatchObject({ action: "key.revoke", key_id: key.keyId, outcome: "allowed" });
  });

  it("the revoked record in KV carries an expiration a day after the revocation (cleanup only)", async () => {
    const key = await createKey("acct_v2");
    await adminCall("POST", `/accounts/acct_v2/keys/${key.keyId}/revoke`);
    const name = secretKvKey(await hashOf(key.secret));
    const listed = await env.KEYS.list({ prefix: name });
    const expiration = listed.keys[0]?.expiration ?? 0;
    expect(expiration - Date.now() / 1000).toBeGreaterThan(86_000);
    expect(expiration - Date.now() / 1000).toBeLessThanOrEqual(86_401);
  });

  it("revoking the old key of a rotation leaves the new one working", async () => {
    const old = await createKey("acct_v3");
    const { body } = await adminCall("POST", `/accounts/acct_v3/keys/${old.keyId}/rotate`);
    const fresh = body as { secret: string };
    await adminCall("POST", `/accounts/acct_v3/keys/${old.keyId}/revoke`);
    expect(await apiStatus("acct_v3", old.secret)).toBe(401);
    expect(await apiStatus("acct_v3", fresh.secret)).toBe(200);
  });
});

describe("import", () => {
  it("registers a legacy secret (no checksum) that then authorizes requests; the secret is never echoed", async () => {
    const { res, body, adminEvents } = await adminCall("POST", "/accounts/acct_i1/keys/import", {
      body: { secret: "sk_live_abcd", label: "seed legacy" },
    });
    expect(res.status).toBe(201);
    const out = body as { key: KeyJson; kv_synced: boolean };
    expect(out.key).toMatchObject({ mode: "live", secret_format: "legacy", source: "imported", secret_hint: null, label: "seed legacy" });
    expect(JSON.stringify(body)).not.toContain("sk_live_abcd");
    expect(await apiStatus("acct_i1", "sk_live_abcd")).toBe(200);
    expect(adminEvents[0]).toMatchObject({ action: "key.import", key_id: out.key.key_id });
    expect(JSON.stringify(adminEvents)).not.toContain("sk_live_abcd");
  });

  it("shows the last 4 characters of a long legacy secret only", async () => {
    const { body } = await adminCall("POST", "/accounts/acct_i2/keys/import", {
      body: { secret: "sk_test_LegacyLongSecretValue1234WXYZ" },
    });
    expect((body as { key: KeyJson }).key).toMatchObject({ mode: "test", secret_hint: "WXYZ" });
  });

  it("accepts a checksummed secret whose checksum matches", async () => {
    const secret = generateSecret("live");
    const { res, body } = await adminCall("POST", "/accounts/acct_i3/keys/import", { body: { secret } });
    expect(res.status).toBe(201);
    expect((body as { key: KeyJson }).key.secret_format).toBe("checksum");
    expect(await apiStatus("acct_i3", secret)).toBe(200);
  });

  it("refuses a 39-character secret body whose checksum does not match (it could never authenticate)", async () => {
    const good = generateSecret("live");
    const bad = `${good.slice(0, -1)}${good.endsWith("0") ? "1" : "0"}`;
    const { res, body } = await adminCall("POST", "/accounts/acct_i4/keys/import", { body: { secret: bad } });
    expect(res.status).toBe(400);
    expect(errorOf(body)).toMatchObject({ code: "invalid_body", param: "body.secret" });
    expect(errorOf(body).message).not.toContain(bad);
  });

  it.each([["pk_live_abcd"], ["sk_live_abc"], ["sk_live_ab-cd"], [""]])("refuses a malformed secret %j", async (secret) => {
    const { res, body } = await adminCall("POST", "/accounts/acct_i5/keys/import", { body: { secret } });
    expect(res.status).toBe(400);
    expect(errorOf(body)).toMatchObject({ code: "invalid_body", param: "body.secret" });
  });

  it("a missing secret or no body → 400 naming body.secret / body", async () => {
    const missing = await adminCall("POST", "/accounts/acct_i5/keys/import", { body: { label: "x" } });
    expect(errorOf(missing.body)).toMatchObject({ code: "invalid_body", param: "body.secret" });
    const none = await adminCall("POST", "/accounts/acct_i5/keys/import");
    expect(none.res.status).toBe(400);
    expect(errorOf(none.body).code).toBe("invalid_body");
  });

  it("the same secret twice, in the same or another account → 409 secret_already_registered", async () => {
    expect((await adminCall("POST", "/accounts/acct_i6/keys/import", { body: { secret: "sk_live_dup1" } })).res.status).toBe(201);
    for (const account of ["acct_i6", "acct_i7"]) {
      const { res, body } = await adminCall("POST", `/accounts/${account}/keys/import`, { body: { secret: "sk_live_dup1" } });
      expect(res.status).toBe(409);
      expect(errorOf(body).code).toBe("secret_already_registered");
    }
    // The first account's key is untouched.
    expect(await apiStatus("acct_i6", "sk_live_dup1")).toBe(200);
    expect(await apiStatus("acct_i7", "sk_live_dup1")).toBe(401);
  });

  it("a revoked secret cannot be imported again, anywhere", async () => {
    const { body } = await adminCall("POST", "/accounts/acct_i8/keys/import", { body: { secret: "sk_live_burned1" } });
    await adminCall("POST", `/accounts/acct_i8/keys/${(body as { key: KeyJson }).key.key_id}/revoke`);
    const again = await adminCall("POST", "/accounts/acct_i9/keys/import", { body: { secret: "sk_live_burned1" } });
    expect(again.res.status).toBe(409);
  });
});

describe("labels: terminal-spoofing characters (Unicode TR9, TR36, TR39)", () => {
  /** Refused labels: what is in them, the code point the 400 names, the label. */
  const REFUSED: [string, string, string][] = [
    ["a C1 control (NEXT LINE)", "U+0085", "svc\u0085x"],
    ["a C1 control (CSI)", "U+009B", "svc\u009b31m"],
    ["an escape sequence (ESC)", "U+001B", "\u001b[2Jsvc"],
    ["DEL", "U+007F", "svc\u007f"],
    ["RIGHT-TO-LEFT OVERRIDE", "U+202E", "invoice\u202egpj.exe"],
    ["LEFT-TO-RIGHT EMBEDDING", "U+202A", "\u202asvc"],
    ["POP DIRECTIONAL FORMATTING", "U+202C", "svc\u202c"],
    ["RIGHT-TO-LEFT ISOLATE", "U+2067", "svc\u2067x\u2069"],
    ["POP DIRECTIONAL ISOLATE", "U+2069", "svc\u2069"],
    ["LEFT-TO-RIGHT MARK", "U+200E", "svc\u200e"],
    ["RIGHT-TO-LEFT MARK", "U+200F", "svc\u200f"],
    ["ARABIC LETTER MARK", "U+061C", "svc\u061c"],
    ["ZERO WIDTH SPACE", "U+200B", "bill\u200bing"],
    ["ZERO WIDTH NON-JOINER", "U+200C", "bill\u200cing"],
    ["ZERO WIDTH JOINER", "U+200D", "bill\u200ding"],
    ["WORD JOINER", "U+2060", "bill\u2060ing"],
    ["ZERO WIDTH NO-BREAK SPACE (BOM)", "U+FEFF", "\ufeffbilling"],
    ["SOFT HYPHEN", "U+00AD", "bill\u00ading"],
    ["HANGUL FILLER (default-ignorable, not Cf)", "U+3164", "\u3164"],
    ["a variation selector", "U+FE0F", "svc\ufe0f"],
    ["a tag character", "U+E0041", "svc\u{e0041}"],
    ["LINE SEPARATOR", "U+2028", "svc\u2028x"],
    ["PARAGRAPH SEPARATOR", "U+2029", "svc\u2029x"],
    ["a lone high surrogate", "U+D800", "svc\ud800"],
    ["a lone low surrogate", "U+DC00", "\udc00svc"],
  ];

  it.each(REFUSED)(
    "create with %s → 400 invalid_body: body.label must not contain %s; nothing created",
    async (_name, codePoint, label) => {
      const { res, body, adminEvents } = await adminCall("POST", "/accounts/acct_lb1/keys", { body: { label } });
      expect(res.status).toBe(400);
      expect(errorOf(body)).toMatchObject({ code: "invalid_body", param: "body.label" });
      expect(errorOf(body).message).toContain(`body.label: must not contain ${codePoint}`);
      expect(adminEvents[0]).toMatchObject({ action: "key.create", outcome: "denied", reason: "invalid_body" });
      expect((await adminCall("GET", "/accounts/acct_lb1/keys")).res.status).toBe(404);
    },
  );

  it("the JSON body carries the character either raw or as a \\u escape: both are refused", async () => {
    const raw = await adminCall("POST", "/accounts/acct_lb2/keys", { body: '{"label":"a\u202eb"}' });
    const escaped = await adminCall("POST", "/accounts/acct_lb2/keys", { body: '{"label":"a\\u202eb"}' });
    for (const { res, body } of [raw, escaped]) {
      expect(res.status).toBe(400);
      expect(errorOf(body).message).toContain("U+202E");
    }
  });

  it("PATCH, rotate and import refuse them too; the stored label is unchanged", async () => {
    const { keyId } = await createKey("acct_lb3", { label: "billing" });
    const patch = await adminCall("PATCH", `/accounts/acct_lb3/keys/${keyId}`, { body: { label: "billing\u202e" } });
    expect(patch.res.status).toBe(400);
    expect(errorOf(patch.body)).toMatchObject({ code: "invalid_body", param: "body.label" });
    expect(errorOf(patch.body).message).toContain("must not contain U+202E");
    expect(patch.adminEvents[0]).toMatchObject({ action: "key.update", outcome: "denied", reason: "invalid_body" });

    const rotate = await adminCall("POST", `/accounts/acct_lb3/keys/${keyId}/rotate`, { body: { label: "\u200bbilling" } });
    expect(rotate.res.status).toBe(400);
    expect(errorOf(rotate.body)).toMatchObject({ code: "invalid_body", param: "body.label" });
    expect(errorOf(rotate.body).message).toContain("must not contain U+200B");

    const imported = await adminCall("POST", "/accounts/acct_lb3/keys/import", {
      body: { secret: "sk_live_labelcheck1", label: "x\u0085" },
    });
    expect(imported.res.status).toBe(400);
    expect(errorOf(imported.body)).toMatchObject({ code: "invalid_body", param: "body.label" });
    expect(errorOf(imported.body).message).toContain("must not contain U+0085");

    const list = await adminCall("GET", "/accounts/acct_lb3/keys");
    expect((list.body as { keys: KeyJson[] }).keys.map((k) => [k.key_id, k.label, k.status])).toEqual([[keyId, "billing", "active"]]);
  });

  it.each([
    ["accents", "Café Zürich"],
    ["Hebrew, right to left by its own letters (no override)", "חשבון ראשי"],
    ["Arabic", "الفوترة"],
    ["CJK", "請求サービス"],
    ["a single-code-point emoji", "🚀 launch"],
    ["punctuation and a space", "billing / EU (v2)"],
  ])("accepts ordinary text: %s", async (_name, label) => {
    const { res, body } = await adminCall("POST", "/accounts/acct_lb4/keys", { body: { label } });
    expect(res.status).toBe(201);
    expect((body as { key: KeyJson }).key.label).toBe(label);
  });

  it("stores labels in NFC: a decomposed label is composed, and the same text in another form changes nothing", async () => {
    const decomposed = "Cafe\u0301 Zu\u0308rich";
    const composed = "Caf\u00e9 Z\u00fcrich";
    const { res, body } = await adminCall("POST", "/accounts/acct_lb5/keys", { body: { label: decomposed } });
    expect(res.status).toBe(201);
    const key = (body as { key: KeyJson }).key;
    expect(key.label).toBe(composed);
    const same = await adminCall("PATCH", `/accounts/acct_lb5/keys/${key.key_id}`, { body: { label: decomposed } });
    expect(same.res.status).toBe(200);
    expect(same.body).toMatchObject({ changed: [], key: { label: composed } });
    // The length bound applies to the stored (NFC) form: 200 composed characters sent as 400 code units.
    const long = await adminCall("PATCH", `/accounts/acct_lb5/keys/${key.key_id}`, { body: { label: "e\u0301".repeat(200) } });
    expect(long.res.status).toBe(200);
    expect(long.body).toMatchObject({ changed: ["label"], key: { label: "\u00e9".repeat(200) } });
  });

  it("a label stored before the rule still reads, rotates and can be replaced", async () => {
    const { keyId } = await createKey("acct_lb6", { label: "placeholder" });
    const legacy = "ops\u202eexe.txt\u0085\u200b";
    const stub = env.KEY_ACCOUNTS.get(env.KEY_ACCOUNTS.idFromName("acct_lb6"));
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE keys SET record = json_set(record, '$.label', ?) WHERE key_id = ?", legacy, keyId);
    });
    const list = await adminCall("GET", "/accounts/acct_lb6/keys");
    expect(list.res.status).toBe(200);
    expect((list.body as { keys: KeyJson[] }).keys[0]?.label).toBe(legacy);
    expect((await adminCall("GET", `/accounts/acct_lb6/keys/${keyId}`)).body).toMatchObject({ key: { label: legacy } });
    // A policy change leaves the label alone; a rotation without a label copies it.
    expect(
      (await adminCall("PATCH", `/accounts/acct_lb6/keys/${keyId}`, { body: { policy: { rate_limit_per_minute: 60 } } })).res.status,
    ).toBe(200);
    const rotated = await adminCall("POST", `/accounts/acct_lb6/keys/${keyId}/rotate`);
    expect(rotated.res.status).toBe(200);
    const fresh = (rotated.body as { key: KeyJson }).key;
    expect(fresh.label).toBe(legacy);
    const replaced = await adminCall("PATCH", `/accounts/acct_lb6/keys/${fresh.key_id}`, { body: { label: "ops" } });
    expect(replaced.body).toMatchObject({ changed: ["label"], key: { label: "ops" } });
  });
});
