/**
 * The admin API's real answers against its OpenAPI document (docs/admin-api.md "Contract check"):
 *
 * - the document and the admin app agree on the routes (none missing from the document, none extra);
 * - the document can be used by a validator: no `nullable` without `type` (what made Ajv-based
 *   validating proxies such as Prism give up on every answer holding a key);
 * - every status the document declares for every operation is produced through the Worker's fetch
 *   handler and checked by adminCall (test/helpers/admin.ts) against the document;
 * - the check fails on drift: a field the document stops listing, a field an answer stops sending, an
 *   undeclared status, route or media type, a body of the wrong shape.
 *
 * Every other admin test file goes through the same check, since each of their calls uses adminCall.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import committed from "../../docs/admin-openapi.json";
import { ADMIN_MOUNT, createAdminApp } from "../../src/admin/app";
import { AUDIT_QUEUE_NAME, consumeAuditBatch } from "../../src/audit/consumer";
import { clearKeyCache } from "../../src/keys/store";
import { ADMIN, type AdminCallResult, adminCall, adminContract, adminToken, createKey, errorOf } from "../helpers/admin";
import { ContractViolation, type Exchange, responseContract } from "../helpers/openapi-contract";
import { type OriginStub, stubOrigins } from "../helpers/origin";
import { call } from "../helpers/worker";

type Json = Record<string, unknown>;

let origin: OriginStub;
beforeEach(() => {
  clearKeyCache();
  origin = stubOrigins();
});
afterEach(() => {
  origin.restore();
  vi.restoreAllMocks();
});

/** Stores audit events in this file's D1 through the real queue consumer. */
async function store(events: unknown[], id: string): Promise<void> {
  const batch = createMessageBatch<unknown>(AUDIT_QUEUE_NAME, [{ id, timestamp: new Date(), attempts: 1, body: { v: 1, events } }]);
  await consumeAuditBatch(batch, env);
  const result = await getQueueResult(batch, createExecutionContext());
  if (result.explicitAcks.length !== 1) throw new Error(`audit message ${id} was not stored`);
}

/** The request id of a real API request whose event is stored (set in beforeAll). */
let storedRequestId = "";
beforeAll(async () => {
  // A real allowed request and a real refused one, their request events, and the admin events of the
  // key's creation, all stored as the consumer stores them. (Set-up only: its answer is checked below.)
  const stub = stubOrigins();
  try {
    const key = await adminCall("POST", "/accounts/acct_seed/keys", { body: { label: "seed" }, contract: false });
    const secret = (key.body as { secret: string }).secret;
    const allowed = await call("/v1/charges", {
      headers: {
        "X-Spot-Api-Key": "acct_seed",
        "X-Spot-Api-Secret": secret,
        "CF-Connecting-IP": "198.51.100.7",
        "X-Forwarded-For": "203.0.113.9:443, bad",
      },
    });
    const refused = await call("/v1/charges", { headers: { "X-Spot-Api-Key": "acct_seed", "CF-Connecting-IP": "198.51.100.7" } });
    storedRequestId = allowed.res.headers.get("x-request-id") ?? "";
    await store([...allowed.events, ...refused.events, ...key.adminEvents], "contract-seed");
  } finally {
    stub.restore();
  }
});

// ---------------------------------------------------------------------------------------------
// Requests that produce each declared answer

const readOnly = () => adminToken({ claims: { permissions: ["keys:read"] } });
/** Admin settings that cannot be used: every protected operation answers 503 admin_unavailable (and logs why). */
const noAdminSettings = { call: { bindings: { ADMIN_JWKS: "", ADMIN_JWKS_URL: "" } as Partial<Env> } };
/** A SecretClaims namespace whose every hash already belongs to another account. */
const claimsTaken = {
  call: {
    bindings: {
      SECRET_CLAIMS: { idFromName: (name: string) => name, get: () => ({ claim: async () => false }) } as unknown as Env["SECRET_CLAIMS"],
    },
  },
};

let n = 0;
/** A fresh account id per case, so cases do not share state. */
const fresh = () => `acct_contract${++n}`;
async function withKey(): Promise<{ account: string; keyId: string }> {
  const account = fresh();
  return { account, keyId: (await createKey(account)).keyId };
}
async function revoked(): Promise<{ account: string; keyId: string }> {
  const k = await withKey();
  await adminCall("POST", `/accounts/${k.account}/keys/${k.keyId}/revoke`);
  return k;
}

type Case = () => Promise<AdminCallResult>;

/** For each operationId, a request producing each status the document declares for it. */
const CASES: Record<string, Record<string, Case>> = {
  listKeys: {
    200: async () => adminCall("GET", `/accounts/${(await withKey()).account}/keys`),
    400: () => adminCall("GET", "/accounts/not-an-account/keys"),
    401: () => adminCall("GET", "/accounts/acct_1/keys", { token: null }),
    404: () => adminCall("GET", `/accounts/${fresh()}/keys`),
    503: () => adminCall("GET", "/accounts/acct_1/keys", noAdminSettings),
  },
  getKey: {
    200: async () => {
      const k = await withKey();
      return adminCall("GET", `/accounts/${k.account}/keys/${k.keyId}`);
    },
    400: () => adminCall("GET", "/accounts/acct_1/keys/not-a-key"),
    401: () => adminCall("GET", "/accounts/acct_1/keys/key_1", { token: null }),
    404: async () => adminCall("GET", `/accounts/${(await withKey()).account}/keys/key_missing`),
    503: () => adminCall("GET", "/accounts/acct_1/keys/key_1", noAdminSettings),
  },
  createKey: {
    201: () => adminCall("POST", `/accounts/${fresh()}/keys`, { body: { label: "c", policy: { ip_allowlist: ["203.0.113.0/24"] } } }),
    400: () => adminCall("POST", `/accounts/${fresh()}/keys`, { body: { colour: "blue" } }),
    401: () => adminCall("POST", `/accounts/${fresh()}/keys`, { token: null }),
    403: async () => adminCall("POST", `/accounts/${fresh()}/keys`, { token: await readOnly() }),
    409: () => adminCall("POST", `/accounts/${fresh()}/keys`, claimsTaken),
    503: () => adminCall("POST", `/accounts/${fresh()}/keys`, noAdminSettings),
  },
  importKey: {
    201: () => adminCall("POST", `/accounts/${fresh()}/keys/import`, { body: { secret: `sk_live_import${n}contract` } }),
    400: () => adminCall("POST", `/accounts/${fresh()}/keys/import`, { body: { secret: "not-a-secret" } }),
    401: () => adminCall("POST", `/accounts/${fresh()}/keys/import`, { token: null, body: { secret: "sk_live_abcd" } }),
    403: async () => adminCall("POST", `/accounts/${fresh()}/keys/import`, { token: await readOnly(), body: { secret: "sk_live_abcd" } }),
    409: async () => {
      await adminCall("POST", `/accounts/${fresh()}/keys/import`, { body: { secret: "sk_live_twiceContract" } });
      return adminCall("POST", `/accounts/${fresh()}/keys/import`, { body: { secret: "sk_live_twiceContract" } });
    },
    503: () => adminCall("POST", `/accounts/${fresh()}/keys/import`, { ...noAdminSettings, body: { secret: "sk_live_abcd" } }),
  },
  rotateKey: {
    200: async () => {
      const k = await withKey();
      return adminCall("POST", `/accounts/${k.account}/keys/${k.keyId}/rotate`, { body: { overlap_seconds: 60 } });
    },
    400: () => adminCall("POST", "/accounts/acct_1/keys/key_1/rotate", { body: { overlap_seconds: -1 } }),
    401: () => adminCall("POST", "/accounts/acct_1/keys/key_1/rotate", { token: null }),
    403: async () => adminCall("POST", "/accounts/acct_1/keys/key_1/rotate", { token: await readOnly() }),
    404: async () => adminCall("POST", `/accounts/${(await withKey()).account}/keys/key_missing/rotate`),
    409: async () => {
      const k = await revoked();
      return adminCall("POST", `/accounts/${k.account}/keys/${k.keyId}/rotate`);
    },
    503: () => adminCall("POST", "/accounts/acct_1/keys/key_1/rotate", noAdminSettings),
  },
  revokeKey: {
    200: async () => {
      const k = await withKey();
      return adminCall("POST", `/accounts/${k.account}/keys/${k.keyId}/revoke`);
    },
    400: () => adminCall("POST", "/accounts/acct_1/keys/key_1/revoke", { body: { reason: "x" } }),
    401: () => adminCall("POST", "/accounts/acct_1/keys/key_1/revoke", { token: null }),
    403: async () => adminCall("POST", "/accounts/acct_1/keys/key_1/revoke", { token: await readOnly() }),
    404: () => adminCall("POST", `/accounts/${fresh()}/keys/key_missing/revoke`),
    503: () => adminCall("POST", "/accounts/acct_1/keys/key_1/revoke", noAdminSettings),
  },
  updateKey: {
    200: async () => {
      const k = await withKey();
      return adminCall("PATCH", `/accounts/${k.account}/keys/${k.keyId}`, {
        body: { label: null, policy: { rate_limit_per_minute: 600 } },
      });
    },
    400: () => adminCall("PATCH", "/accounts/acct_1/keys/key_1", { body: {} }),
    401: () => adminCall("PATCH", "/accounts/acct_1/keys/key_1", { token: null, body: { label: "x" } }),
    403: async () => adminCall("PATCH", "/accounts/acct_1/keys/key_1", { token: await readOnly(), body: { label: "x" } }),
    404: async () => adminCall("PATCH", `/accounts/${(await withKey()).account}/keys/key_missing`, { body: { label: "x" } }),
    409: async () => {
      const k = await revoked();
      return adminCall("PATCH", `/accounts/${k.account}/keys/${k.keyId}`, { body: { expires_at: null } });
    },
    503: () => adminCall("PATCH", "/accounts/acct_1/keys/key_1", { ...noAdminSettings, body: { label: "x" } }),
  },
  suspendAccount: {
    200: async () => adminCall("POST", `/accounts/${(await withKey()).account}/suspend`),
    400: () => adminCall("POST", "/accounts/acct_1/suspend", { body: { reason: "x" } }),
    401: () => adminCall("POST", "/accounts/acct_1/suspend", { token: null }),
    403: async () => adminCall("POST", "/accounts/acct_1/suspend", { token: await readOnly() }),
    404: () => adminCall("POST", `/accounts/${fresh()}/suspend`),
    503: () => adminCall("POST", "/accounts/acct_1/suspend", noAdminSettings),
  },
  resumeAccount: {
    200: async () => {
      const { account } = await withKey();
      await adminCall("POST", `/accounts/${account}/suspend`);
      return adminCall("POST", `/accounts/${account}/resume`, { body: {} });
    },
    400: () => adminCall("POST", "/accounts/not-an-account/resume"),
    401: () => adminCall("POST", "/accounts/acct_1/resume", { token: null }),
    403: async () => adminCall("POST", "/accounts/acct_1/resume", { token: await readOnly() }),
    404: () => adminCall("POST", `/accounts/${fresh()}/resume`),
    503: () => adminCall("POST", "/accounts/acct_1/resume", noAdminSettings),
  },
  searchAuditEvents: {
    200: async () => {
      const result = await adminCall("GET", "/audit/events?account_id=acct_seed");
      expect((result.body as { events: unknown[] }).events.length).toBeGreaterThan(0); // the item schema is exercised
      return result;
    },
    400: () => adminCall("GET", "/audit/events?limit=0"),
    401: () => adminCall("GET", "/audit/events", { token: null }),
    503: () => adminCall("GET", "/audit/events", noAdminSettings),
  },
  getAuditEvent: {
    200: () => adminCall("GET", `/audit/requests/${storedRequestId}`),
    400: () => adminCall("GET", "/audit/requests/not!an!id"),
    401: () => adminCall("GET", "/audit/requests/req_1", { token: null }),
    404: () => adminCall("GET", "/audit/requests/req-never-seen"),
    503: () => adminCall("GET", "/audit/requests/req_1", noAdminSettings),
  },
  searchAdminAuditEvents: {
    200: async () => {
      const result = await adminCall("GET", "/audit/admin-events?account_id=acct_seed");
      expect((result.body as { events: unknown[] }).events.length).toBeGreaterThan(0);
      return result;
    },
    400: () => adminCall("GET", "/audit/admin-events?action=key.delete"),
    401: () => adminCall("GET", "/audit/admin-events", { token: null }),
    503: () => adminCall("GET", "/audit/admin-events", noAdminSettings),
  },
  getOpenApiDocument: {
    200: () => adminCall("GET", "/openapi.json", { token: null }),
    401: () => adminCall("GET", "/openapi.json", { token: null, headers: { "X-Spot-Api-Key": "acct_1" } }),
  },
};

/** Declared answers no request can bring about, each with the reason. */
const UNREACHABLE: Record<string, string> = {
  "getOpenApiDocument 503":
    "internal_error, declared because the admin app's error handler can answer it on any route; the document is built from the app's own routes, so no request can make that fail",
};

// ---------------------------------------------------------------------------------------------

describe("the document and the admin app", () => {
  it("every route the admin app serves is an operation of the document, and every operation a route", () => {
    const served = new Set(
      createAdminApp()
        .routes.filter((r) => r.method !== "ALL") // middleware and the admin 404
        .map((r) => `${r.method} ${ADMIN_MOUNT}${r.path.replace(/:([A-Za-z_]+)/g, "{$1}")}`),
    );
    const documented = adminContract()
      .operations()
      .map((op) => op.operation);
    expect([...served].sort()).toEqual([...documented].sort());
  });

  it("the committed document can be used by a validator: no nullable without a type, every operation named", () => {
    expect(responseContract(committed).problems).toEqual([]);
  });

  it("a path under the prefix that is no route answers the admin 404, which no operation of the document declares", async () => {
    // There is no DELETE route: the admin app's catch-all answers it, like any unknown admin path.
    const { res, body } = await adminCall("DELETE", "/accounts/acct_1/keys", { contract: false });
    expect(res.status).toBe(404);
    expect(errorOf(body).code).toBe("not_found");
    expect(() => adminContract().check(exchangeOf("DELETE", "/accounts/acct_1/keys", res, body))).toThrow(
      /declares no DELETE operation on \/__spot\/admin\/v1\/accounts\/\{account_id\}\/keys/,
    );
  });
});

describe("every declared answer of every operation, through the Worker", () => {
  it.each(adminContract().operations())("$operation ($operationId)", async ({ operationId, statuses }) => {
    const cases = CASES[operationId] ?? {};
    // A declared status with neither a case nor a reason, or a case for an undeclared one, is a gap.
    expect(Object.keys(cases).sort()).toEqual(statuses.filter((s) => !(`${operationId} ${s}` in UNREACHABLE)).sort());
    vi.spyOn(console, "error").mockImplementation(() => {}); // the 503 cases' admin_config_invalid lines
    for (const [status, run] of Object.entries(cases)) {
      const result = await run(); // adminCall has checked the answer against the document
      expect(result.res.status, `${operationId} ${status}: ${JSON.stringify(result.body).slice(0, 300)}`).toBe(Number(status));
      expect(result.contract).toMatchObject({ operationId, status, mediaType: "application/json" });
    }
  });

  it("every operation of the document has its cases", () => {
    expect(Object.keys(CASES).sort()).toEqual(
      adminContract()
        .operations()
        .map((op) => op.operationId)
        .sort(),
    );
  });
});

// ---------------------------------------------------------------------------------------------

function exchangeOf(method: string, path: string, res: Response, body: unknown): Exchange {
  return { method, path: `${ADMIN}${path}`, status: res.status, contentType: res.headers.get("content-type"), body };
}

/** The committed document, changed by `edit` (a copy). */
function changed(edit: (doc: Json & { paths: Json; components: { schemas: Record<string, Json> } }) => void): Json {
  const doc = structuredClone(committed) as unknown as Json & { paths: Json; components: { schemas: Record<string, Json> } };
  edit(doc);
  return doc;
}

describe("the check catches drift", () => {
  let keyAnswer: Exchange;
  beforeEach(async () => {
    const k = await withKey();
    const path = `/accounts/${k.account}/keys/${k.keyId}`;
    const { res, body } = await adminCall("GET", path);
    keyAnswer = exchangeOf("GET", path, res, body);
  });

  it("a field the answer sends that the document no longer lists", () => {
    const doc = changed((d) => {
      const key = d.components.schemas.Key as { properties: Json; required: string[] };
      delete key.properties.label;
      key.required = key.required.filter((f) => f !== "label");
    });
    expect(() => responseContract(doc).check(keyAnswer)).toThrow(ContractViolation);
    expect(() => responseContract(doc).check(keyAnswer)).toThrow(/#\/key.*additionalProperties|label/s);
  });

  it("a field the document requires that the answer no longer sends", () => {
    const body = structuredClone(keyAnswer.body) as { key: Json };
    delete body.key.created_at;
    expect(() => adminContract().check({ ...keyAnswer, body })).toThrow(/created_at/);
  });

  it("a field of the wrong type, and null where the document does not allow it", () => {
    const body = structuredClone(keyAnswer.body) as { key: Json & { policy: Json | null } };
    expect(() => adminContract().check({ ...keyAnswer, body: { key: { ...body.key, mode: "both" } } })).toThrow(/mode/);
    expect(() => adminContract().check({ ...keyAnswer, body: { key: { ...body.key, created_at: null } } })).toThrow(/created_at/);
    const policy = { scopes: ["keys:read"], ip_allowlist: null, rate_limit_per_minute: 60 };
    expect(() => adminContract().check({ ...keyAnswer, body: { key: { ...body.key, policy } } })).toThrow(/scopes/);
  });

  it("a status the document does not declare for the operation", async () => {
    const { res, body } = await adminCall("GET", "/accounts/acct_nobody/keys/key_1");
    expect(res.status).toBe(404);
    const doc = changed((d) => {
      delete ((d.paths[`${ADMIN}/accounts/{account_id}/keys/{key_id}`] as Json).get as { responses: Json }).responses["404"];
    });
    expect(() => responseContract(doc).check(exchangeOf("GET", "/accounts/acct_nobody/keys/key_1", res, body))).toThrow(
      /status 404 is not declared \(declared: 200, 400, 401, 503\)/,
    );
  });

  it("a route the document does not have, and a media type it does not declare", () => {
    const doc = changed((d) => {
      delete d.paths[`${ADMIN}/accounts/{account_id}/keys/{key_id}`];
    });
    expect(() => responseContract(doc).check(keyAnswer)).toThrow(/no path of the document matches/);
    expect(() => adminContract().check({ ...keyAnswer, contentType: "text/plain; charset=UTF-8" })).toThrow(
      /Content-Type "text\/plain; charset=UTF-8" is not declared/,
    );
  });

  it("a document with nullable but no type cannot be used (the document before issue 11's fix)", () => {
    const doc = changed((d) => {
      const policy = (d.components.schemas.Key as { properties: { policy: { properties: Json } } }).properties.policy;
      policy.properties.scopes = { nullable: true, description: "Reserved for later: always null, not enforced." };
    });
    const contract = responseContract(doc);
    expect(contract.problems).toEqual(["#/components/schemas/Key/properties/policy/properties/scopes: nullable without type"]);
    expect(() => contract.check(keyAnswer)).toThrow(/cannot be used to check answers/);
  });
});

describe("the schema dialect follows the document's openapi version", () => {
  const doc = (openapi: string, value: Json): Json => ({
    openapi,
    info: { title: "t", version: "1" },
    paths: {
      "/x": {
        get: {
          operationId: "x",
          responses: {
            "2XX": {
              description: "ok",
              content: { "application/json": { schema: { type: "object", properties: { a: value }, required: ["a"] } } },
            },
          },
        },
      },
    },
  });
  const answer = (body: unknown): Exchange => ({ method: "GET", path: "/x?q=1", status: 200, contentType: "application/json", body });

  it("3.0: nullable adds null to the type; an enum still has its say", () => {
    const nullable = responseContract(doc("3.0.3", { type: "string", nullable: true }));
    expect(nullable.check(answer({ a: null }))).toEqual({
      operationId: "x",
      operation: "GET /x",
      status: "2XX",
      mediaType: "application/json",
    });
    expect(() => nullable.check(answer({ a: 1 }))).toThrow(ContractViolation);
    expect(() => nullable.check(answer({ a: "s", b: 1 }))).toThrow(/additionalProperties|b/);
    const enumWithoutNull = responseContract(doc("3.0.3", { type: "string", nullable: true, enum: ["s"] }));
    expect(() => enumWithoutNull.check(answer({ a: null }))).toThrow(ContractViolation);
  });

  it("3.1: JSON Schema 2020-12 as written (null is a type)", () => {
    const contract = responseContract(doc("3.1.0", { type: ["string", "null"] }));
    expect(contract.check(answer({ a: null })).status).toBe("2XX");
    expect(() => contract.check(answer({ a: 1 }))).toThrow(ContractViolation);
    expect(() => responseContract(doc("2.0", { type: "string" }))).toThrow(/not supported/);
  });
});
