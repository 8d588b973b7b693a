import { describe, expect, it } from "vitest";
import {
  buildUpstreamHeaders,
  canonicalHeaderName,
  forgedIdentityHeaders,
  isReservedHeader,
  isWebSocketUpgrade,
} from "../../../src/forwarding/headers";
import { buildUpstreamUrl } from "../../../src/forwarding/url";

describe("buildUpstreamHeaders", () => {
  const ours = { "X-Spot-Account-Id": "acct_1", "X-Spot-Key-Id": "key_1", "X-Forwarded-For": "198.51.100.23" };

  it("drops hop-by-hop headers and every header named in Connection", () => {
    const incoming = new Headers({
      Connection: "keep-alive, X-Debug-Trace, x-other",
      "Keep-Alive": "timeout=5",
      "X-Debug-Trace": "1",
      "X-Other": "2",
      "Proxy-Authorization": "Basic abc",
      "Proxy-Connection": "keep-alive",
      TE: "trailers",
      Trailer: "Expires",
      Upgrade: "h2c",
      Accept: "application/json",
    });
    const { headers } = buildUpstreamHeaders(incoming, {});
    expect([...headers.keys()]).toEqual(["accept"]);
  });

  it("keeps Upgrade for a WebSocket handshake only", () => {
    const incoming = new Headers({ Upgrade: "websocket", Connection: "Upgrade" });
    const handshake = buildUpstreamHeaders(incoming, {}, true).headers;
    expect(handshake.get("upgrade")).toBe("websocket");
    expect(handshake.has("connection")).toBe(false);
    expect(buildUpstreamHeaders(incoming, {}, false).headers.has("upgrade")).toBe(false);
  });

  it.each([
    ["GET", "websocket", true],
    ["GET", " WebSocket ", true],
    ["POST", "websocket", false],
    ["GET", "h2c", false],
    ["GET", null, false],
  ])("%s with Upgrade %j is a WebSocket handshake: %s", (method, upgrade, expected) => {
    const headers = new Headers(upgrade ? { Upgrade: upgrade } : {});
    expect(isWebSocketUpgrade(new Request("https://api.example/x", { method, headers, body: method === "POST" ? "{}" : null }))).toBe(
      expected,
    );
  });

  it.each([
    "X-Spot-Api-Secret",
    "x-spot-api-secret",
    "X_Spot_Api_Secret",
    "X-Spot-Account-Id",
    "X_SPOT_ACCOUNT_ID",
    "x-spot_key-id",
    "X-Spot-Assertion",
    "X-Forwarded-For",
    "Forwarded",
    "X-Real-IP",
    "True-Client-IP",
    "X-Request-Id",
    "X-Forwarded-Port",
    "X-Forwarded-Prefix",
    "X-Forwarded-Server",
    "X-Original-Forwarded-For",
    "X-Original-URL",
    "X-Rewrite-URL",
    "X-Client-IP",
    "X-Cluster-Client-IP",
    "X-HTTP-Method-Override",
    "X-Method-Override",
    "X.Spot.Account.Id",
  ])("drops the client's %s under any spelling", (name) => {
    const { headers } = buildUpstreamHeaders(new Headers([[name, "forged"]]), {});
    expect([...headers.values()]).not.toContain("forged");
  });

  it("adds ours after every removal, so Connection cannot remove them", () => {
    const incoming = new Headers({ Connection: "X-Spot-Account-Id, X-Spot-Key-Id, X-Forwarded-For", "X-Spot-Account-Id": "acct_forged" });
    const { headers, strippedReserved } = buildUpstreamHeaders(incoming, ours);
    expect(headers.get("x-spot-account-id")).toBe("acct_1");
    expect(headers.get("x-spot-key-id")).toBe("key_1");
    expect(headers.get("x-forwarded-for")).toBe("198.51.100.23");
    // The forged header is still reported, as the audit event records it (Connection does not hide it).
    expect(strippedReserved).toEqual(["x-spot-account-id"]);
  });

  it("reports forged identity headers but not the client's credentials", () => {
    const incoming = new Headers({ "X-Spot-Api-Key": "acct_1", "X-Spot-Api-Secret": "sk_live_abcd", X_Spot_Key_Id: "key_forged" });
    expect(buildUpstreamHeaders(incoming, {}).strippedReserved).toEqual(["x-spot-key-id"]);
  });

  it("keeps ordinary headers, values with non-ASCII bytes included", () => {
    const incoming = new Headers({ "User-Agent": "B\u00c3\u00bcro-Sync/2.1", "X-Custom": "a\u00ffb", "Content-Type": "application/json" });
    const { headers } = buildUpstreamHeaders(incoming, {});
    expect(headers.get("user-agent")).toBe("B\u00c3\u00bcro-Sync/2.1");
    expect(headers.get("x-custom")).toBe("a\u00ffb");
  });

  it("forgedIdentityHeaders: every x-spot-* name but the client's own, canonical, once, whatever Connection says", () => {
    const incoming = new Headers([
      ["X-Spot-Api-Key", "acct_1"],
      ["X-Spot-Api-Secret", "sk_live_abcd"],
      ["X-Spot-Api-Version", "2024-11-15"],
      ["X_Spot_Assertion", "a"],
      ["x.spot.assertion", "b"],
      ["X-SPOT-ACCOUNT-ID", "acct_2"],
      ["X-Spot-Something-New", "1"],
      ["Connection", "X-Spot-Key-Id"],
      ["X-Spot-Key-Id", "key_2"],
      ["X-Forwarded-For", "1.2.3.4"],
      ["Accept", "*/*"],
    ]);
    expect(forgedIdentityHeaders(incoming).sort()).toEqual([
      "x-spot-account-id",
      "x-spot-assertion",
      "x-spot-key-id",
      "x-spot-something-new",
    ]);
    expect(forgedIdentityHeaders(new Headers({ "X-Spot-Api-Key": "acct_1", "User-Agent": "x" }))).toEqual([]);
  });

  it("helpers", () => {
    expect(canonicalHeaderName("X_Spot_Key_Id")).toBe("x-spot-key-id");
    expect(isReservedHeader("Accept")).toBe(false);
    expect(isReservedHeader("host")).toBe(true);
  });
});

describe("buildUpstreamUrl", () => {
  it.each([
    ["https://o.example", "https://api.example/v1/charges?x=1", "https://o.example/v1/charges?x=1"],
    ["https://o.example", "https://api.example//evil.example/v1", "https://o.example//evil.example/v1"],
    ["https://o.example", "https://api.example/%5Cevil.example/v1", "https://o.example/%5Cevil.example/v1"],
    ["https://o.example", "https://api.example/\\evil.example/v1", "https://o.example//evil.example/v1"],
    ["https://o.example/base", "https://api.example/v1", "https://o.example/base/v1"],
    ["https://o.example/base", "https://api.example//x", "https://o.example/base//x"],
    ["http://127.0.0.1:8702", "http://127.0.0.1:8787/graphql?query=%7B%7D", "http://127.0.0.1:8702/graphql?query=%7B%7D"],
    ["https://o.example", "https://api.example/a/../../b", "https://o.example/b"],
  ])("%s + %s → %s", (origin, requestUrl, expected) => {
    expect(buildUpstreamUrl(origin, requestUrl).href).toBe(expected);
  });

  it("the host is always the origin's", () => {
    for (const path of ["//evil.example", "/@evil.example", "/%2F%2Fevil.example", "/..%2F..%2Fevil"]) {
      expect(buildUpstreamUrl("https://o.example", `https://api.example${path}`).host).toBe("o.example");
    }
  });
});
