import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { AssertionConfigError, parseAssertionKeyConfig, parseIssuer } from "../../../src/assertion/keys";

const KEY_1 = JSON.parse(env.ASSERTION_SIGNING_KEY) as Record<string, string>;
const KEY_2 = JSON.parse(env.TEST_ASSERTION_KEY_2) as Record<string, string>;
const ISSUER = "https://api.spot-thought.com";
const pub = (jwk: Record<string, string>) => {
  const { d: _d, ...rest } = jwk;
  return rest;
};

function parse(signing: unknown, extra?: unknown, issuer: string | undefined = ISSUER) {
  return parseAssertionKeyConfig({
    issuer,
    signingKey: typeof signing === "string" || signing === undefined ? signing : JSON.stringify(signing),
    extraPublicKey: typeof extra === "string" || extra === undefined ? extra : JSON.stringify(extra),
  });
}

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AssertionConfigError);
    return (err as Error).message;
  }
  throw new Error("expected an AssertionConfigError");
}

describe("parseAssertionKeyConfig", () => {
  it("publishes only the public members of the signing key, alg and use set", () => {
    const config = parse({ ...KEY_1, key_ops: ["sign"], ext: true, p: "extra" });
    expect(config.published).toEqual([{ kty: "OKP", crv: "Ed25519", x: KEY_1.x, kid: KEY_1.kid, alg: "EdDSA", use: "sig" }]);
    expect(config.signing).toMatchObject({ d: KEY_1.d, kid: KEY_1.kid });
    expect(config.issuer).toBe(ISSUER);
  });

  it("publishes the extra public key second; an empty setting means none", () => {
    expect(parse(KEY_1, pub(KEY_2)).published.map((k) => k.kid)).toEqual([KEY_1.kid, KEY_2.kid]);
    expect(parse(KEY_1, "").published).toHaveLength(1);
    expect(parse(KEY_1, "  ").published).toHaveLength(1);
  });

  it.each([
    ["missing", undefined, "ASSERTION_SIGNING_KEY is not set"],
    ["blank", " ", "ASSERTION_SIGNING_KEY is not set"],
    ["not JSON", `{"d":"${"A".repeat(43)}"`, "ASSERTION_SIGNING_KEY is not valid JSON"],
    ["an array", [KEY_1], "ASSERTION_SIGNING_KEY"],
    ["no d", pub(KEY_1), 'member "d"'],
    ["no kid", { ...KEY_1, kid: undefined }, 'member "kid"'],
    ["a kid with spaces", { ...KEY_1, kid: "key one" }, 'member "kid"'],
    ["an RSA key", { ...KEY_1, kty: "RSA" }, 'member "kty"'],
    ["an X25519 key", { ...KEY_1, crv: "X25519" }, 'member "crv"'],
    ["alg ES256", { ...KEY_1, alg: "ES256" }, 'member "alg"'],
    ["use enc", { ...KEY_1, use: "enc" }, 'member "use"'],
    ["a 31-byte x", { ...KEY_1, x: KEY_1.x?.slice(0, 42) }, 'member "x"'],
    ["padded d", { ...KEY_1, d: `${KEY_1.d}=` }, 'member "d"'],
  ])("refuses a signing key that is %s, naming the member and never a value", (_what, signing, message) => {
    const text = failure(() => parse(signing));
    expect(text).toContain(message);
    expect(text).not.toContain(KEY_1.d);
    expect(text).not.toContain(String(KEY_1.d).slice(0, 10));
  });

  it.each([
    ["with its private part", KEY_2, 'ASSERTION_EXTRA_PUBLIC_KEY: member "d" must not be set'],
    ["with the signing key's kid", { ...pub(KEY_2), kid: KEY_1.kid }, "kid other than the signing key's"],
    ["not JSON", "nope", "ASSERTION_EXTRA_PUBLIC_KEY is not valid JSON"],
    ["an EC key", { ...pub(KEY_2), kty: "EC" }, "ASSERTION_EXTRA_PUBLIC_KEY"],
  ])("refuses an extra public key %s", (_what, extra, message) => {
    const text = failure(() => parse(KEY_1, extra));
    expect(text).toContain(message);
    expect(text).not.toContain(KEY_2.d);
  });
});

describe("parseIssuer", () => {
  it.each(["https://api.spot-thought.com", "http://127.0.0.1:8787", "https://auth.example/spot"])("accepts %s", (issuer) => {
    expect(parseIssuer(issuer)).toBe(issuer);
  });
  it.each([
    undefined,
    "",
    "api.spot-thought.com",
    "https://api.spot-thought.com/",
    "https://a.example?x=1",
    "ftp://a.example",
    "https://a b",
  ])("refuses %j", (issuer) => {
    expect(failure(() => parseIssuer(issuer))).toContain("ASSERTION_ISSUER");
  });
});
