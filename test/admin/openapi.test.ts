/**
 * The OpenAPI document of the admin API: served at GET /__spot/admin/v1/openapi.json, generated from
 * the zod schemas that validate the requests, and committed as docs/admin-openapi.json (`npm run openapi`).
 */
import { describe, expect, it } from "vitest";
import committed from "../../docs/admin-openapi.json";
import { ERROR_CODES } from "../../src/errors";
import { ADMIN } from "../helpers/admin";
import { call } from "../helpers/worker";

type Doc = {
  openapi: string;
  paths: Record<
    string,
    Record<string, { operationId: string; security?: unknown[]; responses: Record<string, unknown>; requestBody?: unknown }>
  >;
  components: {
    schemas: Record<string, { properties?: Record<string, unknown>; enum?: string[] }>;
    securitySchemes: Record<string, unknown>;
  };
};

describe("OpenAPI document", () => {
  it("is served without a token, as JSON, and equals docs/admin-openapi.json (run `npm run openapi` after a change)", async () => {
    const { res, body } = await call(`${ADMIN}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(body).toEqual(committed);
  });

  it("describes every admin operation under the reserved prefix: the bearer scheme on each but the document itself", async () => {
    const doc = (await call(`${ADMIN}/openapi.json`)).body as Doc;
    expect(doc.openapi).toBe("3.0.3");
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => [`${method.toUpperCase()} ${path}`, op] as const),
    );
    expect(operations.map(([name, op]) => `${name} ${op.operationId}`).sort()).toEqual(
      [
        "GET /__spot/admin/v1/accounts/{account_id}/keys listKeys",
        "POST /__spot/admin/v1/accounts/{account_id}/keys createKey",
        "GET /__spot/admin/v1/accounts/{account_id}/keys/{key_id} getKey",
        "POST /__spot/admin/v1/accounts/{account_id}/keys/import importKey",
        "POST /__spot/admin/v1/accounts/{account_id}/keys/{key_id}/rotate rotateKey",
        "POST /__spot/admin/v1/accounts/{account_id}/keys/{key_id}/revoke revokeKey",
        "PATCH /__spot/admin/v1/accounts/{account_id}/keys/{key_id} updateKey",
        "POST /__spot/admin/v1/accounts/{account_id}/suspend suspendAccount",
        "POST /__spot/admin/v1/accounts/{account_id}/resume resumeAccount",
        "GET /__spot/admin/v1/audit/events searchAuditEvents",
        "GET /__spot/admin/v1/audit/requests/{request_id} getAuditEvent",
        "GET /__spot/admin/v1/audit/admin-events searchAdminAuditEvents",
        "GET /__spot/admin/v1/openapi.json getOpenApiDocument",
      ].sort(),
    );
    for (const [name, op] of operations) {
      // The document needs no token (security: [] says so explicitly); every other operation needs one.
      expect(op.security).toEqual(name === `GET ${ADMIN}/openapi.json` ? [] : [{ adminBearer: [] }]);
      expect(op.responses).toHaveProperty("401");
    }
    expect(doc.components.securitySchemes.adminBearer).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
  });

  it("the documented bodies are the validated ones, and the error codes are the closed set", async () => {
    const doc = (await call(`${ADMIN}/openapi.json`)).body as Doc;
    expect(Object.keys(doc.components.schemas.CreateKeyRequest?.properties ?? {}).sort()).toEqual([
      "expires_at",
      "label",
      "mode",
      "policy",
    ]);
    expect(Object.keys(doc.components.schemas.RotateKeyRequest?.properties ?? {}).sort()).toEqual([
      "expires_at",
      "label",
      "overlap_seconds",
    ]);
    expect(Object.keys(doc.components.schemas.ImportKeyRequest?.properties ?? {}).sort()).toEqual([
      "expires_at",
      "label",
      "policy",
      "secret",
    ]);
    expect(Object.keys(doc.components.schemas.UpdateKeyRequest?.properties ?? {}).sort()).toEqual(["expires_at", "label", "policy"]);
    expect(Object.keys(doc.components.schemas.KeyPolicyRequest?.properties ?? {}).sort()).toEqual([
      "ip_allowlist",
      "rate_limit_per_minute",
    ]);
    // null removes a policy field (docs/admin-api.md), so the document must accept it: in OpenAPI 3.0 an
    // enum has to list null beside `nullable`, and a `type` given in .openapi() would drop `nullable`.
    for (const field of ["ip_allowlist", "rate_limit_per_minute"]) {
      const schema = doc.components.schemas.KeyPolicyRequest?.properties?.[field] as { nullable?: boolean; enum?: unknown[] };
      expect(schema.nullable, field).toBe(true);
      if (schema.enum) expect(schema.enum, field).toContain(null);
    }
    const key = Object.keys(doc.components.schemas.Key?.properties ?? {});
    expect(key).not.toContain("secret_hash");
    expect(key).not.toContain("secret");
    const error = doc.components.schemas.Error?.properties?.error as { properties: { code: { enum: string[] } } };
    expect(error.properties.code.enum.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it("documents the audit query parameters that are validated, and the event shapes it returns", async () => {
    const doc = (await call(`${ADMIN}/openapi.json`)).body as Doc;
    const params = (path: string) =>
      ((doc.paths[`${ADMIN}${path}`]?.get as unknown as { parameters?: { name: string; in: string }[] } | undefined)?.parameters ?? []).map(
        (p) => `${p.in}.${p.name}`,
      );
    expect(params("/audit/events").sort()).toEqual(
      ["account_id", "connecting_ip", "cursor", "key_id", "limit", "outcome", "request_id", "since", "source_ip", "until", "would_refuse"]
        .map((n) => `query.${n}`)
        .sort(),
    );
    expect(params("/audit/admin-events").sort()).toEqual(
      ["account_id", "action", "actor", "cursor", "key_id", "limit", "since", "until"].map((n) => `query.${n}`).sort(),
    );
    expect(params("/audit/requests/{request_id}")).toEqual(["path.request_id"]);
    const event = Object.keys(doc.components.schemas.AuditEvent?.properties ?? {});
    expect(event).toContain("forwarded_chain");
    expect(event).not.toContain("time_ms");
    expect(event).not.toContain("stored_at");
    expect(Object.keys(doc.components.schemas.AdminAuditEvent?.properties ?? {})).toContain("query");
  });
});
