/**
 * The `ENFORCEMENT` setting (docs/operations.md "Report-only mode"): enforce unless it says
 * report-only, and never anything else.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ConfigError, getConfig, parseEnforcement } from "../../../src/env";
import { WOULD_REFUSE } from "../../../src/request-path/would-refuse";

describe("parseEnforcement", () => {
  it("is enforce when absent, empty or enforce", () => {
    expect(parseEnforcement(undefined)).toBe("enforce");
    expect(parseEnforcement("")).toBe("enforce");
    expect(parseEnforcement("enforce")).toBe("enforce");
  });

  it("is report-only only for that exact value", () => {
    expect(parseEnforcement("report-only")).toBe("report-only");
    for (const bad of ["report_only", "Report-Only", " report-only", "reportonly", "off", "true"]) {
      expect(() => parseEnforcement(bad), bad).toThrow(ConfigError);
    }
  });

  it("makes the whole configuration unusable when wrong (503 on the request path)", () => {
    expect(getConfig({ ...env, ENFORCEMENT: "enforce" } as Env).enforcement).toBe("enforce");
    expect(() => getConfig({ ...env, ENFORCEMENT: "nope" } as Env)).toThrow(/ENFORCEMENT/);
  });
});

describe("WOULD_REFUSE", () => {
  it("holds the credential, throttle and key-policy refusals, never the authorizer's own failures", () => {
    expect([...WOULD_REFUSE].sort()).toEqual(
      [
        "duplicate_header",
        "invalid_credentials",
        "ip_not_allowed",
        "malformed_api_key",
        "malformed_api_secret",
        "missing_api_key",
        "missing_api_secret",
        "rate_limited",
      ].sort(),
    );
  });
});
