/**
 * The debug counters route (src/debug/counters.ts) exists only in builds that define
 * `__SPOT_DEBUG_COUNTERS__` (bench/). This suite runs without that define, as production does:
 * the reserved path is then an ordinary API path, refused like any request without credentials.
 */
import { describe, expect, it } from "vitest";
import { DEBUG_COUNTERS_PATH } from "../../src/debug/counters";
import { call } from "../helpers/worker";

describe("debug counters route without the __SPOT_DEBUG_COUNTERS__ define", () => {
  it("is not mounted: the path answers 401 missing_api_key and reads nothing", async () => {
    expect(typeof __SPOT_DEBUG_COUNTERS__).toBe("undefined");
    const { res, body, kvReads } = await call(DEBUG_COUNTERS_PATH);
    expect(res.status).toBe(401);
    expect(body).toMatchObject({ error: { code: "missing_api_key" } });
    expect(body).not.toHaveProperty("kv_reads");
    expect(kvReads).toEqual([]);
  });
});
