/**
 * The Worker's entry (src/index.ts) sends API paths straight to the request path and everything that
 * could be a reserved route through the router (src/app.ts `isApiPath`). Both must answer every path
 * the same: these tests send the same requests both ways.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp, isApiPath } from "../../src/app";
import worker from "../../src/index";
import { clearKeyCache } from "../../src/keys/store";
import { API, authHeaders, putKey, SECRET } from "../helpers/fixtures";
import { type OriginStub, stubOrigins } from "../helpers/origin";

let origin: OriginStub;
beforeEach(async () => {
  clearKeyCache();
  await putKey(SECRET);
  origin = stubOrigins();
});
afterEach(() => origin.restore());

interface Answer {
  status: number;
  contentType: string | null;
  body: string;
}

/** The body is read before the execution context is awaited: a forwarded body's audit event waits for its end. */
async function answered(res: Response, ctx: ExecutionContext): Promise<Answer> {
  const body = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, contentType: res.headers.get("content-type"), body };
}

async function viaEntry(path: string, headers: Record<string, string>): Promise<Answer> {
  const ctx = createExecutionContext();
  return answered(await worker.fetch(new Request(`${API}${path}`, { headers }), env, ctx), ctx);
}

async function viaRouter(path: string, headers: Record<string, string>): Promise<Answer> {
  const ctx = createExecutionContext();
  return answered(await createApp().fetch(new Request(`${API}${path}`, { headers }), env, ctx), ctx);
}

describe("isApiPath", () => {
  it("is true only for paths no reserved route can match", () => {
    expect(isApiPath("/v1/charges")).toBe(true);
    expect(isApiPath("/graphql")).toBe(true);
    expect(isApiPath("/")).toBe(true);
    expect(isApiPath("//__spot/admin/v1/keys")).toBe(true);
    for (const path of [
      "/__spot/admin/v1/keys",
      "/__spot/console/",
      "/__spot/debug/counters",
      "/__spotty",
      "/.well-known/spot-authorizer/jwks.json",
      "/.well-known/other",
      "/__spot/%61dmin/v1/keys",
      "/v1/%5F%5Fspot",
      "/%5F%5Fspot/admin/v1/keys",
    ]) {
      expect(isApiPath(path), path).toBe(false);
    }
  });
});

describe("the entry and the router answer alike", () => {
  const cases: [string, Record<string, string>][] = [
    ["/v1/charges", authHeaders()],
    ["/v1/charges", {}],
    ["/v1/%63harges?x=1", authHeaders()],
    ["/__spot/admin/v1/keys", {}],
    ["/__spot/%61dmin/v1/keys", {}],
    ["/__spot/nothing-here", authHeaders()],
    ["/.well-known/spot-authorizer/jwks.json", {}],
    ["/.well-known/other", authHeaders()],
  ];
  for (const [path, headers] of cases) {
    it(`${path} (${Object.keys(headers).length > 0 ? "with" : "without"} credentials)`, async () => {
      const entry = await viaEntry(path, headers);
      const router = await viaRouter(path, headers);
      const withoutIds = (text: string) => text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<id>");
      expect({ ...entry, body: withoutIds(entry.body) }).toEqual({ ...router, body: withoutIds(router.body) });
    });
  }

  it("a percent-encoded admin path reaches the admin API (which refuses API keys), never an origin", async () => {
    const res = await viaEntry("/__spot/%61dmin/v1/keys", authHeaders());
    expect(res.status).toBe(401);
    expect((JSON.parse(res.body) as { error: { code: string } }).error.code).toBe("api_key_not_accepted");
    expect(origin.received).toHaveLength(0);
  });
});
