import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { exportJWK, generateKeyPair } from "jose";
import { defineConfig } from "vitest/config";
import { unstable_readConfig } from "wrangler";

// Every test file runs inside workerd with the bindings of wrangler.toml (KV, Queue, D1), each
// test file with its own isolated storage. Secrets and the version table are fixed here so tests
// never depend on a developer's .dev.vars.

// Ed25519 key pairs made for the tests only (never used anywhere else): the assertion signing key, and a
// second one for the rotation tests (TEST_ASSERTION_KEY_2, a test-only binding).
const TEST_ASSERTION_KEY_1 = {
  kty: "OKP",
  crv: "Ed25519",
  kid: "test-k1",
  alg: "EdDSA",
  x: "R5s4hWamnuP2zNAWFvap-lIl1aOfgzjpUSSw-ARdhRk",
  d: "zC7Z1z_C8oxRci551B0RuYMAR8uHapGZ7sfAfiNkfNM",
};
const TEST_ASSERTION_KEY_2 = {
  kty: "OKP",
  crv: "Ed25519",
  kid: "test-k2",
  alg: "EdDSA",
  x: "2Sk9Il7MtVECLF5o5k5QmFo_GkOlTJ0QSInsNFWrlJo",
  d: "_1I6R0G_KmrridtXqzR7eICwJfnqDCvsNLt-bKMDzlY",
};
export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  // The production rate-limit settings, for the test that keeps wrangler.toml and the code in step
  // (test/worker/abuse.test.ts): the suite itself runs with the overrides below.
  const production = unstable_readConfig({ config: "./wrangler.toml" });
  const wranglerLimits = { ratelimits: production.ratelimits, vars: production.vars };
  // A fresh admin signing key per run: the Worker trusts its public half (inline JWKS, as locally),
  // tests sign admin tokens with the private half (test/helpers/admin.ts). Nothing is committed.
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const adminPublicJwk = { ...(await exportJWK(publicKey)), kid: "test-admin", alg: "ES256", use: "sig" };
  const adminPrivateJwk = { ...(await exportJWK(privateKey)), kid: "test-admin", alg: "ES256" };
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          // These replace the [[ratelimits]] of wrangler.toml in tests (copied, but for the failure
          // limit). Its failure limit would let the suite's many refused requests from its fixture
          // address throttle each other: the suite runs with a large failure limit and tests the
          // throttle with the small test-only limiter below (passed in as AUTH_FAILURE_LIMITER /
          // KEY_RATE_LIMITER). Each namespace_id is its own set of counters.
          ratelimits: {
            ...Object.fromEntries(production.ratelimits.map(({ name, namespace_id, simple }) => [name, { namespace_id, simple }])),
            AUTH_FAILURE_LIMITER: { namespace_id: "7001", simple: { limit: 100000, period: 60 } },
            TEST_FAILURE_LIMITER_5: { namespace_id: "9005", simple: { limit: 5, period: 60 } },
          },
          bindings: {
            TEST_MIGRATIONS: migrations,
            TEST_WRANGLER_LIMITS: JSON.stringify(wranglerLimits),
            SECRET_HASH_KEY: "dGVzdC1vbmx5LWhtYWMta2V5LWZvci1zZWNyZXQtaGFzaGVzLTAxMjM0NTY3ODk=",
            SECRET_HASH_KEY_ID: "hk-test",
            // Off as in production, whatever a developer's .dev.vars (written by npm start) says; tests turn it on per call.
            CONSOLE_LOCAL_SIGN_IN: "false",
            ASSERTION_ISSUER: "https://api.spot-thought.com",
            ASSERTION_SIGNING_KEY: JSON.stringify(TEST_ASSERTION_KEY_1),
            TEST_ASSERTION_KEY_2: JSON.stringify(TEST_ASSERTION_KEY_2),
            AUTH_FAILURE_LIMIT: "100000",
            SANDBOX_ORIGIN: "https://sandbox.origin.test",
            // Short batch delay keeps each test's waitUntil brief; coalescing tests set their own.
            AUDIT_BATCH_DELAY_MS: "5",
            ADMIN_JWKS_URL: "",
            ADMIN_JWKS: JSON.stringify({ keys: [adminPublicJwk] }),
            ADMIN_JWT_ISSUER: "https://issuer.test",
            ADMIN_JWT_AUDIENCE: "spot-admin-test",
            ADMIN_JWT_ALGORITHMS: "ES256",
            ADMIN_PERMISSIONS_CLAIM: "permissions",
            ADMIN_GROUPS_CLAIM: "custom.groups",
            ADMIN_WRITERS_EMAILS: "",
            ADMIN_WRITERS_GROUPS: "",
            ADMIN_WRITERS_SERVICE_TOKENS: "",
            TEST_ADMIN_PRIVATE_JWK: JSON.stringify(adminPrivateJwk),
            API_VERSIONS: JSON.stringify([
              {
                version: "2023-08-01",
                status: "deprecated",
                origin: "https://v2023-08-01.origin.test",
                deprecated_on: "2024-06-01",
                sunset: "2099-12-31",
              },
              {
                version: "2023-01-01",
                status: "deprecated",
                origin: "https://v2023-01-01.origin.test",
                deprecated_on: "2023-08-01",
                sunset: "2024-01-01",
              },
              { version: "2024-06-01", status: "stable", origin: "https://v2024-06-01.origin.test" },
              { version: "2024-11-15", status: "stable", origin: "https://v2024-11-15.origin.test" },
              { version: "2025-03-01", status: "preview", origin: "https://preview.origin.test" },
            ]),
          },
        },
      }),
    ],
    test: {
      setupFiles: ["./test/setup/apply-migrations.ts"],
      // CI machines have 2 cores shared by the workerd test workers: a test that takes 1–3 s here
      // (property runs, waits on a publish deadline) can take longer there. Tests assert behaviour,
      // never time, so the timeout only guards against a hang; tests that wait longer set their own.
      testTimeout: 20_000,
    },
  };
});
