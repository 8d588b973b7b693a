import { describe, expect, it } from "vitest";
import { coloOfRayId } from "../../../src/request-path/audit";

describe("coloOfRayId", () => {
  it.each([
    ["8f3a1c2b4d5e6f70-FRA", "FRA"],
    ["230b030023ae2822-SJC", "SJC"],
    ["a-b-LHR", "LHR"],
  ])("%s → %s", (ray, colo) => {
    expect(coloOfRayId(ray)).toBe(colo);
  });

  it.each([null, undefined, "", "8f3a1c2b4d5e6f70", "8f3a1c2b4d5e6f70-", "8f3a1c2b4d5e6f70-fra", "8f3a1c2b4d5e6f70-FRAX", "x-F1A", "FRA"])(
    "%s → null",
    (ray) => {
      expect(coloOfRayId(ray)).toBeNull();
    },
  );
});
