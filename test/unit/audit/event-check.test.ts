/**
 * The consumer's cheap check of a request event (isCompleteAuditEvent) against the schema it stands in
 * for (AuditEventSchema): whatever the check accepts, the schema accepts unchanged. The other way round
 * is allowed to differ (the consumer then asks the schema), but the check must accept every complete
 * event this version's producer writes, or the consumer would gain nothing.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildAdminAuditEvent } from "../../../src/audit/admin-event";
import { type AuditEvent, AuditEventSchema, type AuditInput, buildAuditEvent, isCompleteAuditEvent } from "../../../src/audit/event";
import { sampleAuditInput } from "../../helpers/audit";

function input(overrides: Partial<AuditInput> = {}): AuditInput {
  return sampleAuditInput({ forgedHeaders: ["x-spot-account-id"], ...overrides });
}

const base = buildAuditEvent(input());

/** The check's verdict must imply the schema's, with nothing changed by the schema. */
function agrees(value: unknown): boolean {
  if (!isCompleteAuditEvent(value)) return true;
  const parsed = AuditEventSchema.safeParse(value);
  return parsed.success && JSON.stringify(parsed.data) === JSON.stringify(value) && sameKeys(parsed.data, value);
}

function sameKeys(a: object, b: object): boolean {
  return JSON.stringify(Object.keys(a).sort()) === JSON.stringify(Object.keys(b).sort());
}

/** Values the schema refuses for a field (or, for a few, accepts at the edge): every one is tried on every field. */
const PROBES: unknown[] = [
  undefined,
  null,
  "",
  "x",
  "x".repeat(8),
  "x".repeat(9),
  "x".repeat(16),
  "x".repeat(17),
  "x".repeat(64),
  "x".repeat(65),
  "x".repeat(128),
  "x".repeat(129),
  "x".repeat(2048),
  "x".repeat(2049),
  0,
  -0,
  1,
  -1,
  1.5,
  999,
  1000,
  65_535,
  65_536,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 1,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  true,
  false,
  "true",
  "1",
  [],
  ["x"],
  ["x".repeat(65)],
  Array.from({ length: 11 }, () => "x"),
  [{ raw: "a", ip: null, port: null, valid: true }],
  [{ raw: "a", ip: null, port: null, valid: true, extra: 1 }],
  [{ raw: "a", ip: null, port: 70_000, valid: true }],
  [{ raw: "a", ip: null, port: null }],
  [null],
  Array.from({ length: 21 }, () => ({ raw: "a", ip: null, port: null, valid: true })),
  {},
  "allowed",
  "denied",
  "error",
  "blocked",
  "live",
  "test",
  "Live",
  "x-forwarded-for",
  "cf-connecting-ip",
  "none",
  "2025-01-02T03:04:05.678Z",
  "2025-01-02T03:04:05Z",
  "2025-01-02T03:04:05.678+00:00",
  "2025-01-02 03:04:05.678Z",
  "2024-02-29T00:00:00.000Z",
  "2025-02-29T00:00:00.000Z",
  "2025-04-31T00:00:00.000Z",
  "2025-13-01T00:00:00.000Z",
  "2025-01-01T24:00:00.000Z",
  "2025-01-01T23:60:00.000Z",
  "2025-01-01T23:59:60.000Z",
  "0000-01-01T00:00:00.000Z",
  "9999-12-31T23:59:59.999Z",
  "+002025-01-02T03:04:05.678Z",
  "2025-01-02T03:04:05.6789Z",
  1,
];

describe("isCompleteAuditEvent", () => {
  it("accepts every complete event the builder makes, so the common case never needs the schema", () => {
    expect(isCompleteAuditEvent(base)).toBe(true);
    expect(isCompleteAuditEvent(JSON.parse(JSON.stringify(base)))).toBe(true);
    expect(isCompleteAuditEvent({ ...base, folded_count: 7 })).toBe(true);
    const denied = buildAuditEvent(
      input({ outcome: "denied", accountVerified: false, keyId: null, mode: null, forgedHeaders: [], userAgent: null, rayId: null }),
    );
    expect(isCompleteAuditEvent(denied)).toBe(true);
    const huge = "€".repeat(200_000);
    const capped = buildAuditEvent(
      input({
        userAgent: huge,
        path: huge,
        host: huge,
        origin: huge,
        forgedHeaders: Array.from({ length: 30 }, () => huge),
        forwarded: {
          raw: huge,
          rawLength: huge.length,
          entries: Array.from({ length: 40 }, () => ({ raw: huge, ip: huge, port: 1, valid: true })),
          count: 40,
        },
      }),
    );
    expect(isCompleteAuditEvent(capped)).toBe(true);
    expect(agrees(capped)).toBe(true);
  });

  it("refuses what the schema would change or refuses: a missing field, an unknown key, an admin event, a non-object", () => {
    for (const key of Object.keys(AuditEventSchema.shape)) {
      const { [key]: _dropped, ...without } = base as unknown as Record<string, unknown>;
      // Only folded_count may be absent; forged_headers(_count) may be too for the schema, which then fills them in.
      expect(isCompleteAuditEvent(without), key).toBe(key === "folded_count");
    }
    expect(isCompleteAuditEvent({ ...base, secret: "sk_live_x" })).toBe(false);
    expect(isCompleteAuditEvent({ ...base, kind: "admin" })).toBe(false);
    expect(isCompleteAuditEvent({ ...base, folded_count: undefined })).toBe(false);
    const admin = buildAdminAuditEvent({
      eventId: "adm",
      timeMs: 0,
      requestId: "r",
      rayId: null,
      action: "key.list",
      outcome: "allowed",
      reason: "ok",
      status: 200,
      actorSub: null,
      actorEmail: null,
      accountId: null,
      keyId: null,
      newKeyId: null,
      method: "GET",
      path: "/",
      connectingIp: null,
      userAgent: null,
      durationMs: 0,
    });
    expect(isCompleteAuditEvent(admin)).toBe(false);
    for (const other of [null, undefined, "event", 1, [base], new Date(), Object.assign(Object.create({ inherited: 1 }), base)]) {
      expect(isCompleteAuditEvent(other)).toBe(false);
    }
  });

  it("never accepts a value the schema refuses, field by field", () => {
    let accepted = 0;
    for (const key of Object.keys(AuditEventSchema.shape)) {
      for (const probe of PROBES) {
        const mutated = { ...base, [key]: probe };
        expect(agrees(mutated), `${key} = ${JSON.stringify(probe)?.slice(0, 40)}`).toBe(true);
        if (isCompleteAuditEvent(mutated)) accepted++;
      }
    }
    for (const field of ["raw", "ip", "port", "valid", "extra"]) {
      for (const probe of PROBES) {
        const entry = { ...(base.forwarded_chain[0] as object), [field]: probe };
        expect(agrees({ ...base, forwarded_chain: [entry] }), `forwarded_chain.0.${field}`).toBe(true);
      }
    }
    // The probes include good values too: the check must not simply refuse everything.
    expect(accepted).toBeGreaterThan(60);
  });

  it("agrees with the schema on generated events", () => {
    const anyValue = fc.oneof(fc.constantFrom(...PROBES), fc.string({ maxLength: 70 }), fc.integer(), fc.double(), fc.boolean());
    const keys = Object.keys(AuditEventSchema.shape);
    const mutation = fc.array(fc.tuple(fc.constantFrom(...keys), anyValue), { maxLength: 3 });
    fc.assert(
      fc.property(mutation, (changes) => {
        const mutated: Record<string, unknown> = { ...base };
        for (const [key, value] of changes) mutated[key] = value;
        return agrees(mutated);
      }),
      { numRuns: 3000 },
    );
  });

  it("reads the time like the schema: real instants with milliseconds and Z only", () => {
    const verdicts = (time: string) => [isCompleteAuditEvent({ ...base, time }), AuditEventSchema.safeParse({ ...base, time }).success];
    expect(verdicts("2024-02-29T00:00:00.000Z")).toEqual([true, true]);
    expect(verdicts("0000-01-01T00:00:00.000Z")).toEqual([true, true]);
    expect(verdicts("9999-12-31T23:59:59.999Z")).toEqual([true, true]);
    for (const bad of ["2025-02-29T00:00:00.000Z", "2025-01-01T24:00:00.000Z", "2025-01-02T03:04:05Z", "2025-01-02T03:04:05.678+00:00"]) {
      expect(verdicts(bad)).toEqual([false, false]);
    }
  });

  it("leaves the event as it is: the consumer stores the object it checked", () => {
    const copy: AuditEvent = JSON.parse(JSON.stringify(base));
    isCompleteAuditEvent(copy);
    expect(copy).toEqual(base);
  });
});
