/**
 * Calls to the Workers rate-limiting binding (`[[ratelimits]]` in wrangler.toml;
 * https://developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit/).
 *
 * What the binding is: a counter per key and per Cloudflare location, over a fixed period (10 or 60 s)
 * with the limit set in wrangler.toml. `limit({ key, delta })` adds `delta` and answers
 * `{ success: false }` once the counter has reached the limit. It is fast (no storage round trip to a
 * central place) and therefore approximate: each location counts on its own, and the counts of one
 * location are eventually consistent. It reports neither the remaining quota nor when the window ends.
 *
 * Every call here is bounded by a timeout and never throws: a missing binding, a throw or a timeout is
 * `unavailable`, and the caller decides (both limiters fail open: docs/errors.md "Rate limits").
 */
import { errorMessage, log } from "../log";

/** Outcome of one call: under the limit, at or over it, or no answer. */
export type LimitVerdict = "allowed" | "limited" | "unavailable";

let missingLogged = new Set<string>();

/**
 * Adds one to the counter of `key` and says whether the caller is still within the limit.
 * @param binding   the rate-limit binding; undefined when not configured (logged once per isolate and name)
 * @param name      the binding's name, for the log
 * @param key       the counter's key (any string)
 * @param timeoutMs milliseconds to wait for the answer before calling it `unavailable`
 */
export async function consultLimiter(
  binding: RateLimit | undefined,
  name: string,
  key: string,
  timeoutMs: number,
  requestId: string,
): Promise<LimitVerdict> {
  if (binding === undefined || typeof binding.limit !== "function") {
    if (!missingLogged.has(name)) {
      missingLogged.add(name);
      log("error", "rate_limit_binding_missing", { binding: name, request_id: requestId });
    }
    return "unavailable";
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const outcome = await Promise.race([binding.limit({ key }), timeout]);
    if (outcome === "timeout") {
      log("error", "rate_limit_unavailable", { binding: name, request_id: requestId, error: `no answer within ${timeoutMs} ms` });
      return "unavailable";
    }
    return outcome.success ? "allowed" : "limited";
  } catch (err) {
    log("error", "rate_limit_unavailable", { binding: name, request_id: requestId, error: errorMessage(err) });
    return "unavailable";
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** Tests: forget which missing bindings were already logged. */
export function resetLimiterLogState(): void {
  missingLogged = new Set<string>();
}
