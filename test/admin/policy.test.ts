/**
 * Key policy through the admin API (create and PATCH) down to the request path: the IP allowlist and
 * the rate limit override land in the KV record (v2 with a policy, v1 without), the edge enforces
 * them, rotation carries them over, and each change is one admin audit event naming what changed.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { hashSecret, importHashKey, secretKvKey } from "../../src/keys/hash";
import { KeyRecordSchema } from "../../src/keys/record";
import { clearKeyCache } from "../../src/keys/store";
import { clearKeyLimitLedger } from "../../src/request-path/key-policy";
import { adminCall, createKey, errorOf } from "../helpers/admin";
import { type OriginStub, stubOrigins } from "../helpers/origin";
import { call } from "../helpers/worker";

let origin: OriginStub;
beforeEach(() => {
  clearKeyCache();
  clearKeyLimitLedger();
  origin = stubOrigins();
});
afterEach(() => {
  origin.restore();
  vi.restoreAllMocks();
});

type KeyJson = { key_id: string; policy: null | { scopes: null; ip_allowlist: string[] | null; rate_limit_per_minute: number | null } };

async function kvRecord(secret: string): Promise<unknown> {
  const hash = await hashSecret(await importHashKey(env.SECRET_HASH_KEY), secret);
  return env.KEYS.get(secretKvKey(hash), "json");
}

/** Status of an API request from `ip`, with the record read fresh from KV. */
async function statusFrom(account: string, secret: string, ip: string): Promise<{ status: number; code?: string }> {
  clearKeyCache();
  const { res, body } = await call("/v1/charges", {
    headers: { "X-Spot-Api-Key": account, "X-Spot-Api-Secret": secret, "CF-Connecting-IP": ip, "X-Forwarded-For": "203.0.113.50" },
  });
  return { status: res.status, code: res.status === 200 ? undefined : errorOf(body).code };
}

describe("policy on create", () => {
  it("normalises and de-duplicates the allowlist, stores a v2 record, and the edge enforces it on the connecting IP", async () => {
    const { res, body } = await adminCall("POST", "/accounts/acct_p1/keys", {
      body: { policy: { ip_allowlist: ["198.51.100.0/24", "2001:DB8:0:0::/32", "198.51.100.0/24"], rate_limit_per_minute: 600 } },
    });
    expect(res.status).toBe(201);
    const out = body as { key: KeyJson; secret: string };
    expect(out.key.policy).toEqual({ scopes: null, ip_allowlist: ["198.51.100.0/24", "2001:db8::/32"], rate_limit_per_minute: 600 });
    const stored = KeyRecordSchema.parse(await kvRecord(out.secret));
    expect(stored).toMatchObject({ v: 2, policy: { ip_allowlist: ["198.51.100.0/24", "2001:db8::/32"], rate_limit_per_minute: 600 } });

    expect(await statusFrom("acct_p1", out.secret, "198.51.100.77")).toEqual({ status: 200 });
    expect(await statusFrom("acct_p1", out.secret, "2001:db8:ffff::1")).toEqual({ status: 200 });
    // The asserted X-Forwarded-For (203.0.113.50) never decides: the connecting IP is outside.
    expect(await statusFrom("acct_p1", out.secret, "203.0.113.50")).toEqual({ status: 403, code: "ip_not_allowed" });
    expect(await statusFrom("acct_p1", out.secret, "2001:db9::1")).toEqual({ status: 403, code: "ip_not_allowed" });
  });

  it("without a policy the record stays v1 and the view says policy: null", async () => {
    const { secret } = await createKey("acct_p2");
    expect(await kvRecord(secret)).toMatchObject({ v: 1 });
    expect((await kvRecord(secret)) as object).not.toHaveProperty("policy");
  });

  it("import accepts a policy too", async () => {
    const { res, body } = await adminCall("POST", "/accounts/acct_p3/keys/import", {
      body: { secret: "sk_live_policyImport1", policy: { ip_allowlist: ["192.0.2.1"] } },
    });
    expect(res.status).toBe(201);
    expect((body as { key: KeyJson }).key.policy?.ip_allowlist).toEqual(["192.0.2.1/32"]);
    expect(await statusFrom("acct_p3", "sk_live_policyImport1", "192.0.2.1")).toEqual({ status: 200 });
    expect(await statusFrom("acct_p3", "sk_live_policyImport1", "192.0.2.2")).toEqual({ status: 403, code: "ip_not_allowed" });
  });
});

describe("PATCH /accounts/{account_id}/keys/{key_id}", () => {
  it("sets, changes and removes policy fields (absent: unchanged, null: removed), each change one audited event", async () => {
    const { keyId, secret } = await createKey("acct_u1", { label: "svc" });
    const path = `/accounts/acct_u1/keys/${keyId}`;

    const set = await adminCall("PATCH", path, { body: { policy: { ip_allowlist: ["127.0.0.1"] } } });
    expect(set.res.status).toBe(200);
    expect(set.body).toMatchObject({
      key: { key_id: keyId, label: "svc", policy: { ip_allowlist: ["127.0.0.1/32"], rate_limit_per_minute: null } },
      changed: ["policy.ip_allowlist"],
      kv_synced: true,
    });
    expect(set.adminEvents).toHaveLength(1);
    expect(set.adminEvents[0]).toMatchObject({
      action: "key.update",
      outcome: "allowed",
      account_id: "acct_u1",
      key_id: keyId,
      changes: ["policy.ip_allowlist"],
    });
    expect(JSON.stringify(set.adminEvents)).not.toContain("127.0.0.1/32");
    expect(await statusFrom("acct_u1", secret, "127.0.0.1")).toEqual({ status: 200 });
    expect(await statusFrom("acct_u1", secret, "127.0.0.2")).toEqual({ status: 403, code: "ip_not_allowed" });

    const limit = await adminCall("PATCH", path, { body: { label: "svc2", policy: { rate_limit_per_minute: 60 } } });
    expect(limit.body).toMatchObject({
      key: { label: "svc2", policy: { ip_allowlist: ["127.0.0.1/32"], rate_limit_per_minute: 60 } },
      changed: ["label", "policy.rate_limit_per_minute"],
    });
    expect(await kvRecord(secret)).toMatchObject({
      v: 2,
      label: "svc2",
      policy: { ip_allowlist: ["127.0.0.1/32"], rate_limit_per_minute: 60 },
    });

    const same = await adminCall("PATCH", path, { body: { policy: { rate_limit_per_minute: 60 } } });
    expect(same.body).toMatchObject({ changed: [] });
    expect(same.adminEvents[0]).toMatchObject({ action: "key.update", changes: [] });

    const removed = await adminCall("PATCH", path, { body: { policy: { ip_allowlist: null, rate_limit_per_minute: null } } });
    expect(removed.body).toMatchObject({ key: { policy: null }, changed: ["policy.ip_allowlist", "policy.rate_limit_per_minute"] });
    expect(await kvRecord(secret)).toMatchObject({ v: 1 });
    expect(await kvRecord(secret)).not.toHaveProperty("policy");
    expect(await statusFrom("acct_u1", secret, "127.0.0.2")).toEqual({ status: 200 });
  });

  it.each([
    ["an empty body", {}, "body"],
    ["an unknown field", { mode: "test" }, "body.mode"],
    ["a bad range", { policy: { ip_allowlist: ["::ffff:10.0.0.0/104"] } }, "body.policy.ip_allowlist.0"],
    ["a rate limit as a string", { policy: { rate_limit_per_minute: "600" } }, "body.policy.rate_limit_per_minute"],
  ])("%s → 400 invalid_body naming the field, nothing changed", async (_name, body, param) => {
    const { keyId } = await createKey("acct_u2");
    const out = await adminCall("PATCH", `/accounts/acct_u2/keys/${keyId}`, { body });
    expect(out.res.status).toBe(400);
    expect(errorOf(out.body)).toMatchObject({ code: "invalid_body", param });
    expect(out.adminEvents[0]).toMatchObject({ action: "key.update", outcome: "denied", reason: "invalid_body", changes: [] });
    const shown = await adminCall("GET", `/accounts/acct_u2/keys/${keyId}`);
    expect((shown.body as { key: KeyJson }).key.policy).toBeNull();
  });

  it("needs keys:write; an unknown key is 404", async () => {
    const { keyId } = await createKey("acct_u3");
    const { adminToken } = await import("../helpers/admin");
    const readOnly = await adminToken({ claims: { permissions: ["keys:read"] } });
    const denied = await adminCall("PATCH", `/accounts/acct_u3/keys/${keyId}`, { body: { label: "x" }, token: readOnly });
    expect(denied.res.status).toBe(403);
    expect(errorOf(denied.body).code).toBe("insufficient_permission");
    const missing = await adminCall("PATCH", "/accounts/acct_u3/keys/key_nothere", { body: { label: "x" } });
    expect(missing.res.status).toBe(404);
    expect(errorOf(missing.body).code).toBe("key_not_found");
  });

  it("rotation carries the policy over to the new key", async () => {
    const { keyId } = await createKey("acct_u4", { policy: { ip_allowlist: ["10.0.0.0/8"], rate_limit_per_minute: 120 } });
    const rotated = await adminCall("POST", `/accounts/acct_u4/keys/${keyId}/rotate`, { body: { overlap_seconds: 0 } });
    expect(rotated.res.status).toBe(200);
    const out = rotated.body as { key: KeyJson; secret: string };
    expect(out.key.policy).toEqual({ scopes: null, ip_allowlist: ["10.0.0.0/8"], rate_limit_per_minute: 120 });
    expect(await kvRecord(out.secret)).toMatchObject({ v: 2, policy: { ip_allowlist: ["10.0.0.0/8"], rate_limit_per_minute: 120 } });
    expect(await statusFrom("acct_u4", out.secret, "10.20.30.40")).toEqual({ status: 200 });
    expect(await statusFrom("acct_u4", out.secret, "11.0.0.1")).toEqual({ status: 403, code: "ip_not_allowed" });
  });
});
