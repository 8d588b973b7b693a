// Step 1b, the local keys against the hash key: the fingerprint of SECRET_HASH_KEY is compared with
// the one the local keys were made with (.wrangler/hash-key-fingerprint.json, scripts/lib/hash-key.mjs);
// when they differ (.dev.vars deleted and regenerated, or edited) every local key made before answers
// 401, and a warning says so and what to do. --reset-keys deletes the local keys first. Runs before
// wrangler dev holds the local state.

import { hashKeyWarning, prepareLocalKeys } from "../lib/hash-key.mjs";
import { STATE_DIR } from "./files.mjs";
import { bold, red, StartError, step, warn } from "./output.mjs";

/**
 * @param {{ vars: Map<string, string>, hashKeyGenerated: boolean, resetKeys: boolean, workerName: string | undefined }} input
 * @returns {{ hashKeyChanged: boolean, warning: string[] | null }} `warning`: the hash key warning's lines
 *   when the local keys were made with another SECRET_HASH_KEY, else null
 */
export function checkLocalKeys({ vars, hashKeyGenerated, resetKeys, workerName }) {
  if (!workerName) throw new StartError("name not found in wrangler.toml");
  const keys = prepareLocalKeys({ stateDir: STATE_DIR, workerName, hashKey: vars.get("SECRET_HASH_KEY"), resetKeys });
  if (resetKeys) {
    step(
      keys.removed.length > 0
        ? `--reset-keys: deleted the local keys (${keys.removed.join(", ")}); new keys are made with the SECRET_HASH_KEY of .dev.vars (fingerprint ${keys.current})`
        : "--reset-keys: there were no local keys to delete",
    );
  }
  const hashKeyChanged = keys.status === "changed";
  const warning = hashKeyChanged
    ? hashKeyWarning({ recorded: keys.recorded, recordedAt: keys.recordedAt, current: keys.current, generatedNow: hashKeyGenerated })
    : null;
  if (warning)
    warn(
      red(
        `SECRET_HASH_KEY changed since the local keys were made (fingerprint ${keys.recorded} → ${keys.current}): they answer 401; details below`,
      ),
    );
  else if (keys.status === "unrecorded")
    step(
      `recorded the fingerprint of SECRET_HASH_KEY (${keys.current}) in .wrangler/hash-key-fingerprint.json: the local keys are taken as made with it`,
    );
  return { hashKeyChanged, warning };
}

/**
 * The hash key warning (scripts/lib/hash-key.mjs hashKeyWarning) framed in red, on stderr.
 * @param {string[]} lines plain text
 */
export function printHashKeyWarning(lines) {
  const rule = red("!".repeat(78));
  console.warn(["", rule, ...lines.map((line, i) => `${red("!")} ${i === 0 ? bold(red(line)) : line}`), rule, ""].join("\n"));
}
