import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { TtlCache } from "../../../src/keys/cache";
import { HashKeyError, hashSecret, importHashKey, secretKvKey } from "../../../src/keys/hash";
import { checkKeyRecord } from "../../../src/keys/record";
import { clearKeyCache, findKeyBySecretHash, KeyStoreUnavailableError } from "../../../src/keys/store";
import { keyRecord } from "../../helpers/fixtures";

describe("hashSecret", () => {
  it("is HMAC-SHA-256 as lowercase hex (RFC 4231 test case 2)", async () => {
    // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?" — key padded to 32 bytes is not the
    // same key, so check against WebCrypto directly with the short key instead.
    const raw = new TextEncoder().encode("Jefe");
    const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    expect(await hashSecret(key, "what do ya want for nothing?")).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  });

  it("depends on the hash key, so KV alone does not reveal the secret", async () => {
    const a = await importHashKey(btoa("a".repeat(32)));
    const b = await importHashKey(btoa("b".repeat(32)));
    expect(await hashSecret(a, "sk_live_abcd")).not.toBe(await hashSecret(b, "sk_live_abcd"));
  });

  it.each([undefined, "", "not base64!", btoa("short")])("refuses an unusable hash key %j", (value) => {
    expect(() => importHashKey(value)).toThrow(HashKeyError);
  });

  it("names the KV key by the hash", () => {
    expect(secretKvKey("ab".repeat(32))).toBe(`secret:${"ab".repeat(32)}`);
  });
});

describe("checkKeyRecord", () => {
  const now = Date.parse("2026-06-01T00:00:00Z");
  it.each([
    [keyRecord(), "acct_123", "live", null],
    [keyRecord(), "acct_999", "live", "account_mismatch"],
    [keyRecord(), "acct_123", "test", "mode_mismatch"],
    [keyRecord({ status: "revoked" }), "acct_123", "live", "revoked"],
    [keyRecord({ expires_at: "2026-06-01T00:00:00.000Z" }), "acct_123", "live", "expired"],
    [keyRecord({ expires_at: "2026-06-01T00:00:00.001Z" }), "acct_123", "live", null],
  ] as const)("record %#", (record, account, mode, expected) => {
    expect(checkKeyRecord(record, account, mode, now)).toBe(expected);
  });
});

describe("TtlCache", () => {
  it("expires entries at their TTL", () => {
    const cache = new TtlCache<string>(10);
    cache.set("a", "1", 1000, 0);
    expect(cache.get("a", 999)).toEqual({ value: "1" });
    expect(cache.get("a", 1000)).toBeUndefined();
  });
  it("is bounded: the oldest insertion goes first", () => {
    const cache = new TtlCache<number>(3);
    for (let i = 0; i < 5; i++) cache.set(`k${i}`, i, 1000, 0);
    expect(cache.size).toBe(3);
    expect(cache.get("k0", 1)).toBeUndefined();
    expect(cache.get("k4", 1)).toEqual({ value: 4 });
  });
  it("caches null (a miss) as a value", () => {
    const cache = new TtlCache<string | null>(3);
    cache.set("miss", null, 1000, 0);
    expect(cache.get("miss", 1)).toEqual({ value: null });
  });
  it("stores nothing for a TTL of 0", () => {
    const cache = new TtlCache<string>(3);
    cache.set("a", "1", 0, 0);
    expect(cache.get("a", 0)).toBeUndefined();
  });
});

describe("findKeyBySecretHash", () => {
  const options = { cacheTtlMs: 30_000, negativeCacheTtlMs: 5_000 };
  beforeEach(() => clearKeyCache());

  it("reads a record once, then serves it from the cache", async () => {
    const hash = "1".repeat(64);
    await env.KEYS.put(secretKvKey(hash), JSON.stringify(keyRecord()));
    let reads = 0;
    const kv = {
      get: (k: string, t: "text") => {
        reads++;
        return env.KEYS.get(k, t);
      },
    } as unknown as KVNamespace;
    expect(await findKeyBySecretHash(kv, hash, options, 0)).toEqual(keyRecord());
    expect(await findKeyBySecretHash(kv, hash, options, 29_999)).toEqual(keyRecord());
    expect(reads).toBe(1);
    await findKeyBySecretHash(kv, hash, options, 30_000);
    expect(reads).toBe(2);
  });

  it("returns null for no record", async () => {
    expect(await findKeyBySecretHash(env.KEYS, "2".repeat(64), options, 0)).toBeNull();
  });

  it.each(["not json", "{}", JSON.stringify({ ...keyRecord(), mode: "prod" })])("fails closed on a stored value %j", async (stored) => {
    const hash = "3".repeat(64);
    await env.KEYS.put(secretKvKey(hash), stored);
    await expect(findKeyBySecretHash(env.KEYS, hash, options, 0)).rejects.toBeInstanceOf(KeyStoreUnavailableError);
  });
});
