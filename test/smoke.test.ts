import { env, exports } from "cloudflare:workers";
import { expect, it } from "vitest";

it("answers", async () => {
  const res = await exports.default.fetch("https://api.spot-thought.com/");
  expect(await res.text()).toBe("ok");
  expect(env.SECRET_HASH_KEY_ID).toBe("hk-test");
  const row = await env.AUDIT_DB.prepare("SELECT count(*) AS n FROM audit_events").first<{ n: number }>();
  expect(row?.n).toBe(0);
});
