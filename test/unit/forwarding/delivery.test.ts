import { describe, expect, it } from "vitest";
import { isSmallBody, SMALL_BODY_MAX_BYTES, trackDelivery } from "../../../src/forwarding/delivery";

describe("isSmallBody: the origin's Content-Length decides whether a body is followed", () => {
  it.each([
    ["0", true],
    ["1000", true],
    [String(SMALL_BODY_MAX_BYTES), true],
    [String(SMALL_BODY_MAX_BYTES + 1), false],
    [null, false],
    ["", true],
    ["abc", false],
    ["-1", false],
    ["1e3", true],
    ["99999999999999999999", false],
  ])("Content-Length %j → small %s", (length, small) => {
    expect(isSmallBody(length)).toBe(small);
  });
});

describe("trackDelivery", () => {
  const signal = new AbortController().signal;
  it.each([
    ["no body", new Response(null), "GET"],
    ["HEAD", new Response("x"), "HEAD"],
    ["204", new Response(null, { status: 204 }), "DELETE"],
    ["304", new Response(null, { status: 304 }), "GET"],
  ])("%s: nothing to follow", (_name, res, method) => {
    expect(trackDelivery(res, method, signal, null)).toBeNull();
  });

  it("a small declared body: not followed", () => {
    expect(trackDelivery(new Response("hello"), "GET", signal, "5")).toBeNull();
  });

  it("a body of unknown length: followed, delivered once read", async () => {
    const tracked = trackDelivery(new Response("hello"), "GET", signal, null);
    expect(tracked).not.toBeNull();
    expect(await tracked?.response.text()).toBe("hello");
    expect(await tracked?.delivery).toBe("delivered");
  });
});
