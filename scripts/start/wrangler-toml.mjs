// The few plain values of wrangler.toml npm start needs (worker name, [dev] ip and port, three [vars]);
// not a TOML parser.

import { readText, WRANGLER_TOML } from "./files.mjs";
import { StartError } from "./output.mjs";

export function readTomlValues() {
  const text = readText(WRANGLER_TOML);
  if (text === null) throw new StartError("wrangler.toml not found next to package.json");
  const sections = new Map();
  let current = "";
  for (const line of text.split("\n")) {
    const header = /^\s*\[\[?([^\]]+)\]\]?\s*(#.*)?$/.exec(line);
    if (header) {
      current = header[1].trim();
      continue;
    }
    const kv = /^\s*([A-Za-z0-9_]+)\s*=\s*("([^"]*)"|(\d+))\s*(#.*)?$/.exec(line);
    if (!kv) continue;
    if (!sections.has(current)) sections.set(current, new Map());
    sections.get(current).set(kv[1], kv[3] ?? kv[4]);
  }
  const dev = sections.get("dev") ?? new Map();
  return {
    workerName: sections.get("")?.get("name"),
    devIp: dev.get("ip") ?? "127.0.0.1",
    devPort: Number(dev.get("port") ?? 8787),
    hashKeyId: sections.get("vars")?.get("SECRET_HASH_KEY_ID"),
    issuer: sections.get("vars")?.get("ASSERTION_ISSUER"),
    enforcement: sections.get("vars")?.get("ENFORCEMENT"),
  };
}
