/**
 * shared/cases/request-path.md, each case as a test with its right value, through the Worker's
 * real fetch handler in workerd.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearKeyCache } from "../../src/keys/store";
import { ACCOUNT, authHeaders, CONNECTING_IP, KEY_ID, putKey, SECRET } from "../helpers/fixtures";
import { type OriginStub, stubOrigins } from "../helpers/origin";
import { call } from "../helpers/worker";

let origin: OriginStub;
beforeEach(async () => {
  clearKeyCache();
  await putKey(SECRET);
  origin = stubOrigins();
});
afterEach(() => origin.restore());

function errorOf(body: unknown): { type: string; code: string; message: string; request_id: string } {
  return (body as { error: { type: string; code: string; message: string; request_id: string } }).error;
}

describe("C1 every shape of address in X-Forwarded-For", () => {
  const xff = "2001:db8:85a3::8a2e:370:7334, [2001:db8::1]:443, 203.0.113.9:51234, ::ffff:203.0.113.10, not-an-ip";

  it("answers 200, parses each entry, keeps the connecting IP and appends it upstream", async () => {
    const { res, events } = await call("/v1/charges", { headers: authHeaders({ "X-Forwarded-For": xff }) });
    expect(res.status).toBe(200);
    expect(origin.received).toHaveLength(1);
    expect(origin.received[0]?.headers.get("x-forwarded-for")).toBe(`${xff}, ${CONNECTING_IP}`);

    expect(events).toHaveLength(1);
    const event = events[0];
    expect(event?.connecting_ip).toBe(CONNECTING_IP);
    expect(event?.source_ip).toBe("2001:db8:85a3::8a2e:370:7334");
    expect(event?.source_ip_from).toBe("x-forwarded-for");
    expect(event?.forwarded_chain.map((e) => [e.ip, e.port, e.valid])).toEqual([
      ["2001:db8:85a3::8a2e:370:7334", null, true],
      ["2001:db8::1", 443, true],
      ["203.0.113.9", 51234, true],
      ["203.0.113.10", null, true],
      [null, null, false],
    ]);
    expect(event?.forwarded_chain[4]?.raw).toBe("not-an-ip");
  });

  it("without X-Forwarded-For the source is the connecting IP and upstream gets only it", async () => {
    const { res, events } = await call("/v1/charges", { headers: authHeaders() });
    expect(res.status).toBe(200);
    expect(origin.received[0]?.headers.get("x-forwarded-for")).toBe(CONNECTING_IP);
    expect(events[0]?.source_ip).toBe(CONNECTING_IP);
    expect(events[0]?.source_ip_from).toBe("cf-connecting-ip");
  });
});

describe("C2 a path that tries to become a host", () => {
  it.each(["//evil.example/v1/charges", "/%5Cevil.example/v1/charges", "/%2F%2Fevil.example/v1/charges", "/..//evil.example/x"])(
    "%s stays a path on the configured origin",
    async (path) => {
      const { res } = await call(path, { headers: authHeaders() });
      expect(res.status).toBe(200);
      expect(origin.received).toHaveLength(1);
      const url = origin.received[0]?.url;
      expect(url?.host).toBe("v2024-11-15.origin.test");
      expect(url?.protocol).toBe("https:");
    },
  );

  it("forwards //evil.example/v1/charges as the path, not a host", async () => {
    await call("//evil.example/v1/charges?limit=3", { headers: authHeaders() });
    expect(origin.received[0]?.url.href).toBe("https://v2024-11-15.origin.test//evil.example/v1/charges?limit=3");
  });

  it("keeps %5C encoded on the way upstream", async () => {
    await call("/%5Cevil.example/v1/charges", { headers: authHeaders() });
    expect(origin.received[0]?.url.pathname).toBe("/%5Cevil.example/v1/charges");
  });
});

describe("C3 secrets of another length or with non-ASCII characters", () => {
  it.each([
    ["sk_live_abcé", 400, "malformed_api_secret"],
    ["sk_live_ab", 400, "malformed_api_secret"],
    ["", 401, "missing_api_secret"],
  ])("secret %j → %i %s without a KV read", async (secret, status, code) => {
    const headers = new Headers(authHeaders());
    headers.set("X-Spot-Api-Secret", secret);
    const { res, body, kvReads } = await call("/v1/charges", { headers });
    expect(res.status).toBe(status);
    expect(errorOf(body).code).toBe(code);
    expect(kvReads).toEqual([]);
    expect(origin.received).toHaveLength(0);
  });

  it("a wrong secret for a real account and any secret for an unknown account get identical bodies", async () => {
    const wrong = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Secret": "sk_live_WrongSecretButWellFormed0000" }) });
    const unknown = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Key": "acct_999" }) });
    for (const r of [wrong, unknown]) {
      expect(r.res.status).toBe(401);
      expect(errorOf(r.body).code).toBe("invalid_credentials");
      expect(r.res.headers.get("www-authenticate")).toContain("SpotApiKey");
    }
    const strip = (body: unknown) => JSON.stringify(body).replace(errorOf(body).request_id, "<id>");
    expect(strip(wrong.body)).toBe(strip(unknown.body));
    expect(origin.received).toHaveLength(0);
  });
});

describe("C4 the same credential header twice", () => {
  it.each(["X-Spot-Api-Key", "X-Spot-Api-Secret", "X-Spot-Api-Version"])(
    "two %s lines → 400 duplicate_header, no KV read, no upstream",
    async (name) => {
      const headers = new Headers(authHeaders({ "X-Spot-Api-Version": "2024-11-15" }));
      headers.append(name, name === "X-Spot-Api-Key" ? "acct_999" : name === "X-Spot-Api-Secret" ? SECRET : "2024-06-01");
      const { res, body, kvReads } = await call("/v1/charges", { headers });
      expect(res.status).toBe(400);
      expect(errorOf(body).code).toBe("duplicate_header");
      expect(errorOf(body).message).toContain(name);
      expect(kvReads).toEqual([]);
      expect(origin.received).toHaveLength(0);
    },
  );
});

describe("C5 dates that do not exist", () => {
  it.each(["2024-02-30", "2023-02-29", "2024-04-31", "2024-11-15T00:00:00Z", "2024-1-5", "+002024-11-15", "20241115", "2024-11- 15"])(
    "%s → 400 invalid_api_version, no KV read",
    async (version) => {
      const { res, body, kvReads } = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Version": version }) });
      expect(res.status).toBe(400);
      expect(errorOf(body).code).toBe("invalid_api_version");
      expect(kvReads).toEqual([]);
      expect(origin.received).toHaveLength(0);
    },
  );

  it("2024-02-29 is a real date but not published → 400 unsupported_api_version listing the versions", async () => {
    const { res, body } = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Version": "2024-02-29" }) });
    expect(res.status).toBe(400);
    expect(errorOf(body).code).toBe("unsupported_api_version");
    for (const v of ["2024-06-01", "2024-11-15", "2025-03-01"]) expect(errorOf(body).message).toContain(v);
  });

  it("2024-06-01 → 200 from the origin of 2024-06-01", async () => {
    const { res } = await call("/v1/charges", { headers: authHeaders({ "X-Spot-Api-Version": "2024-06-01" }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-spot-api-version")).toBe("2024-06-01");
    expect(origin.received[0]?.url.host).toBe("v2024-06-01.origin.test");
    expect(origin.received[0]?.headers.get("x-spot-api-version")).toBe("2024-06-01");
  });

  it("absent → 200 from the origin of 2024-11-15, never the preview", async () => {
    const { res } = await call("/v1/charges", { headers: authHeaders() });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-spot-api-version")).toBe("2024-11-15");
    expect(origin.received[0]?.url.host).toBe("v2024-11-15.origin.test");
  });
});

describe("C6 hop-by-hop headers and headers named in Connection", () => {
  // Called with a Request built in the test, so Connection reaches the Worker as written. Over HTTP,
  // workerd consumes Connection/Keep-Alive/TE before the Worker runs (docs/upstream.md).
  it("the origin receives none of them, and the body intact", async () => {
    const headers = new Headers(authHeaders());
    headers.set("Connection", "keep-alive, X-Debug-Trace");
    headers.set("Keep-Alive", "timeout=5");
    headers.set("X-Debug-Trace", "1");
    headers.set("Proxy-Authorization", "Basic dXNlcjpwYXNz");
    headers.set("TE", "trailers");
    headers.set("Content-Type", "application/json");
    const { res } = await call("/v1/charges", { method: "POST", headers, body: '{"amount":100}' });
    expect(res.status).toBe(200);
    const got = origin.received[0];
    for (const name of ["connection", "keep-alive", "proxy-authorization", "te", "x-debug-trace", "x-spot-api-secret"]) {
      expect(got?.headers.has(name), name).toBe(false);
    }
    expect(got?.method).toBe("POST");
    expect(got?.body).toBe('{"amount":100}');
    expect(got?.headers.get("content-type")).toBe("application/json");
  });

  it("naming the authorizer's own headers in Connection does not remove them", async () => {
    const headers = new Headers(
      authHeaders({
        Connection: "X-Spot-Account-Id, X-Spot-Key-Id, X-Spot-Api-Version, X-Forwarded-For, X-Request-Id",
        "X-Forwarded-For": "203.0.113.1",
      }),
    );
    const { res } = await call("/v1/charges", { headers });
    expect(res.status).toBe(200);
    const got = origin.received[0]?.headers;
    expect(got?.get("x-spot-account-id")).toBe(ACCOUNT);
    expect(got?.get("x-spot-key-id")).toBe(KEY_ID);
    expect(got?.get("x-spot-api-version")).toBe("2024-11-15");
    expect(got?.get("x-forwarded-for")).toBe(`203.0.113.1, ${CONNECTING_IP}`);
    expect(got?.get("x-request-id")).toBe(res.headers.get("x-request-id"));
  });
});

describe("C7 bytes that are not ASCII in ordinary headers", () => {
  it.each([
    ["Büro-Sync/2.1", "Büro-Sync/2.1"],
    // UTF-8 bytes of "Büro" read one byte per character, as a Latin-1 reading of the wire gives them.
    ["B\u00c3\u00bcro-Sync/2.1", "B\u00c3\u00bcro-Sync/2.1"],
    ["agent\u00ff/1", "agent\u00ff/1"],
  ])("User-Agent %j passes and is stored as %j, valid UTF-8 in the event", async (sent, stored) => {
    const headers = new Headers(authHeaders({ "User-Agent": sent, "X-Custom": "a\u00ffb" }));
    const { res, events } = await call("/v1/charges", { headers });
    expect(res.status).toBe(200);
    expect(events).toHaveLength(1);
    expect(events[0]?.user_agent).toBe(stored);
    expect(events[0]?.user_agent_length).toBe(sent.length);
    const bytes = new TextEncoder().encode(JSON.stringify(events[0]));
    expect(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes)).toContain(stored);
    expect(origin.received[0]?.headers.get("x-custom")).toBe("a\u00ffb");
  });

  it("X-Spot-Api-Key: acct_12é → malformed_api_key with no KV read", async () => {
    const headers = new Headers(authHeaders());
    headers.set("X-Spot-Api-Key", "acct_12\u00e9");
    const { res, body, kvReads } = await call("/v1/charges", { headers });
    expect(res.status).toBe(400);
    expect(errorOf(body).code).toBe("malformed_api_key");
    expect(kvReads).toEqual([]);
  });
});

describe("C8 an audit event that would be too big", () => {
  it("only a long X-Forwarded-For cut: the event says truncated", async () => {
    const xff = Array.from({ length: 30 }, (_, i) => `203.0.113.${i}`).join(", ");
    const { events } = await call("/v1/charges", { headers: authHeaders({ "X-Forwarded-For": xff }) });
    expect(events[0]?.forwarded_chain).toHaveLength(20);
    expect(events[0]?.user_agent).toBeNull();
    expect(events[0]?.truncated).toBe(true);
  });

  it("nothing cut: truncated is false", async () => {
    const { events } = await call("/v1/charges", { headers: authHeaders({ "X-Forwarded-For": "203.0.113.1" }) });
    expect(events[0]?.truncated).toBe(false);
  });

  it("answers 200 and sends a capped event", async () => {
    const xff = Array.from({ length: 500 }, (_, i) => `203.0.${Math.floor(i / 250)}.${i % 250}`).join(", ");
    const { res, events } = await call("/v1/charges", {
      headers: authHeaders({ "User-Agent": "u".repeat(100_000), "X-Forwarded-For": xff }),
    });
    expect(res.status).toBe(200);
    expect(events).toHaveLength(1);
    const event = events[0];
    expect(event?.user_agent?.length).toBeLessThanOrEqual(1024);
    expect(event?.user_agent_length).toBe(100_000);
    expect(event?.forwarded_chain.length).toBe(20);
    expect(event?.forwarded_count).toBe(500);
    expect(event?.forwarded_for?.length).toBe(2048);
    expect(event?.forwarded_for_length).toBe(xff.length);
    expect(event?.truncated).toBe(true);
    expect(new TextEncoder().encode(JSON.stringify({ v: 1, events })).byteLength).toBeLessThan(128_000);
  });
});
