// `npm start`'s check that the local keys were hashed with the SECRET_HASH_KEY now in .dev.vars
// (scripts/lib/hash-key.mjs; docs/storage.md "Hash key fingerprint"), in Node with `node --test`:
// the fingerprint (a fixed vector, and the Worker's WebCrypto HMAC), the decision table, the
// warning's content, the local key state on disk, --reset-keys, and the start script's options.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  checkHashKey,
  decodeHashKey,
  FINGERPRINT_LABEL,
  fingerprintRecordText,
  hashKeyFingerprint,
  hashKeyWarning,
  hasLocalKeys,
  localKeyPaths,
  parseFingerprintRecord,
  prepareLocalKeys,
  resetLocalKeys,
} from "../../scripts/lib/hash-key.mjs";

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const WORKER = "spot-thought-edge-authorizer";

/** base64 of the bytes 0x00…0x1f. */
const KEY_0_31 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const randomKey = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
const fingerprintOf = (base64) => hashKeyFingerprint(decodeHashKey(base64));

describe("hashKeyFingerprint", () => {
  it("is the first 8 bytes of HMAC-SHA-256(key, label) in hex (vector computed with openssl dgst -mac HMAC)", () => {
    assert.equal(FINGERPRINT_LABEL, "spot-thought/secret-hash-key-fingerprint/v1");
    assert.equal(fingerprintOf(KEY_0_31), "e95fea4a540bba1b");
  });

  it("equals the Worker's WebCrypto HMAC of the label (src/keys/hash.ts: raw key import, sign) truncated", async () => {
    for (const base64 of [KEY_0_31, randomKey(), randomKey()]) {
      const raw = Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0));
      const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(FINGERPRINT_LABEL)));
      assert.equal(fingerprintOf(base64), Buffer.from(mac.subarray(0, 8)).toString("hex"));
    }
  });

  it("tells two keys apart, and is 16 hex characters that do not contain the key", () => {
    const a = randomKey();
    const b = randomKey();
    assert.notEqual(fingerprintOf(a), fingerprintOf(b));
    assert.match(fingerprintOf(a), /^[0-9a-f]{16}$/);
    assert.ok(!Buffer.from(decodeHashKey(a)).toString("hex").includes(fingerprintOf(a)));
  });
});

describe("decodeHashKey", () => {
  it("decodes trimmed base64 of at least 32 bytes, refuses the rest", () => {
    assert.deepEqual(
      decodeHashKey(` ${KEY_0_31}\n`),
      Uint8Array.from({ length: 32 }, (_, i) => i),
    );
    assert.equal(decodeHashKey(undefined), null);
    assert.equal(decodeHashKey(""), null);
    assert.equal(decodeHashKey(Buffer.alloc(31).toString("base64")), null);
    assert.equal(decodeHashKey("not base64!"), null);
  });
});

describe("checkHashKey", () => {
  const A = "aaaaaaaaaaaaaaaa";
  const B = "bbbbbbbbbbbbbbbb";
  const rec = (fingerprint) => ({ fingerprint, recorded_at: "2026-12-01T00:00:00.000Z" });
  const cases = [
    { name: "first start: no keys, no record", current: A, record: null, localKeys: false, status: "no-keys", write: true },
    { name: "state wiped, record left over", current: B, record: rec(A), localKeys: false, status: "no-keys", write: true },
    { name: "no keys, record current", current: A, record: rec(A), localKeys: false, status: "no-keys", write: false },
    { name: "keys from before the check, no record", current: A, record: null, localKeys: true, status: "unrecorded", write: true },
    { name: "keys made with this hash key", current: A, record: rec(A), localKeys: true, status: "same", write: false },
    { name: ".dev.vars regenerated: keys made with another", current: B, record: rec(A), localKeys: true, status: "changed", write: false },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.status}${c.write ? ", records the current fingerprint" : ""}`, () => {
      const check = checkHashKey({ current: c.current, record: c.record, localKeys: c.localKeys });
      assert.equal(check.status, c.status);
      assert.equal(check.record, c.write);
      assert.equal(check.recorded, c.record?.fingerprint ?? null);
    });
  }
});

describe("fingerprint file", () => {
  it("round-trips; unreadable or foreign content reads as no record", () => {
    const text = fingerprintRecordText("0123456789abcdef", new Date("2026-12-06T08:00:00Z"));
    assert.deepEqual(parseFingerprintRecord(text), { fingerprint: "0123456789abcdef", recorded_at: "2026-12-06T08:00:00.000Z" });
    assert.equal(parseFingerprintRecord(null), null);
    assert.equal(parseFingerprintRecord("{"), null);
    assert.equal(parseFingerprintRecord(JSON.stringify({ v: 2, fingerprint: "0123456789abcdef" })), null);
    assert.equal(parseFingerprintRecord(JSON.stringify({ v: 1, fingerprint: "secret" })), null);
  });
});

describe("hashKeyWarning", () => {
  it("says what happened, what it means and both remedies, and names both fingerprints", () => {
    const lines = hashKeyWarning({
      recorded: "aaaaaaaaaaaaaaaa",
      recordedAt: "2026-12-01T00:00:00.000Z",
      current: "bbbbbbbbbbbbbbbb",
      generatedNow: true,
    });
    const text = lines.join("\n");
    assert.ok(lines.length >= 10, "multi-line");
    for (const needle of [
      "aaaaaaaaaaaaaaaa",
      "bbbbbbbbbbbbbbbb",
      "What happened",
      "generated",
      "What it means",
      "401",
      "active",
      "What to do",
      "Restore the old .dev.vars",
      "npm start -- --reset-keys",
    ]) {
      assert.ok(text.includes(needle), `warning mentions ${needle}`);
    }
    const edited = hashKeyWarning({ recorded: "a".repeat(16), recordedAt: null, current: "b".repeat(16), generatedNow: false }).join("\n");
    assert.ok(edited.includes("edited") && !edited.includes("generated it"));
  });
});

describe("local key state on disk", () => {
  let dir;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "spot-hash-key-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Lays out .wrangler/ as Miniflare does after a start with keys (file names as it makes them). */
  function seedState() {
    const paths = localKeyPaths(dir, WORKER);
    const object = `${"1".repeat(64)}.sqlite`;
    for (const folder of [paths.accountKeys, paths.secretClaims, join(paths.kv, "miniflare-KVNamespaceObject")]) {
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, "metadata.sqlite"), "");
    }
    writeFileSync(join(paths.accountKeys, object), "");
    writeFileSync(join(paths.secretClaims, object), "");
    mkdirSync(join(paths.kv, "00000000000000000000000000000000", "blobs"), { recursive: true });
    writeFileSync(join(paths.kv, "00000000000000000000000000000000", "blobs", `${"2".repeat(64)}000001a24a8a800f`), "");
    mkdirSync(join(dir, "state", "v3", "d1", "miniflare-D1DatabaseObject"), { recursive: true });
    writeFileSync(join(dir, "state", "v3", "d1", "miniflare-D1DatabaseObject", object), "");
    writeFileSync(paths.demoKey, "{}");
    writeFileSync(join(dir, "admin-dev-key.json"), "{}");
    writeFileSync(paths.fingerprint, fingerprintRecordText("aaaaaaaaaaaaaaaa", new Date()));
    return paths;
  }

  it("no keys in an empty state or one with only Miniflare's metadata", () => {
    assert.equal(hasLocalKeys(dir, WORKER), false);
    const paths = localKeyPaths(dir, WORKER);
    mkdirSync(paths.accountKeys, { recursive: true });
    writeFileSync(join(paths.accountKeys, "metadata.sqlite"), "");
    assert.equal(hasLocalKeys(dir, WORKER), false);
  });

  it("keys when an AccountKeys object exists, or KV holds a value", () => {
    const paths = localKeyPaths(dir, WORKER);
    mkdirSync(paths.accountKeys, { recursive: true });
    writeFileSync(join(paths.accountKeys, `${"3".repeat(64)}.sqlite`), "");
    assert.equal(hasLocalKeys(dir, WORKER), true);
    rmSync(paths.accountKeys, { recursive: true });
    mkdirSync(join(paths.kv, "00000000000000000000000000000000", "blobs"), { recursive: true });
    writeFileSync(join(paths.kv, "00000000000000000000000000000000", "blobs", "4".repeat(80)), "");
    assert.equal(hasLocalKeys(dir, WORKER), true);
  });

  it("--reset-keys deletes KV, both key Durable Objects, the demo key and the fingerprint; keeps D1 and the admin key", () => {
    const paths = seedState();
    assert.equal(hasLocalKeys(dir, WORKER), true);
    const removed = resetLocalKeys(dir, WORKER);
    assert.deepEqual(removed.sort(), [
      join(".wrangler", "demo-key.json"),
      join(".wrangler", "hash-key-fingerprint.json"),
      join(".wrangler", "state", "v3", "do", `${WORKER}-AccountKeys`),
      join(".wrangler", "state", "v3", "do", `${WORKER}-SecretClaims`),
      join(".wrangler", "state", "v3", "kv"),
    ]);
    assert.equal(hasLocalKeys(dir, WORKER), false);
    assert.deepEqual(readdirSync(join(dir, "state", "v3")).sort(), ["d1", "do"]);
    assert.deepEqual(readdirSync(dir).sort(), ["admin-dev-key.json", "state"]);
    assert.deepEqual(resetLocalKeys(dir, WORKER), [], "nothing left to delete");
    assert.equal(existsSync(paths.fingerprint), false);
  });

  it("the issue's sequence: start, .dev.vars deleted and regenerated, start → changed (again at the next start); --reset-keys → clean", () => {
    const keyA = randomKey();
    const keyB = randomKey();
    const prepare = (hashKey, resetKeys = false) => prepareLocalKeys({ stateDir: dir, workerName: WORKER, hashKey, resetKeys });
    // first start: no keys yet, A recorded; then keys are made
    let step = prepare(keyA);
    assert.equal(step.status, "no-keys");
    assert.equal(parseFingerprintRecord(readFileSync(join(dir, "hash-key-fingerprint.json"), "utf8")).fingerprint, fingerprintOf(keyA));
    seedState();
    writeFileSync(join(dir, "hash-key-fingerprint.json"), fingerprintRecordText(fingerprintOf(keyA), new Date()));
    assert.equal(prepare(keyA).status, "same");
    // .dev.vars deleted: the next start generates B
    step = prepare(keyB);
    assert.equal(step.status, "changed");
    assert.equal(step.recorded, fingerprintOf(keyA));
    assert.equal(step.current, fingerprintOf(keyB));
    assert.equal(prepare(keyB).status, "changed", "A stays recorded: the next start warns again");
    // the old .dev.vars restored: fine again
    assert.equal(prepare(keyA).status, "same");
    // npm start -- --reset-keys, with B
    step = prepare(keyB, true);
    assert.equal(step.status, "no-keys");
    assert.ok(step.removed.includes(join(".wrangler", "demo-key.json")));
    assert.equal(prepare(keyB).status, "no-keys", "B recorded; no keys until wrangler dev makes the demo key");
    seedState();
    writeFileSync(join(dir, "hash-key-fingerprint.json"), fingerprintRecordText(fingerprintOf(keyB), new Date()));
    assert.equal(prepare(keyB).status, "same");
  });

  it("keys from before the check (no fingerprint file) are taken as made with the current key", () => {
    seedState();
    rmSync(join(dir, "hash-key-fingerprint.json"));
    const key = randomKey();
    assert.equal(prepareLocalKeys({ stateDir: dir, workerName: WORKER, hashKey: key, resetKeys: false }).status, "unrecorded");
    assert.equal(prepareLocalKeys({ stateDir: dir, workerName: WORKER, hashKey: key, resetKeys: false }).status, "same");
  });

  it("refuses an unusable hash key", () => {
    assert.throws(() => prepareLocalKeys({ stateDir: dir, workerName: WORKER, hashKey: "short", resetKeys: false }), /SECRET_HASH_KEY/);
  });
});

describe("scripts/start.mjs options", () => {
  /** Runs the start script with `args`; only --help is used, which returns before anything starts. */
  function start(args) {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, "scripts", "start.mjs"), ...args], {
        env: { ...process.env, NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (c) => {
        output += c;
      });
      child.stderr.on("data", (c) => {
        output += c;
      });
      child.on("close", (code) => resolve({ code, output }));
    });
  }

  it("accepts --reset-keys and documents it in --help", async () => {
    const { code, output } = await start(["--reset-keys", "--help"]);
    assert.equal(code, 0, output);
    assert.match(output, /--reset-keys\s+delete the local keys/);
    assert.match(output, /--reset-db/);
  });
});
