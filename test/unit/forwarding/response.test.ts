/** The origin's response as passed back to the client (src/forwarding/response.ts). */
import { describe, expect, it } from "vitest";
import { downstreamResponse } from "../../../src/forwarding/response";

describe("downstreamResponse", () => {
  it("keeps status, status text, body and end-to-end headers, and its headers can be stamped", async () => {
    const answer = new Response('{"ok":true}', {
      status: 201,
      statusText: "Created Here",
      headers: { "content-type": "application/json", "content-length": "11", "x-origin": "a", "set-cookie": "s=1" },
    });
    const res = downstreamResponse(answer);
    expect(res.status).toBe(201);
    expect(res.statusText).toBe("Created Here");
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("content-length")).toBe("11");
    expect(res.headers.get("x-origin")).toBe("a");
    expect(res.headers.get("set-cookie")).toBe("s=1");
    res.headers.set("X-Request-Id", "r1");
    expect(res.headers.get("x-request-id")).toBe("r1");
    expect(await res.text()).toBe('{"ok":true}');
  });

  it("drops hop-by-hop headers and the headers Connection names (tokens only)", () => {
    const answer = new Response("x", {
      headers: {
        connection: "close, X-Internal-Hop, bad token",
        "keep-alive": "timeout=5",
        "proxy-authenticate": "Basic",
        trailer: "x-checksum",
        upgrade: "h2c",
        "x-internal-hop": "1",
        "x-kept": "1",
      },
    });
    const res = downstreamResponse(answer);
    for (const name of ["connection", "keep-alive", "proxy-authenticate", "trailer", "upgrade", "x-internal-hop"]) {
      expect(res.headers.has(name), name).toBe(false);
    }
    expect(res.headers.get("x-kept")).toBe("1");
  });

  it("drops Content-Encoding and Content-Length of a body the runtime decodes", () => {
    const answer = new Response("decoded", { headers: { "content-encoding": "gzip", "content-length": "5", vary: "accept-encoding" } });
    const res = downstreamResponse(answer);
    expect(res.headers.has("content-encoding")).toBe(false);
    expect(res.headers.has("content-length")).toBe(false);
    expect(res.headers.get("vary")).toBe("accept-encoding");
  });
});
