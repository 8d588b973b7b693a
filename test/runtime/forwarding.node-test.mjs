// The forward step on the real runtime (plain workerd, the production bundle): what a client's raw
// bytes and an origin's faults become, where workerd's own HTTP handling decides the outcome (issue 11,
// items 2, 3, 4 and 7). Run by `npm test` (node --test); builds the bundle first (about 5 s).

import assert from "node:assert/strict";
import http from "node:http";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ACCOUNT, headerOf, jsonOf, rawExchange, sleep, startAuthorizer, statusOf, waitFor } from "./harness.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const MB = 1_000_000;
const UPSTREAM_TIMEOUT_MS = 1000;

/** What the origin saw of each request, by X-Request-Id: method, upgrade header, bytes, how the body ended. */
const seen = new Map();

/**
 * The test origin. Paths:
 *   /echo      reads the whole body, answers JSON { method, upgrade, bytes }
 *   /silent    reads the whole body, never answers
 *   /cut       declares 100,000 bytes, sends 20,000, then drops the connection
 *   /slow      100,000 bytes in ten chunks, one every 150 ms
 *   /late      200,000 bytes, after 800 ms
 *   /two-cl    a malformed answer: two different Content-Length values
 */
function startOrigin() {
  const server = http.createServer((req, res) => {
    const id = req.headers["x-request-id"] ?? "none";
    const framing =
      req.headers["content-length"] !== undefined
        ? `length ${req.headers["content-length"]}`
        : (req.headers["transfer-encoding"] ?? "none");
    const record = { method: req.method, upgrade: req.headers.upgrade ?? null, framing, bytes: 0, body: "pending" };
    seen.set(id, record);
    req.on("data", (chunk) => {
      record.bytes += chunk.length;
    });
    req.on("aborted", () => {
      record.body = "aborted";
    });
    req.on("end", () => {
      record.body = "complete";
      const path = req.url.split("?")[0];
      if (path === "/echo") {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ method: req.method, upgrade: record.upgrade, framing, bytes: record.bytes }));
      } else if (path === "/cut") {
        res.writeHead(200, { "content-length": "100000" });
        res.write(Buffer.alloc(20_000, 97));
        setTimeout(() => res.socket.destroy(), 100);
      } else if (path === "/slow") {
        res.writeHead(200, { "content-length": "100000" });
        let sent = 0;
        const timer = setInterval(() => {
          res.write(Buffer.alloc(10_000, 98));
          sent += 10_000;
          if (sent >= 100_000) {
            clearInterval(timer);
            res.end();
          }
        }, 150);
        res.on("close", () => clearInterval(timer));
      } else if (path === "/late") {
        setTimeout(() => {
          res.writeHead(200, { "content-length": "200000" });
          res.end(Buffer.alloc(200_000, 99));
        }, 800);
      } else if (path === "/two-cl") {
        req.socket.end("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello");
      }
      // /silent: never answers.
    });
  });
  // A WebSocket handshake that reaches the origin is recorded and refused.
  server.on("upgrade", (req, socket) => {
    seen.set(req.headers["x-request-id"] ?? "none", {
      method: req.method,
      upgrade: req.headers.upgrade ?? null,
      bytes: 0,
      body: "upgrade",
    });
    socket.end("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

let origin;
let authorizer;
/** The same bundle under Miniflare, the way `npm start` runs it. */
let local;

before(async () => {
  origin = await startOrigin();
  const options = {
    root: ROOT,
    origin: `http://127.0.0.1:${origin.address().port}`,
    vars: { UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS) },
  };
  authorizer = await startAuthorizer(options);
  local = await startAuthorizer({ ...options, runtime: "miniflare" });
});

after(async () => {
  await authorizer?.close();
  await local?.close();
  await new Promise((resolve) => origin?.close(resolve) ?? resolve());
});

/** A request head without its final empty line; `Connection: close` unless `extra` names a Connection. */
const head = (method, path, extra = "", target = authorizer) =>
  `${method} ${path} HTTP/1.1\r\nHost: api.spot-thought.test\r\nX-Spot-Api-Key: ${ACCOUNT}\r\nX-Spot-Api-Secret: ${target.secret}\r\n` +
  `${/^connection:/im.test(extra) ? "" : "Connection: close\r\n"}${extra}`;

/** Writes `total` bytes of body in 64 KB pieces over about `ms` milliseconds, plain or chunked. */
async function writeSlowly(socket, total, ms, chunked) {
  const piece = 65_536;
  const pieces = Math.ceil(total / piece);
  for (let i = 0; i < pieces; i++) {
    const size = Math.min(piece, total - i * piece);
    const bytes = Buffer.alloc(size, 120);
    socket.write(chunked ? Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), bytes, Buffer.from("\r\n")]) : bytes);
    await sleep(ms / pieces);
  }
  if (chunked) socket.write("0\r\n\r\n");
}

/** The audit event of a request id, once it has arrived. */
const eventOf = (requestId) => waitFor(() => authorizer.events().find((e) => e.request_id === requestId), 5000);

/** The request id of the one request the origin saw since `before` (a Set of ids seen before). */
function newRequestId(before) {
  const ids = [...seen.keys()].filter((id) => !before.has(id));
  assert.equal(ids.length, 1, `expected one new request at the origin, saw ${ids.length}`);
  return ids[0];
}

describe("uploads and UPSTREAM_TIMEOUT_MS (the deadline counts from the end of the request body)", () => {
  for (const chunked of [false, true]) {
    const framing = chunked ? "chunked" : "Content-Length";
    it(`a 1 MB upload (${framing}) slower than UPSTREAM_TIMEOUT_MS reaches a healthy origin whole → 200`, async () => {
      const { text } = await rawExchange(authorizer.url, async (socket) => {
        socket.write(`${head("POST", "/echo", chunked ? "Transfer-Encoding: chunked\r\n" : `Content-Length: ${MB}\r\n`)}\r\n`);
        await writeSlowly(socket, MB, 2.5 * UPSTREAM_TIMEOUT_MS, chunked);
      });
      assert.equal(statusOf(text), 200, text.slice(0, 300));
      // Streamed, with the framing the client chose.
      assert.deepEqual(jsonOf(text), { method: "POST", upgrade: null, framing: chunked ? "chunked" : `length ${MB}`, bytes: MB });
      const event = await eventOf(headerOf(text, "x-request-id"));
      assert.equal(event?.reason, "ok");
    });
  }

  it("the deadline still holds once the body is in: an origin that reads it and stays silent → 504 after UPSTREAM_TIMEOUT_MS", async () => {
    const { text, firstByteMs: elapsed } = await rawExchange(authorizer.url, async (socket) => {
      socket.write(`${head("POST", "/silent", "Content-Length: 5\r\n")}\r\nhello`);
    });
    assert.equal(statusOf(text), 504);
    assert.equal(jsonOf(text)?.error.code, "upstream_timeout");
    assert.ok(elapsed >= UPSTREAM_TIMEOUT_MS - 50 && elapsed < UPSTREAM_TIMEOUT_MS + 1500, `answered after ${elapsed} ms`);
  });
});

describe("a client that goes away is not an origin failure", () => {
  for (const how of ["Content-Length", "chunked"]) {
    it(`a client that drops a 1 MB upload (${how}) at 300 ms: the origin sees an aborted upload; audit 400 request_body_incomplete`, async () => {
      const before = new Set(seen.keys());
      await rawExchange(
        authorizer.url,
        async (socket) => {
          socket.write(`${head("POST", "/echo", how === "chunked" ? "Transfer-Encoding: chunked\r\n" : `Content-Length: ${MB}\r\n`)}\r\n`);
          socket.write(how === "chunked" ? `4000\r\n${"x".repeat(0x4000)}\r\n` : Buffer.alloc(0x4000, 120));
          await sleep(300);
          socket.destroy();
        },
        { readMs: 0 },
      );
      const id = await waitFor(() => [...seen.keys()].find((k) => !before.has(k)), 3000);
      assert.ok(id, "the request reached the origin");
      await waitFor(() => seen.get(id)?.body !== "pending", 3000);
      // Never a shorter body passed off as complete.
      assert.equal(seen.get(id)?.body, "aborted");
      const event = await eventOf(id);
      assert.equal(event?.status, 400);
      assert.equal(event?.reason, "request_body_incomplete");
      assert.equal(event?.outcome, "denied");
    });
  }

  it("a client that half-closes mid-upload gets 400 request_body_incomplete; the origin sees an aborted upload", async () => {
    const before = new Set(seen.keys());
    const { text } = await rawExchange(authorizer.url, async (socket) => {
      socket.write(`${head("POST", "/echo", `Content-Length: ${MB}\r\n`)}\r\n`);
      socket.write(Buffer.alloc(0x4000, 120));
      await sleep(300);
      socket.end();
    });
    assert.equal(statusOf(text), 400, text.slice(0, 300));
    assert.equal(jsonOf(text)?.error.code, "request_body_incomplete");
    const id = newRequestId(before);
    await waitFor(() => seen.get(id)?.body !== "pending", 3000);
    assert.equal(seen.get(id)?.body, "aborted");
    assert.equal((await eventOf(id))?.reason, "request_body_incomplete");
  });

  it("a client gone while the body streams down: audit client_disconnected, not ok", async () => {
    const { text } = await rawExchange(
      authorizer.url,
      async (socket) => {
        socket.write(`${head("GET", "/slow")}\r\n`);
        await sleep(400);
        socket.destroy();
      },
      { readMs: 0 },
    );
    const event = await eventOf(headerOf(text, "x-request-id"));
    assert.equal(event?.status, 200);
    assert.equal(event?.reason, "client_disconnected");
    assert.equal(event?.outcome, "allowed");
  });

  it("a client gone while the origin is still working (a body over 64 KiB): audit client_disconnected, not ok", async () => {
    const before = new Set(seen.keys());
    await rawExchange(
      authorizer.url,
      async (socket) => {
        socket.write(`${head("GET", "/late")}\r\n`);
        await sleep(300);
        socket.destroy();
      },
      { readMs: 0 },
    );
    const id = await waitFor(() => [...seen.keys()].find((k) => !before.has(k)), 3000);
    const event = await eventOf(id);
    assert.equal(event?.status, 200);
    assert.equal(event?.reason, "client_disconnected");
  });

  it("an origin that closes mid-body: the client gets 20,000 of 100,000 bytes; audit upstream_body_incomplete, outcome error", async () => {
    const { text, bytes } = await rawExchange(authorizer.url, async (socket) => {
      socket.write(`${head("GET", "/cut")}\r\n`);
    });
    assert.equal(statusOf(text), 200);
    assert.ok(bytes < 100_000, `the client got ${bytes} bytes`);
    const event = await eventOf(headerOf(text, "x-request-id"));
    assert.equal(event?.status, 200);
    assert.equal(event?.reason, "upstream_body_incomplete");
    assert.equal(event?.outcome, "error");
  });

  it("a healthy download: audit ok", async () => {
    const { text, bytes } = await rawExchange(authorizer.url, async (socket) => {
      socket.write(`${head("GET", "/slow")}\r\n`);
    });
    assert.equal(statusOf(text), 200);
    assert.ok(bytes > 100_000);
    assert.equal((await eventOf(headerOf(text, "x-request-id")))?.reason, "ok");
  });
});

describe("502s carry their cause in the log, not in the answer", () => {
  it("an origin answering with two Content-Length values → 502 with a generic message, one upstream_failed log line with the request id", async () => {
    const { text } = await rawExchange(authorizer.url, async (socket) => {
      socket.write(`${head("GET", "/two-cl")}\r\n`);
    });
    assert.equal(statusOf(text), 502);
    const error = jsonOf(text)?.error;
    assert.equal(error?.code, "upstream_unavailable");
    assert.doesNotMatch(error?.message ?? "", /reached/);
    const requestId = headerOf(text, "x-request-id");
    const line = await waitFor(() =>
      authorizer
        .output()
        .split("\n")
        .find((l) => l.includes('"upstream_failed"') && l.includes(requestId)),
    );
    assert.ok(line, `no upstream_failed line for ${requestId} in:\n${authorizer.output().slice(-1500)}`);
    const fields = JSON.parse(line.slice(line.indexOf("{")));
    assert.equal(fields.failure, "unavailable");
    assert.ok(fields.error.length > 0);
    assert.doesNotMatch(line, /sk_live_/);
  });
});

describe("the method the client sent is the method the origin gets", () => {
  it("POST with Upgrade: websocket reaches the origin as that POST, body and all, without Upgrade", async () => {
    const { text } = await rawExchange(authorizer.url, async (socket) => {
      socket.write(`${head("POST", "/echo", "Upgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 5\r\n")}\r\nhello`);
    });
    assert.equal(statusOf(text), 200, text.slice(0, 300));
    assert.deepEqual(jsonOf(text), { method: "POST", upgrade: null, framing: "length 5", bytes: 5 });
  });

  it("a WebSocket handshake that carries a body (what a runtime makes of such a POST) → 400 invalid_upgrade_request, nothing forwarded", async () => {
    const before = new Set(seen.keys());
    const { text } = await rawExchange(authorizer.url, async (socket) => {
      socket.write(
        `${head("GET", "/echo", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 5\r\n")}\r\nhello`,
      );
    });
    assert.equal(statusOf(text), 400, text.slice(0, 300));
    assert.equal(jsonOf(text)?.error.code, "invalid_upgrade_request");
    await sleep(200);
    assert.equal([...seen.keys()].filter((id) => !before.has(id)).length, 0);
  });

  it("under Miniflare (npm start), whose entry worker turns a POST with Upgrade: websocket into a GET handshake: 400, never a GET at the origin", async () => {
    const before = new Set(seen.keys());
    const { text } = await rawExchange(local.url, async (socket) => {
      socket.write(`${head("POST", "/echo", "Upgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 5\r\n", local)}\r\nhello`);
    });
    assert.equal(statusOf(text), 400, text.slice(0, 300));
    assert.equal(jsonOf(text)?.error.code, "invalid_upgrade_request");
    await sleep(200);
    assert.deepEqual(
      [...seen.entries()].filter(([id]) => !before.has(id)).map(([, got]) => got.method),
      [],
    );
  });
});
