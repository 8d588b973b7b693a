// CPU profiles of a Worker under load, through workerd's inspector (Chrome DevTools protocol), for
// `npm run bench -- --profile`: where the worker CPU of one arm goes, grouped by the source module
// of each sampled function (esbuild writes a `// path/of/module` comment before each module's code
// in the unminified bundle), in µs per request.

import { readFileSync } from "node:fs";

/**
 * Connects to one Worker's inspector target listed on `http://127.0.0.1:<port>/json`.
 * @param {string[]} ids target ids to look for, in order (Miniflare: `core:user:<name>`; workerd serve: the service name)
 */
export async function connectInspector(port, ids) {
  const deadline = Date.now() + 10_000;
  let list = [];
  while (list.length === 0) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/json`, { signal: AbortSignal.timeout(2000) });
      list = await res.json();
    } catch {
      // not up yet
    }
    if (list.length === 0) {
      if (Date.now() > deadline) throw new Error(`no inspector target on 127.0.0.1:${port}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const target = ids.map((id) => list.find((t) => t.id === id)).find(Boolean);
  if (!target) throw new Error(`no inspector target ${ids.join(" or ")} among ${list.map((t) => t.id).join(", ")}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", () => reject(new Error(`cannot connect to ${target.webSocketDebuggerUrl}`)), { once: true });
  });
  let nextId = 1;
  const pending = new Map();
  ws.addEventListener("message", (event) => {
    const msg = JSON.parse(String(event.data));
    if (msg.id !== undefined && pending.has(msg.id)) {
      const { resolve, reject } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(`${msg.error.message} (${msg.error.code})`));
      else resolve(msg.result);
    }
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { title: target.title, send, close: () => ws.close() };
}

/** Line (0-based) → module path markers of an esbuild bundle. */
function moduleMarkers(bundlePath) {
  const markers = [];
  const lines = readFileSync(bundlePath, "utf8").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^\/\/ ((?:src|bench|node_modules)\/\S+|\.\.\/\S+)$/.exec(lines[i]);
    if (m) markers.push([i, m[1]]);
  }
  return markers;
}

function moduleGroup(path) {
  if (path.startsWith("src/")) return path;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return `${pkg[1]} (npm)`;
  return path;
}

/**
 * Self time per source module.
 * @param profile   a DevTools `Profiler.Profile`
 * @param bundlePath the bundle the profiled Worker runs (to map lines to modules)
 * @param requests  requests served while profiling
 * @returns {{ group: string, self_ms: number, us_per_req: number, share: number }[]} largest first
 */
export function summarizeProfile(profile, bundlePath, requests) {
  const markers = moduleMarkers(bundlePath);
  const bundleName = bundlePath.split("/").pop();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  }
  const groups = new Map();
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    const frame = node?.callFrame ?? {};
    let group;
    if (frame.functionName === "(idle)") continue;
    if (frame.functionName?.startsWith("("))
      group = frame.functionName; // (program), (garbage collector)
    else if (frame.url?.endsWith(bundleName)) {
      let path = "(bundle)";
      for (const [line, p] of markers) {
        if (line > frame.lineNumber) break;
        path = p;
      }
      group = moduleGroup(path);
    } else group = frame.url ? `runtime: ${frame.url.split("/").pop()}` : `runtime (native): ${frame.functionName || "anonymous"}`;
    groups.set(group, (groups.get(group) ?? 0) + us);
    total += us;
  }
  return [...groups.entries()]
    .map(([group, us]) => ({
      group,
      self_ms: Math.round(us / 100) / 10,
      us_per_req: Math.round((us / Math.max(1, requests)) * 10) / 10,
      share: Math.round((us / Math.max(1, total)) * 1000) / 10,
    }))
    .sort((a, b) => b.self_ms - a.self_ms);
}
