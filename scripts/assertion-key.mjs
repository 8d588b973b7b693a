// Ed25519 keys for the signed identity assertion (docs/assertion.md): make one, show its public half,
// or print the `wrangler secret bulk` input of a rotation step. Node ≥ 20, node: builtins only.
//
//   node scripts/assertion-key.mjs new [--kid as-2026-07]     private JWK (one line) on stdout
//   node scripts/assertion-key.mjs public < key.jwk            its public JWK (no "d")
//   node scripts/assertion-key.mjs bulk --signing k2.jwk [--extra k1.jwk]
//        {"ASSERTION_SIGNING_KEY": …, "ASSERTION_EXTRA_PUBLIC_KEY": … | null} for
//        `npx wrangler secret bulk` (stdin); --extra may be a private or public JWK: only its public
//        half is used; without it the extra key is deleted (null).
//
// Run it with `node`, not `npm run` (npm prints a banner on stdout). Everything a command prints that
// holds a private key goes to stdout only: pipe it into wrangler or a secret store, never into git.

import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

/** base64url of 32 bytes, and the kid alphabet: the rules of src/assertion/keys.ts. */
const KEY_32_BYTES_PATTERN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
const KID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * A new Ed25519 private JWK, as ASSERTION_SIGNING_KEY expects.
 * @param {string} [kid] default: `as-<YYYY-MM-DD>-<6 random hex>`
 * @returns {{ kty: "OKP", crv: "Ed25519", kid: string, alg: "EdDSA", x: string, d: string }}
 */
export function newSigningKey(kid = `as-${new Date().toISOString().slice(0, 10)}-${randomBytes(3).toString("hex")}`) {
  if (!KID_PATTERN.test(kid)) throw new Error("kid must be 1..64 of A-Z a-z 0-9 . _ : -");
  const { privateKey } = generateKeyPairSync("ed25519");
  const { x, d } = privateKey.export({ format: "jwk" });
  return { kty: "OKP", crv: "Ed25519", kid, alg: "EdDSA", x, d };
}

/**
 * Checks a JWK (object) against src/assertion/keys.ts, and that x is the public key of d when d is there.
 * @param {unknown} jwk
 * @param {{ private: boolean }} expect  whether "d" must be present (true) or absent (false)
 * @returns {string | null} what is wrong, or null
 */
export function signingKeyProblem(jwk, expect) {
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) return "not a JSON object";
  const k = /** @type {Record<string, unknown>} */ (jwk);
  if (k.kty !== "OKP" || k.crv !== "Ed25519") return 'not an Ed25519 key (kty "OKP", crv "Ed25519")';
  if (k.alg !== undefined && k.alg !== "EdDSA") return 'alg must be "EdDSA" or absent';
  if (typeof k.kid !== "string" || !KID_PATTERN.test(k.kid)) return "kid missing or not 1..64 of A-Z a-z 0-9 . _ : -";
  if (typeof k.x !== "string" || !KEY_32_BYTES_PATTERN.test(k.x)) return "x is not base64url of 32 bytes";
  if (!expect.private) return k.d === undefined ? null : 'a public key must not have "d"';
  if (typeof k.d !== "string" || !KEY_32_BYTES_PATTERN.test(k.d)) return "d is not base64url of 32 bytes";
  try {
    const derived = createPublicKey(createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", x: k.x, d: k.d }, format: "jwk" }));
    return derived.export({ format: "jwk" }).x === k.x ? null : "x is not the public key of d";
  } catch {
    return "not a usable Ed25519 private key";
  }
}

/** @returns true when `text` is usable as ASSERTION_SIGNING_KEY */
export function isUsableSigningKey(text) {
  try {
    return signingKeyProblem(JSON.parse(text), { private: true }) === null;
  } catch {
    return false;
  }
}

/** The public JWK of a private or public one: only kty, crv, x, kid, alg, use. */
export function publicJwkOf(jwk) {
  return { kty: "OKP", crv: "Ed25519", x: jwk.x, kid: jwk.kid, alg: "EdDSA", use: "sig" };
}

function readJwk(path, what) {
  let jwk;
  try {
    jwk = JSON.parse(readFileSync(path === "-" ? 0 : path, "utf8"));
  } catch {
    throw new Error(`${what}: cannot read a JSON JWK from ${path === "-" ? "stdin" : path}`);
  }
  const isPrivate = typeof jwk === "object" && jwk !== null && "d" in jwk;
  const problem = signingKeyProblem(jwk, { private: isPrivate });
  if (problem) throw new Error(`${what}: ${problem}`);
  return { jwk, isPrivate };
}

function main(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { kid: { type: "string" }, signing: { type: "string" }, extra: { type: "string" } },
    allowPositionals: true,
  });
  const command = positionals[0];
  if (command === "new") {
    console.log(JSON.stringify(newSigningKey(values.kid)));
  } else if (command === "public") {
    console.log(JSON.stringify(publicJwkOf(readJwk(positionals[1] ?? "-", "key").jwk)));
  } else if (command === "bulk") {
    if (!values.signing) throw new Error("bulk needs --signing <private JWK file>");
    const signing = readJwk(values.signing, "--signing");
    if (!signing.isPrivate) throw new Error('--signing: a private JWK (with "d") is needed');
    const extra = values.extra ? publicJwkOf(readJwk(values.extra, "--extra").jwk) : null;
    if (extra && extra.kid === signing.jwk.kid) throw new Error("--extra must have another kid than --signing");
    console.log(
      JSON.stringify({
        ASSERTION_SIGNING_KEY: JSON.stringify(signing.jwk),
        ASSERTION_EXTRA_PUBLIC_KEY: extra ? JSON.stringify(extra) : null,
      }),
    );
  } else {
    console.error("usage: node scripts/assertion-key.mjs new [--kid K] | public [file] | bulk --signing file [--extra file]");
    return 2;
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error(`assertion-key: ${err.message}`);
    process.exitCode = 1;
  }
}
