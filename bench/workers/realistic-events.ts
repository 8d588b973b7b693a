/**
 * Realistic request events for the capacity measurement (`npm run capacity`, bench/capacity.mjs):
 * the inputs a production mix of API calls would give `buildAuditEvent` (src/audit/event.ts), from a
 * seeded generator, so every run stores the same shapes and sizes.
 *
 * The mix (assumptions, stated so the figures can be judged):
 * - 500 accounts with Zipf-like popularity (`acct_` + 10–16 characters), 1–3 keys each
 *   (`key_` + 16, as the admin API makes them), 97 % live; each account calls from 1–4 server
 *   addresses (80 % IPv4, 20 % IPv6) and a quarter of its calls carry `X-Forwarded-For` (1–2 entries);
 * - 94 % allowed (200, 201 for creations, 404 for some reads), 5 % denied (401, 429, 403, 400),
 *   1 % error (502, 504);
 * - REST paths with object ids (`/v1/charges/ch_…`, 24 characters) and `POST /graphql`; user agents of
 *   SDKs, HTTP libraries and now and then a browser; 70 % send `X-Spot-Api-Version`;
 * - event and request ids are UUIDs (36 characters): random (v4, as `crypto.randomUUID()` makes them
 *   today) or time-ordered (v7), chosen by the caller; times advance at a given rate, in order.
 * Pure: no I/O, no clock.
 */
import type { AuditInput } from "../../src/audit/event";

/** A small, fast, seedable generator (mulberry32): the same seed gives the same sequence. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX = "0123456789abcdef";

function chars(rand: () => number, alphabet: string, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
  return s;
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)] as T;
}

/** Picks by weight: `[[value, weight], …]`. */
function weighted<T>(rand: () => number, items: readonly (readonly [T, number])[]): T {
  const total = items.reduce((sum, [, w]) => sum + w, 0);
  let r = rand() * total;
  for (const [value, w] of items) {
    r -= w;
    if (r < 0) return value;
  }
  return (items[items.length - 1] as readonly [T, number])[0];
}

/** A UUID in its 36-character text form: version 4 (random) or 7 (48-bit millisecond time first). */
export function uuid(rand: () => number, version: 4 | 7, timeMs: number): string {
  const hex = chars(rand, HEX, 32).split("");
  if (version === 7) {
    const t = Math.floor(timeMs).toString(16).padStart(12, "0").slice(-12);
    for (let i = 0; i < 12; i++) hex[i] = t[i] as string;
  }
  hex[12] = String(version);
  hex[16] = HEX[8 + Math.floor(rand() * 4)] as string;
  const h = hex.join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function ipv4(rand: () => number): string {
  return `${1 + Math.floor(rand() * 222)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}`;
}

function ipv6(rand: () => number): string {
  const group = () => Math.floor(rand() * 65536).toString(16);
  return `2001:db8:${group()}:${group()}::${group()}:${group()}`;
}

const USER_AGENTS: readonly (readonly [string, number])[] = [
  ["spot-thought-node/4.2.1 (node 20.11.1; linux x64)", 30],
  ["spot-thought-python/3.8.0 python-requests/2.31.0", 20],
  ["spot-thought-go/1.14.2 Go-http-client/2.0", 10],
  ["Go-http-client/2.0", 8],
  ["okhttp/4.12.0", 6],
  ["axios/1.7.2", 8],
  ["curl/8.5.0", 5],
  ["PostmanRuntime/7.39.0", 3],
  ["Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", 5],
  ["Ruby", 2],
  ["Java/17.0.10", 3],
];

const COLOS: readonly (readonly [string, string])[] = [
  ["FRA", "DE"],
  ["AMS", "NL"],
  ["LHR", "GB"],
  ["CDG", "FR"],
  ["IAD", "US"],
  ["ORD", "US"],
  ["SJC", "US"],
  ["NRT", "JP"],
  ["SIN", "SG"],
  ["GRU", "BR"],
];

const VERSIONS = ["2024-06-01", "2024-11-15"] as const;

interface Account {
  id: string;
  keys: { id: string; mode: "live" | "test" }[];
  ips: string[];
  colo: readonly [string, string];
  userAgent: string;
}

/** The fixed population of callers, from the seed. */
function accounts(rand: () => number, count: number): Account[] {
  const out: Account[] = [];
  for (let i = 0; i < count; i++) {
    const keys = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => ({
      id: `key_${chars(rand, ALNUM, 16)}`,
      mode: rand() < 0.97 ? ("live" as const) : ("test" as const),
    }));
    const ips = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => (rand() < 0.8 ? ipv4(rand) : ipv6(rand)));
    out.push({
      id: `acct_${chars(rand, ALNUM, 10 + Math.floor(rand() * 7))}`,
      keys,
      ips,
      colo: pick(rand, COLOS),
      userAgent: weighted(rand, USER_AGENTS),
    });
  }
  return out;
}

/** A path and method of a REST or GraphQL call, with the status an allowed call gets. */
function call(rand: () => number): { method: string; path: string; status: number } {
  const id = (prefix: string) => `${prefix}_${chars(rand, ALNUM, 24)}`;
  return weighted<() => { method: string; path: string; status: number }>(rand, [
    [() => ({ method: "GET", path: "/v1/charges", status: 200 }), 15],
    [() => ({ method: "GET", path: `/v1/charges/${id("ch")}`, status: rand() < 0.95 ? 200 : 404 }), 20],
    [() => ({ method: "POST", path: "/v1/charges", status: rand() < 0.9 ? 201 : 402 }), 10],
    [() => ({ method: "GET", path: `/v1/customers/${id("cus")}`, status: rand() < 0.95 ? 200 : 404 }), 12],
    [() => ({ method: "POST", path: `/v1/payment_intents/${id("pi")}/confirm`, status: 200 }), 8],
    [() => ({ method: "GET", path: "/v1/refunds", status: 200 }), 5],
    [() => ({ method: "DELETE", path: `/v1/webhooks/${id("we")}`, status: 204 }), 2],
    [() => ({ method: "POST", path: "/graphql", status: 200 }), 15],
    [() => ({ method: "GET", path: `/v1/balance_transactions/${id("txn")}`, status: 200 }), 8],
    [() => ({ method: "GET", path: "/v1/events", status: 200 }), 5],
  ])();
}

export interface RealisticEventOptions {
  /** Seed of the whole sequence. */
  seed: number;
  /** Epoch milliseconds of the first event. */
  startMs: number;
  /** Events per second the times advance by (the i-th event is at startMs + i × 1000 / rate, ± jitter). */
  ratePerSecond: number;
  /** UUID version of event and request ids: 4 (random, today's `crypto.randomUUID()`) or 7 (time-ordered). */
  idVersion: 4 | 7;
}

/**
 * Inputs of events `from` … `from + count − 1` of the sequence the options describe. The same options
 * and index always give the same input, whatever the slices asked for.
 */
export function realisticInputs(options: RealisticEventOptions, from: number, count: number): AuditInput[] {
  const population = accounts(prng(options.seed), 500);
  // Zipf-like popularity: account k is called in proportion to 1 / (k + 1).
  const harmonic = population.reduce((sum, _a, k) => sum + 1 / (k + 1), 0);
  const out: AuditInput[] = [];
  for (let i = from; i < from + count; i++) {
    const rand = prng((options.seed * 1_000_003 + i) >>> 0);
    let r = rand() * harmonic;
    let k = 0;
    while (k < population.length - 1 && r >= 1 / (k + 1)) {
      r -= 1 / (k + 1);
      k++;
    }
    const account = population[k] as Account;
    const key = pick(rand, account.keys);
    const timeMs = Math.floor(options.startMs + (i * 1000) / options.ratePerSecond + rand() * 20);
    const connectingIp = pick(rand, account.ips);
    const forwardedRaw = rand() < 0.25 ? (rand() < 0.7 ? ipv4(rand) : `${ipv4(rand)}, 10.${Math.floor(rand() * 256)}.0.12`) : null;
    const forwardedEntries = (forwardedRaw?.split(", ") ?? []).map((raw) => ({ raw, ip: raw, port: null, valid: true }));
    const { method, path, status: allowedStatus } = call(rand);
    const outcome = weighted<"allowed" | "denied" | "error">(rand, [
      ["allowed", 94],
      ["denied", 5],
      ["error", 1],
    ]);
    const denial = weighted(rand, [
      [{ status: 401, reason: "invalid_credentials", verified: false }, 60],
      [{ status: 429, reason: "rate_limited", verified: true }, 25],
      [{ status: 403, reason: "ip_not_allowed", verified: true }, 10],
      [{ status: 400, reason: "malformed_credentials", verified: false }, 5],
    ] as const);
    const failure = pick(rand, [
      { status: 502, reason: "upstream_unavailable" },
      { status: 504, reason: "upstream_timeout" },
    ] as const);
    const requested = rand() < 0.7 ? pick(rand, VERSIONS) : null;
    const resolved = requested ?? "2024-11-15";
    const verified = outcome !== "denied" || denial.verified;
    const forwarded = outcome !== "denied";
    const [colo, country] = account.colo;
    out.push({
      eventId: uuid(rand, options.idVersion, timeMs),
      timeMs,
      requestId: uuid(rand, options.idVersion, timeMs),
      rayId: `${chars(rand, HEX, 16)}-${colo}`,
      outcome,
      reason: outcome === "allowed" ? "ok" : outcome === "denied" ? denial.reason : failure.reason,
      accountId: account.id,
      accountVerified: verified,
      keyId: verified ? key.id : null,
      mode: verified ? key.mode : null,
      requestedVersion: requested,
      resolvedVersion: forwarded ? resolved : null,
      origin: forwarded ? `https://v${resolved}.origin.spot-thought.com` : null,
      method,
      host: "api.spot-thought.com",
      path,
      status: outcome === "allowed" ? allowedStatus : outcome === "denied" ? denial.status : failure.status,
      durationMs: forwarded ? Math.floor(15 + rand() * rand() * 600) : Math.floor(rand() * 3),
      connectingIp,
      sourceIp: forwardedEntries[0]?.ip ?? connectingIp,
      sourceIpFrom: forwardedRaw === null ? "cf-connecting-ip" : "x-forwarded-for",
      forwarded: { raw: forwardedRaw, rawLength: forwardedRaw?.length ?? 0, entries: forwardedEntries, count: forwardedEntries.length },
      userAgent: rand() < 0.9 ? account.userAgent : weighted(rand, USER_AGENTS),
      country,
      colo,
    });
  }
  return out;
}
