import { describe, expect, it } from "vitest";
import { findDuplicateHeader, readCredentials } from "../../../src/keys/credentials";
import { isApiKey, parseSecret } from "../../../src/keys/format";

describe("isApiKey", () => {
  it.each([
    ["acct_1", true],
    ["acct_123", true],
    [`acct_${"a".repeat(64)}`, true],
    [`acct_${"a".repeat(65)}`, false],
    ["acct_", false],
    ["ACCT_123", false],
    ["acct_12é", false],
    ["acct_12-3", false],
    ["acct_123\n", false],
    [" acct_123", false],
    ["acct_123, acct_999", false],
  ])("%j → %s", (value, expected) => {
    expect(isApiKey(value)).toBe(expected);
  });
});

describe("parseSecret", () => {
  it.each([
    ["sk_live_abcd", "live"],
    ["sk_test_abcd", "test"],
    [`sk_live_${"Z9".repeat(64)}`, "live"],
  ])("%j → mode %s", (value, mode) => {
    expect(parseSecret(value)).toEqual({ secret: value, mode });
  });

  it.each([
    "sk_live_abc",
    `sk_live_${"a".repeat(129)}`,
    "sk_live_abcé",
    "sk_prod_abcd",
    "sk_live_ab_cd",
    "pk_live_abcd",
    "",
    "sk_live_",
    "sk_live_abcd\u0000",
  ])("%j → null", (value) => {
    expect(parseSecret(value)).toBeNull();
  });
});

describe("readCredentials", () => {
  const h = (init: Record<string, string>) => new Headers(init);
  it("returns the account and parsed secret", () => {
    expect(readCredentials(h({ "X-Spot-Api-Key": "acct_1", "X-Spot-Api-Secret": "sk_test_abcd" }))).toEqual({
      accountId: "acct_1",
      secret: { secret: "sk_test_abcd", mode: "test" },
    });
  });
  it.each([
    [{}, "missing_api_key"],
    [{ "X-Spot-Api-Secret": "sk_live_abcd" }, "missing_api_key"],
    [{ "X-Spot-Api-Key": "acct_1" }, "missing_api_secret"],
    [{ "X-Spot-Api-Key": "acct_1", "X-Spot-Api-Secret": "   " }, "missing_api_secret"],
    [{ "X-Spot-Api-Key": "nope", "X-Spot-Api-Secret": "sk_live_abcd" }, "malformed_api_key"],
    [{ "X-Spot-Api-Key": "acct_1", "X-Spot-Api-Secret": "nope" }, "malformed_api_secret"],
    [{ "X-Spot-Api-Key": "acct_1", "X-Spot-Api-Secret": "\u000bsk_live_abcd\u000c" }, "malformed_api_secret"],
    [{ "X-Spot-Api-Key": "\u00a0acct_1", "X-Spot-Api-Secret": "sk_live_abcd" }, "malformed_api_key"],
  ])("%j → %s", (init, code) => {
    expect(readCredentials(h(init))).toMatchObject({ code });
  });
});

describe("findDuplicateHeader", () => {
  it("finds a header sent twice (joined with a comma by the runtime)", () => {
    const headers = new Headers();
    headers.append("X-Spot-Api-Key", "acct_123");
    headers.append("X-Spot-Api-Key", "acct_999");
    expect(headers.get("X-Spot-Api-Key")).toBe("acct_123, acct_999");
    expect(findDuplicateHeader(headers)).toMatchObject({ code: "duplicate_header" });
  });
  it("ignores other headers sent twice", () => {
    const headers = new Headers({ "X-Spot-Api-Key": "acct_1" });
    headers.append("Accept", "a");
    headers.append("Accept", "b");
    expect(findDuplicateHeader(headers)).toBeNull();
  });
});
