/** The write decision (src/admin/writers.ts) and the claim paths it reads (src/admin/auth.ts). */
import { describe, expect, it } from "vitest";
import { claimAt, groupsOf } from "../../../src/admin/auth";
import { mayWrite, parseWriterRules, WriterListError } from "../../../src/admin/writers";

const none = { permissions: [], email: null, groups: [], serviceToken: null };

describe("parseWriterRules", () => {
  it("splits on commas, trims, drops empty entries, lower-cases emails", () => {
    const rules = parseWriterRules({ emails: " A@X.test,, b@x.test ", groups: "Spot Admins, ops", serviceTokens: "ci.access," });
    expect([...rules.emails]).toEqual(["a@x.test", "b@x.test"]);
    expect([...rules.groups]).toEqual(["Spot Admins", "ops"]);
    expect([...rules.serviceTokens]).toEqual(["ci.access"]);
    expect(parseWriterRules({ emails: undefined, groups: "", serviceTokens: " " }).emails.size).toBe(0);
  });

  it.each([
    [{ emails: "ops" }, "ADMIN_WRITERS_EMAILS"],
    [{ emails: "a b@x.test" }, "ADMIN_WRITERS_EMAILS"],
    [{ serviceTokens: "a b" }, "ADMIN_WRITERS_SERVICE_TOKENS"],
    [{ groups: "x".repeat(257) }, "ADMIN_WRITERS_GROUPS"],
  ])("%j → WriterListError naming %s", (settings, name) => {
    const full = { emails: undefined, groups: undefined, serviceTokens: undefined, ...settings };
    expect(() => parseWriterRules(full)).toThrow(WriterListError);
    expect(() => parseWriterRules(full)).toThrow(name);
  });
});

describe("mayWrite", () => {
  const rules = parseWriterRules({ emails: "alice@x.test", groups: "ops", serviceTokens: "ci.access" });
  it.each([
    ["keys:write in the permissions", { ...none, permissions: ["keys:read", "keys:write"] }, true],
    ["only keys:read", { ...none, permissions: ["keys:read"] }, false],
    ["a listed email, any case", { ...none, email: "ALICE@x.test" }, true],
    ["another email", { ...none, email: "bob@x.test" }, false],
    ["a listed group", { ...none, groups: ["staff", "ops"] }, true],
    ["a group differing in case", { ...none, groups: ["OPS"] }, false],
    ["a listed service token", { ...none, serviceToken: "ci.access" }, true],
    ["another service token", { ...none, serviceToken: "other.access" }, false],
    ["nothing", none, false],
  ])("%s → %s", (_name, claims, expected) => {
    expect(mayWrite(claims, rules)).toBe(expected);
  });

  it("empty lists match nothing", () => {
    const empty = parseWriterRules({ emails: "", groups: "", serviceTokens: "" });
    expect(mayWrite({ ...none, email: "", groups: [""], serviceToken: "" }, empty)).toBe(false);
  });
});

describe("claim paths", () => {
  it("an exact top-level name first, else the dotted path through objects", () => {
    const payload = { "a.b": 1, a: { b: 2, c: { d: 3 } }, arr: [{ x: 1 }] };
    expect(claimAt(payload, "a.b")).toBe(1);
    expect(claimAt(payload, "a.c.d")).toBe(3);
    expect(claimAt(payload, "a.c.e")).toBeUndefined();
    expect(claimAt(payload, "arr.0.x")).toBeUndefined();
    expect(claimAt(payload, "a.toString")).toBeUndefined();
  });

  it("groups: an array of strings, or one string as one group", () => {
    expect(groupsOf({ custom: { groups: ["a b", 3, "", "c"] } }, "custom.groups")).toEqual(["a b", "c"]);
    expect(groupsOf({ custom: { groups: "Spot Admins" } }, "custom.groups")).toEqual(["Spot Admins"]);
    expect(groupsOf({ custom: { groups: {} } }, "custom.groups")).toEqual([]);
    expect(groupsOf({}, "custom.groups")).toEqual([]);
  });
});
