// Step 3, the demo origins: one local upstream per API version and the sandbox (scripts/demo-origin.mjs,
// in this process) on the ports that follow the Worker's (args.mjs localPorts), and the local version
// table (API_VERSIONS in .dev.vars) that points the Worker at them.

import { DEMO_HOST, startDemoOrigins } from "../demo-origin.mjs";
import { dim, StartError, step } from "./output.mjs";
import { assertPortFree } from "./processes.mjs";

/** Local version table: the shape of wrangler.toml's API_VERSIONS, pointing at the demo origins. */
const VERSION_STATUS = [
  { version: "2024-06-01", status: "stable" },
  { version: "2024-11-15", status: "stable" },
  { version: "2025-03-01", status: "preview" },
  { version: "2023-08-01", status: "deprecated", deprecated_on: "2024-06-01", sunset: "2099-12-31" },
];

/**
 * API_VERSIONS for .dev.vars: every version's origin on this machine.
 * @param {ReturnType<import("./args.mjs").localPorts>} ports
 */
export function localApiVersions(ports) {
  return VERSION_STATUS.map((entry) => {
    const demo = ports.origins.find((o) => o.version === entry.version);
    if (!demo) throw new Error(`no demo origin for version ${entry.version}`);
    const { version, status, ...dates } = entry;
    return { version, status, origin: `http://${DEMO_HOST}:${demo.port}`, ...dates };
  });
}

/** SANDBOX_ORIGIN for .dev.vars: where test-mode keys go for every version. */
export const sandboxOrigin = (ports) => `http://${DEMO_HOST}:${ports.sandbox}`;

/** Fails before anything slow when a demo origin's port is taken. */
export async function assertOriginPortsFree(ports) {
  for (const { version, port } of ports.origins) await assertPortFree(DEMO_HOST, port, `the ${version} demo origin`);
}

/**
 * Starts every demo origin, each verifying X-Spot-Assertion against the JWKS of the Worker at `url`.
 * @returns {Promise<{ close: () => Promise<void> }>}
 */
export async function startLocalDemoOrigins({ ports, url, issuer }) {
  if (!issuer) throw new StartError("ASSERTION_ISSUER not found in wrangler.toml [vars]");
  const origins = await startDemoOrigins({ origins: ports.origins, log: (line) => console.log(dim(line)), authorizerUrl: url, issuer });
  step(`demo origins listening on ${DEMO_HOST}:${ports.origins.map((o) => o.port).join(", ")}`);
  return origins;
}
